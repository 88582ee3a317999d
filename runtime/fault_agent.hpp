// The node's fault agent: runs `troupectl fault ...` commands and carries
// out delayed and dropped deliveries for the link-fault table
// (runtime/faults.hpp, docs/faults.md). One per node, always spawned; it
// refuses to apply anything unless the node started with
// --enable-fault-injection.
//
// Messages (from the gateway, which forwards fault_atom messages here, and
// from this node's own senders):
//   (fault_atom, envelope FaultRequest) -> envelope FaultReply
//      From troupectl through any node: this node coordinates, sending the
//      local part to every node involved (the sending side of each link)
//      through their gateways, and answers once all answered or timed out
//      (those are listed in FaultReply.unreachable). Errors:
//      invalid_argument (unknown kind or node, bad rate), no_such_actor.
//   (fault_atom, local_atom, envelope FaultRequest) -> envelope FaultReply
//      From a coordinator: apply the part of the fault that this node sends
//      (its own table), and record it in the decision journal. Errors:
//      feature_disabled without --enable-fault-injection.
//   (delay_atom, uint32 delay_ms, actor gateway, string name, envelope msg)
//      -> envelope: after delay_ms, delegates (route_atom, name, msg) to
//      `gateway`, so the answer goes straight to the original sender.
//   (drop_atom, uint32 hold_ms): a dropped request. Never answered; the
//      promise is forgotten after hold_ms, so the sender sees its own
//      request timeout, as after a lost message.
#pragma once

#include "net/envelope.hpp"
#include "runtime/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace troupe {

caf::actor spawn_fault_agent(caf::actor_system& sys, node_context_ptr ctx);

/// Applies the fault verdict for one remote delivery of (route_atom, name,
/// msg) to node `to_node` through `gateway`, as a one-way send. Returns
/// false if no fault applies (the caller sends as usual).
bool faulted_send(const node_context& ctx, const std::string& to_node,
                  const caf::actor& gateway, const std::string& name,
                  envelope& msg);

/// The same for a request: on a drop or delay, sends the request through
/// the fault agent and returns its handle to `.then` on; nullopt if no
/// fault applies.
struct faulted_request {
  caf::actor via;
  std::chrono::milliseconds extra{0};
  bool drop = false;
  std::uint32_t delay_ms = 0;
};
std::optional<faulted_request> fault_for_request(const node_context& ctx,
                                                 const std::string& to_node);

} // namespace troupe
