// Read-only views of a node for troupectl and the admin HTTP port.
#pragma once

#include "runtime/node_context.hpp"

#include "troupe/cluster.pb.h"

#include <string>

namespace troupe {

/// This node's supervision tree(s) from its local_actors table.
v1::ActorTree local_actor_tree(const node_context& ctx);

/// Merges per-node trees into one, ordered by node id.
void merge_actor_tree(v1::ActorTree& into, const v1::ActorTree& from);

/// This node's status line.
v1::NodeStatus node_status(const node_context& ctx);

/// The /readyz body: "ok" or the failing checks; with verbose, every check
/// as "[+]name ok" or "[-]name failed: detail", as Kubernetes components do.
std::string readyz_text(const node_context& ctx, bool verbose);

} // namespace troupe
