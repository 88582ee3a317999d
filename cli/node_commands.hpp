// troupectl's node commands: status, members, actors, send, kill, types.
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds the node commands to `app`; the one the user picks lands in `chosen`.
void add_node_commands(CLI::App& app, chosen_command& chosen);

} // namespace troupe::cli
