// The cache role of troupe-node: the RESP server (server.hpp) over the
// node's cluster (cluster.hpp) on --resp-listen, its metrics on /metrics,
// and a supervisor `sup/<node-id>/cache` with the actor `cache/<node-id>`.
// In a cache cluster the node also hosts the shards the control plane
// places on it: `cache/<shard>/primary` and `cache/<shard>/replica`
// (docs/cache-cluster.md). Without any shard placed it is a standalone
// cache (docs/cache.md).
#pragma once

#include "runtime/member_agent.hpp"
#include "runtime/node.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace troupe::cache {

/// What the role factory and the placeable shard types share; made before
/// the role starts, filled by make_role.
struct role_state;
std::shared_ptr<role_state> make_role_state();

/// Binds the RESP port and starts the I/O threads. Fails (the node refuses
/// to start) when the port cannot be bound; the message names the address.
caf::expected<supervisor_spec> make_role(role_environment& env,
                                         std::shared_ptr<role_state> state);

/// The placeable types "cache-primary" and "cache-replica".
placeable_start primary_start(std::shared_ptr<role_state> state);
placeable_start replica_start(std::shared_ptr<role_state> state);

} // namespace troupe::cache
