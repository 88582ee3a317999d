#include "actors/node/roles.hpp"

#include "actors/cache/cache_role.hpp"
#include "actors/consensus/consensus_role.hpp"
#include "actors/dashboard/dashboard.hpp"
#include "actors/edge/edge_role.hpp"
#include "actors/probe/probe.hpp"
#include "net/errors.hpp"

#include <algorithm>

namespace troupe {

std::vector<std::string> built_roles() {
  // Each role lands with its issue: analytics and scheduler are still to
  // come. Until then, requesting one is an error.
  return {"consensus", "cache", "edge", "dashboard"};
}

namespace {

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs)
    out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "none yet" : out;
}

bool is_built(const std::string& role) {
  auto built = built_roles();
  return std::find(built.begin(), built.end(), role) != built.end();
}

} // namespace

caf::expected<node_plan> plan_for(const node_config& cfg) {
  for (auto& role : cfg.roles)
    if (role != "all" && !is_built(role))
      return make_error(errc::invalid_argument,
                        "role '" + role + "' is not available in this build of "
                          "troupe-node (roles built: " + join(built_roles())
                          + "); remove it from --role, or use --role all for "
                            "every built role");
  node_plan plan;
  plan.system_children.push_back(probe::child(cfg.node_id));
  // Singletons placed by the control plane (troupectl place): a probe
  // answers Ping with its host, which is what failover tests look for.
  plan.placeable["probe"] = probe::child(cfg.node_id).start;
  // Role supervisors are added here as roles are built.
  if (has_role(cfg, "consensus"))
    plan.role_factories.push_back(consensus::make_role);
  if (has_role(cfg, "edge"))
    plan.role_factories.push_back(edge::make_role);
  if (has_role(cfg, "cache")) {
    // The shards of a cache cluster are placed actors (docs/cache-cluster.md).
    auto cache_state = cache::make_role_state();
    plan.role_factories.push_back(
      [cache_state](role_environment& env) { return cache::make_role(env, cache_state); });
    plan.placeable["cache-primary"] = cache::primary_start(cache_state);
    plan.placeable["cache-replica"] = cache::replica_start(cache_state);
  }
  if (has_role(cfg, "dashboard"))
    plan.role_factories.push_back(dashboard::make_role);
  return plan;
}

} // namespace troupe
