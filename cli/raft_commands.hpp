// `troupectl raft status|transfer-leader|add-member|promote-member|
// remove-member` (docs/troupectl-kv.md).
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds the raft command group to `app`; the one the user picks lands in
/// `chosen`, with its request already built and validated.
void add_raft_commands(CLI::App& app, chosen_command& chosen);

} // namespace troupe::cli
