// Plain-text tables for troupectl's table output.
#pragma once

#include <string>
#include <vector>

namespace troupe::cli {

using table_row = std::vector<std::string>;

/// Left-aligned columns, two spaces apart, widths from the widest cell; the
/// first row is the header. Cells are printed as given: escape bytes first.
std::string render_table(const std::vector<table_row>& rows);

} // namespace troupe::cli
