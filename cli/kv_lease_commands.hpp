// `troupectl kv lease grant|revoke|keep-alive` and `troupectl kv compact`.
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds `lease` (grant, revoke, keep-alive) and `compact` to the kv group.
void add_kv_lease_commands(CLI::App& kv, chosen_command& chosen);

} // namespace troupe::cli
