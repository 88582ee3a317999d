// Which roles this build of troupe-node has, and how to start them.
#pragma once

#include "runtime/config.hpp"
#include "runtime/node.hpp"

#include <string>
#include <vector>

namespace troupe {

/// Roles this build implements (a subset of known_roles()).
std::vector<std::string> built_roles();

/// Builds the node plan for `cfg`: the system actors (the probe) and one
/// supervisor per requested role. Fails with one line naming the problem if
/// a requested role is known but not built: a role is never silently skipped.
/// "all" means every built role.
caf::expected<node_plan> plan_for(const node_config& cfg);

} // namespace troupe
