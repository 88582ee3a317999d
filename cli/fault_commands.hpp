// troupectl's fault commands (docs/faults.md): kill-actor, crash-node,
// drop, delay, partition, heal, list. Each goes to the endpoint node, which
// forwards the parts to the nodes involved. The nodes must run with
// --enable-fault-injection; otherwise the command fails and says so.
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds `fault ...` to `app`; the one the user picks lands in `chosen`.
void add_fault_commands(CLI::App& app, chosen_command& chosen);

} // namespace troupe::cli
