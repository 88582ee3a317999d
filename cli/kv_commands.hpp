// `troupectl kv put|get|del|range|watch|cas` (docs/troupectl-kv.md).
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds the kv command group to `app`; the one the user picks lands in
/// `chosen`, with its request already built and validated.
void add_kv_commands(CLI::App& app, chosen_command& chosen);

} // namespace troupe::cli
