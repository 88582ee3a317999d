// The cluster metadata in the consensus group's system keyspace
// (/troupe/sys/, docs/consensus.md "System keyspace"):
//
//   /troupe/sys/members/<node-id>     a MemberRecord (protobuf bytes), written
//                                     by the controller (docs/membership.md)
//   /troupe/sys/placement/<name>      a PlacementRecord, by the controller
//   /troupe/sys/directory/<name>      the node id hosting the named actor
//   /troupe/sys/journal/<seq>         the decision journal (runtime/journal.hpp)
//
// Every node publishes the directory entries of the actors it hosts by
// itself (not placed ones) under one lease of its own, renewed while the
// node lives: when a node dies, its lease expires and the leader revokes
// its keys, so the directory forgets what the node hosted. The controller
// writes the entries of placed actors, without a lease, as it moves them.
//
// The publisher is an actor on every node (it does nothing while no
// consensus member is reachable). The directory (runtime/directory.hpp)
// resolves a name by reading /troupe/sys/directory/<name> from a consensus
// member, before falling back to asking every member.
#pragma once

#include "runtime/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <optional>
#include <string>

namespace troupe {

inline constexpr std::string_view sys_members_prefix = "/troupe/sys/members/";
inline constexpr std::string_view sys_directory_prefix = "/troupe/sys/directory/";

/// Whether the node runs a consensus member (role consensus or all).
bool hosts_consensus(const v1::MemberInfo& info);

/// Spawns the publisher for the node described by `ctx`.
caf::actor spawn_system_publisher(caf::actor_system& sys, node_context_ptr ctx);

/// A consensus member to ask: "raft/<node>" on this node if it hosts one,
/// else on an up member whose roles include consensus. nullopt if none.
struct member_route {
  std::string node_id;
  caf::actor gateway;
};
std::optional<member_route> pick_consensus_member(const node_context& ctx,
                                                  std::size_t rotate = 0);

} // namespace troupe
