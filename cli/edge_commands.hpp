// `troupectl edge stats|origins|purge` (docs/edge.md): each asks every edge
// node of the cluster (members whose roles include edge or all, status up)
// through the endpoint's gateway, one `edge/<node-id>` after another, and
// prints one row (or one JSON object) per edge.
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

void add_edge_commands(CLI::App& app, chosen_command& chosen);

} // namespace troupe::cli
