// The consensus role of troupe-node: one Raft member `raft/<node-id>` with
// the KV service as its state machine, its log in the node's LMDB
// environment behind a group-commit writer, etcd-style metrics, a /readyz
// check, and joining an existing group (docs/consensus.md).
//
// Forming a group: a node whose storage is empty bootstraps a new one-member
// group when it is its own first seed (or has no seeds); any other node with
// empty storage joins: it asks the group's leader to add it as a learner and
// is promoted once it has caught up. Both decisions are recorded in the
// node's metadata, so a restart continues them. A node with storage never
// bootstraps again.
#pragma once

#include "runtime/node.hpp"

#include <caf/expected.hpp>

namespace troupe::consensus {

/// The role's supervisor `sup/<node-id>/consensus`. Fails (the node refuses
/// to start) when the stored Raft state cannot be loaded: corrupted entries,
/// a gap, a bad snapshot. The message names the file and what is wrong.
caf::expected<supervisor_spec> make_role(role_environment& env);

} // namespace troupe::consensus
