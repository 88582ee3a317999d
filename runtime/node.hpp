// The node bootstrap: everything troupe-node does between reading its
// configuration and exiting.
//
// Start order: logging, storage (incarnation +1, fsync'd), actor system with
// BASP heartbeats, node supervisor tree, directory, gateway and membership,
// cluster port, admin HTTP port, then joining the seeds.
//
// Shutdown (SIGTERM, SIGINT, or a fatal event such as a duplicate node id):
// mark the node not ready and refuse new work, close the admin and cluster
// ports, tell peers we leave, stop the supervision tree (children in reverse
// start order, each finishing its current message), flush storage, and exit
// 0. If that takes longer than defaults::shutdown_grace, exit 1.
#pragma once

#include "runtime/config.hpp"
#include "runtime/member_agent.hpp"
#include "runtime/node_context.hpp"
#include "runtime/supervisor.hpp"

#include <caf/expected.hpp>

#include <functional>

#include <string>
#include <vector>

namespace troupe {

namespace storage {
class node_store;
}

/// What a role's factory gets from the bootstrap: the node's configuration,
/// its context and its LMDB environment (open, incarnation bumped).
struct role_environment {
  const node_config& cfg;
  node_context_ptr ctx;
  storage::node_store& store;
  /// Run in order after the supervision tree has stopped and before the final
  /// flush of the store (stop writer threads here).
  std::vector<std::function<void()>>& on_shutdown;
};

/// Builds a role's supervisor once storage and the context exist. An error
/// (e.g. corrupted role storage) stops the node before it starts, with the
/// error's message.
using role_factory = std::function<caf::expected<supervisor_spec>(role_environment&)>;

/// What the actors layer contributes to a node.
struct node_plan {
  /// Children of `sup/<node-id>/system`, e.g. the probe.
  std::vector<child_spec> system_children;
  /// One supervisor per enabled role, started after the system supervisor.
  std::vector<supervisor_spec> role_supervisors;
  /// Roles that need storage or the context; their supervisors start after
  /// role_supervisors, in this order.
  std::vector<role_factory> role_factories;
  /// Actor types the control plane may place on this node (singletons),
  /// by type name (docs/placement.md).
  placeable_types placeable;
};

/// Runs the node until it is told to stop. Returns the process exit code.
/// Must be called from the main thread before any other thread is started
/// (it blocks SIGINT and SIGTERM for the whole process to take them with
/// sigwait).
int run_node(const node_config& cfg, node_plan plan);

} // namespace troupe
