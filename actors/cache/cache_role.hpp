// The cache role of troupe-node: the RESP server (server.hpp) over the
// cache engine (engine.hpp) on --resp-listen, its metrics on /metrics, and
// a supervisor `sup/<node-id>/cache` with the actor `cache/<node-id>`.
// docs/cache.md describes the role; phase 1 is a single node (no slot map,
// replication or proxying yet: CLUSTER commands other than KEYSLOT answer
// that cluster support is disabled).
#pragma once

#include "runtime/node.hpp"

#include <caf/expected.hpp>

namespace troupe::cache {

/// Binds the RESP port and starts the I/O threads. Fails (the node refuses
/// to start) when the port cannot be bound; the message names the address.
caf::expected<supervisor_spec> make_role(role_environment& env);

} // namespace troupe::cache
