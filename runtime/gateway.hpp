// The node's gateway: the one actor each node publishes on its cluster port.
// Other nodes and troupectl talk to a node only through it.
//
// Messages from other nodes:
//   (route_atom, name, envelope) -> envelope
//      Deliver to the local actor `name` through its bounded mailbox; the
//      actor answers the original sender directly (delegation). Errors:
//      not_hosted_here (resolve again), mailbox_full (back off),
//      shutting_down. Idempotent only if the target's handler is.
//   (route_atom, kill_atom, name) -> envelope KillReport
//      Send the local actor `name` an exit(kill); its supervisor restarts it.
//   (lookup_atom, name) -> bool                 does this node host `name`?
//   (actors_atom, local_atom) -> envelope ActorTree      this node's tree
//   (join_atom, envelope MemberInfo, actor) -> envelope MemberList
//   (leave_atom, envelope LeaveNotice)          forwarded to membership
// Messages from troupectl (any node answers for the whole cluster):
//   (status_atom) -> envelope NodeStatus
//   (members_atom) -> envelope MemberList
//   (actors_atom, node_filter) -> envelope ActorTree     "" = every node
//   (send_atom, name, envelope) -> envelope               request by name
//   (kill_atom, name) -> envelope KillReport              wherever it lives
//   (auth_atom, challenge_atom) / (auth_atom, prove_atom, cert, sig)
//      proving a certificate identity (runtime/auth.hpp)
//
// Permissions (runtime/auth.hpp; none with --insecure): status, members and
// actors need viewer; send needs admin, except read-only messages (a
// RaftStatusRequest, a KvRequest with a range); kill needs admin. The
// messages from other nodes need the caller to be a cluster node: this
// node, a member, or a caller that proved a node certificate; join needs a
// proven node certificate whose CN is the joining node id. A refused request
// gets errc::permission_denied and is logged.
//   (fault_atom, envelope FaultRequest) -> envelope FaultReply
//   (fault_atom, local_atom, envelope FaultRequest) -> envelope FaultReply
//      fault injection (admin), forwarded to the fault agent (runtime/fault_agent.hpp)
#pragma once

#include "runtime/auth.hpp"
#include "runtime/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

namespace troupe {

caf::actor spawn_gateway(caf::actor_system& sys, node_context_ptr ctx);

/// none if the sender of the message `self` is handling may do `what`
/// (needing `p`): a local sender always may. For guarding messages that
/// other work streams add (fault, purge): call it first, return its error.
caf::error caller_may(caf::local_actor* self, const node_context& ctx,
                      auth::permission p, const std::string& what);

/// none if the sender is a cluster node (see above).
caf::error caller_is_node(caf::local_actor* self, const node_context& ctx,
                          const std::string& what);

} // namespace troupe
