// Seed-based cluster membership (until the Raft-backed membership of the
// consensus and membership issues replaces it).
//
// A node joins every address in --seeds (except its own), learns their member
// lists and joins every member it learns of, so the cluster forms a full mesh
// of gateway connections. Each node monitors every other node's gateway:
// BASP heartbeats turn a hung or dead peer into a down_msg, and the member is
// marked down and its names forgotten. Seeds that are not connected are
// retried with exponential backoff (defaults.hpp), forever, at a bounded rate.
//
// Node identity is --node-id, not CAF's node id (a hash of MAC, disk and PID
// that can collide in containers). A join that uses an id held by a live
// member at another address is refused with errc::duplicate_node_id, and the
// joining node exits. A join with the same id from the same address is a
// restart: it replaces the old entry, whatever the old connection's state.
//
// Messages (all via the node's gateway, which forwards them here):
//   (join_atom, envelope MemberInfo, actor gateway) -> envelope MemberList
//      From a joining node. Errors: duplicate_node_id, shutting_down.
//   (leave_atom, envelope LeaveNotice)
//      From a peer that shuts down gracefully.
//   (leave_atom) -> bool
//      From the local bootstrap on shutdown: tell every peer we leave.
#pragma once

#include "runtime/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <functional>
#include <string>

namespace troupe {

/// Called when this node must stop: exit code and one line for stderr.
using fatal_handler = std::function<void(int exit_code, std::string message)>;

caf::actor spawn_membership(caf::actor_system& sys, node_context_ptr ctx,
                            fatal_handler on_fatal);

} // namespace troupe
