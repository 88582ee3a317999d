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
#pragma once

#include "runtime/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace troupe {

caf::actor spawn_gateway(caf::actor_system& sys, node_context_ptr ctx);

} // namespace troupe
