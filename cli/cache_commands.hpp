// `troupectl cache stats|get|set|del` (docs/cache.md): talks RESP straight to
// a cache node's --resp-listen address (--resp HOST:PORT, env
// TROUPECTL_RESP, default 127.0.0.1:6379), not through the cluster port, so
// it sees exactly what a Redis client sees. `-o json` prints one JSON object.
#pragma once

#include "cli/command.hpp"

namespace troupe::cli {

/// Adds the cache command group to `app`.
void add_cache_commands(CLI::App& app, chosen_command& chosen, const options& opts);

/// `troupectl cache create|slots|shards` (docs/cache-cluster.md): the
/// cluster's shards, as placements through the controller on the Raft
/// leader (these go through the cluster port, --endpoint).
void add_cache_cluster_commands(CLI::App& cache, chosen_command& chosen);

} // namespace troupe::cli
