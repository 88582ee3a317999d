// The troupe backend of the load: C event-based client actors, each with one
// put outstanding (request(...).then, the next put from the reply handler),
// all through one BASP connection to the target node's gateway.
#pragma once

#include "load.hpp"
#include "troupe_client.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace troupe::kvbench {

struct troupe_target {
  caf::actor gateway;
  std::string node_id; // puts go to raft/<node_id>
  gateway_path path = gateway_path::send;
  /// Client ids are client_id_base + client index, so that runs (and the
  /// failover probes) never share an exactly-once session.
  uint64_t client_id_base = 1;
};

/// Runs `shape` against `target`; blocks the calling thread until every
/// client finished (bounded by the window plus the op timeout).
load_result run_troupe_load(caf::actor_system& sys, const troupe_target& target,
                            const load_shape& shape);

/// Puts through each of `targets` as `timing` says until one succeeds;
/// returns the time its reply arrived, or nothing at `deadline`.
std::optional<bench_clock::time_point> troupe_first_write(
    caf::actor_system& sys, const std::vector<troupe_target>& targets,
    const probe_timing& timing, bench_clock::time_point deadline);

} // namespace troupe::kvbench
