// The directory: which node hosts each named actor.
//
// It is an actor interface, so implementations can differ in where the truth
// lives. Today's implementation (spawn_seed_directory) asks the members this
// node knows through --seeds; the Raft-backed directory of the consensus issue
// implements the same interface from a local copy of the replicated table.
//
// Messages:
//   (resolve_atom, name) -> (node_id, gateway)
//     Sent by named sends on a cache miss. Answers the hosting node's id and
//     gateway. Errors: errc::no_such_actor when no reachable node hosts the
//     name; errc::mailbox_full when too many resolves are pending. The
//     answer is also written to the node's name_cache.
//   (invalidate_atom, name)
//     Sent after a request by name failed in a way that suggests the name
//     moved (not_hosted_here, timeout, receiver down). Idempotent.
#pragma once

#include "runtime/node_context.hpp"
#include "runtime/type_ids.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace troupe {

using directory_actor = caf::typed_actor<
  caf::replies_to<resolve_atom, std::string>::with<std::string, caf::actor>,
  caf::reacts_to<invalidate_atom, std::string>>;

/// Spawns the seed-based directory for the node described by `ctx`.
directory_actor spawn_seed_directory(caf::actor_system& sys,
                                     node_context_ptr ctx);

} // namespace troupe
