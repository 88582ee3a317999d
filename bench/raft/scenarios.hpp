// The three measurements of issue 3, each over every cluster asked for:
//   throughput  C clients of sequential puts against the leader, C in
//               --clients, --reps times; systems take turns within a rep
//   failover    SIGKILL the leader, time to the first successful put
//               through a survivor, restart, heal; --trials times
//   idle        no load and no failure for --seconds: count term changes
// Each returns the process exit code: 0 when it measured (targets missed
// or met are reported, not turned into a failure), 1 when idle saw an
// election, 3 when a cluster did not start (the others are still
// measured); other setup failures are fatal (exit 2).
#pragma once

#include "cluster.hpp"
#include "options.hpp"

#include <memory>
#include <vector>

namespace troupe::kvbench {

using cluster_list = std::vector<std::unique_ptr<cluster>>;

int run_throughput(cluster_list& clusters, const options& opts);
int run_failover(cluster_list& clusters, const options& opts);
int run_idle(cluster_list& clusters, const options& opts);

/// Starts every cluster and waits until each has a leader. A cluster that
/// gets none is reported, stopped and removed from `clusters`; then the
/// result is 3, else 0.
int start_all(cluster_list& clusters, const options& opts);

} // namespace troupe::kvbench
