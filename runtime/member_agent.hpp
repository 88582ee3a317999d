// The node's side of the control plane (docs/membership.md), one per node:
//
// - Lease: every heartbeat interval it sends a MemberHeartbeat to the
//   controller on the Raft leader (control/<leader>, found through any
//   consensus member's NOT_LEADER hint) and learns the committed member and
//   placement records from the acks.
// - Fencing: when no heartbeat has been acknowledged for fence_after (three
//   quarters of the lease), the node cannot reach a majority. It stops its
//   placed actors before any leader can place them elsewhere, and /readyz
//   reports the check "majority" as failing, until acks resume.
// - Placement host: it runs the placed actors whose committed record names
//   this node and incarnation (node_plan::placeable says how to start each
//   type), restarts one that crashes (at most max_restarts per
//   restart_period, as a supervisor would) and otherwise reports it as
//   escalated, so the controller places it elsewhere.
// - Journal: it reports restarts and escalations of the node's supervision
//   tree and of its placed actors to the controller (JournalAppend).
// - Status: it copies the committed statuses (suspect, down...) into the
//   node's member view.
//
// Messages:
//   tick_atom               internal timer
//   envelope JournalAppend  one-way, from any component of the node (e.g.
//                           fault injection): forwarded to the controller
//                           with the next heartbeat (node and time filled in
//                           when empty); bounded, the oldest is dropped
//   (leave_atom) -> bool    on shutdown: stop placed actors, tell the
//                           controller this node leaves, answer when it did
//                           or after 1 s
#pragma once

#include "runtime/node_context.hpp"
#include "runtime/supervisor.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>

namespace troupe {

/// Starts one placed actor of a type (like child_spec::start).
using placeable_start
  = std::function<caf::actor(caf::local_actor* host, const child_context&)>;
using placeable_types = std::map<std::string, placeable_start>;

struct member_agent_config {
  std::chrono::milliseconds heartbeat_interval{100};
  std::chrono::milliseconds fence_after{450};
};

caf::actor spawn_member_agent(caf::actor_system& sys, node_context_ptr ctx,
                              member_agent_config cfg, placeable_types types);

/// The name of the agent's entry in the supervision tree (parent of the
/// placed actors it runs): "placed/<node-id>".
std::string placement_host_name(const std::string& node_id);

} // namespace troupe
