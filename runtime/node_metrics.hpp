// The metrics every node exports about itself, registered as callback
// metrics over state that already lives in node_context and the admin HTTP
// server. docs/metrics.md lists them.
#pragma once

#include "net/http_server.hpp"
#include "runtime/metrics.hpp"
#include "runtime/node_context.hpp"

#include <caf/error.hpp>

#include <memory>

namespace troupe {

/// Registers, on `reg`:
/// - troupe_node_incarnation, troupe_members_up;
/// - per actor in ctx->table: troupe_actor_mailbox_messages,
///   troupe_actor_mailbox_capacity_messages and
///   troupe_actor_mailbox_dropped_total{actor} (actors reachable by name),
///   troupe_actor_restarts_total{actor} (every supervised actor);
/// - troupe_admin_http_* from `http_stats`, unless it is null.
/// The callbacks hold `ctx` and `http_stats`. Fails as
/// metrics_registry::callback does, e.g. when called twice on one registry.
caf::error add_node_metrics(metrics_registry& reg, node_context_ptr ctx,
                            std::shared_ptr<http_server_stats> http_stats);

} // namespace troupe
