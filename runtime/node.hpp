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
#include "runtime/supervisor.hpp"

#include <string>
#include <vector>

namespace troupe {

/// What the actors layer contributes to a node.
struct node_plan {
  /// Children of `sup/<node-id>/system`, e.g. the probe.
  std::vector<child_spec> system_children;
  /// One supervisor per enabled role, started after the system supervisor.
  std::vector<supervisor_spec> role_supervisors;
};

/// Runs the node until it is told to stop. Returns the process exit code.
/// Must be called from the main thread before any other thread is started
/// (it blocks SIGINT and SIGTERM for the whole process to take them with
/// sigwait).
int run_node(const node_config& cfg, node_plan plan);

} // namespace troupe
