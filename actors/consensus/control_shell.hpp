// The controller actor `control/<node-id>`, one per consensus member. It is
// active only while its member leads Raft: then it loads the control
// records, takes heartbeats, leaves, placement requests and journal appends,
// and proposes the control_core's decisions as system-keyspace transactions
// (docs/membership.md). Elsewhere it answers with the leader's node id.
//
// Messages (envelopes, proto/troupe/control.proto):
//   MemberHeartbeat      -> HeartbeatAck (accepted=false + leader hint when
//                           not leading). Idempotent.
//   MemberLeave          -> ControlReply once the LEFT record committed
//   PlaceRequest         -> ControlReply (ok: queued) or the reason it is refused
//   JournalAppend        -> ControlReply (ok=false when shed: queue full)
//   ControlStatusRequest -> ControlStatus. Idempotent.
#pragma once

#include "actors/consensus/control_core.hpp"
#include "runtime/metrics.hpp"
#include "runtime/node_context.hpp"
#include "runtime/supervisor.hpp"

#include <memory>

namespace troupe::control {

/// Process-wide instruments, registered once by the consensus role.
struct control_metrics {
  metric_histogram* failover_seconds = nullptr;
  metric_counter* decisions = nullptr;
  metric_counter* decisions_failed = nullptr;
  metric_counter* journal_shed = nullptr;
};

caf::expected<std::shared_ptr<control_metrics>> register_metrics(metrics_registry& reg);

std::string name_for(const std::string& node_id);

/// The permanent child running the controller of `ctx`'s node.
child_spec controller_child(node_context_ptr ctx, timing t,
                            std::shared_ptr<control_metrics> metrics,
                            uint64_t mailbox_capacity);

} // namespace troupe::control
