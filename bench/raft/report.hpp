// Printing: one line per measurement as it happens, then the medians and
// ratios. Lines are `key=value` so that run.sh and readers can grep them.
#pragma once

#include "load.hpp"

#include <string>
#include <vector>

namespace troupe::kvbench {

/// The median of `xs` (0 if empty); the mean of the middle two if even.
double median(std::vector<double> xs);

/// The nearest-rank q-quantile of `xs`: the smallest value with at least
/// q * n values at or below it (with 20 values, p99 is the maximum).
double nearest_rank(std::vector<double> xs, double q);

/// Prints the load average and the time, so that noise can be judged.
void print_load_average(const char* when);

/// One run's line: `run system=etcd clients=16 rep=2 per_s=... ...`.
void print_run(const load_result& r, uint32_t rep, uint64_t term_changes);

/// Medians per (clients, system), the troupe/etcd ratios of the medians,
/// the median of the per-repetition ratios, and the issue 3 targets.
void print_throughput_summary(const std::vector<load_result>& runs,
                              const std::vector<uint32_t>& clients);

struct failover_trial {
  std::string system;
  uint32_t trial = 0;
  std::string killed;
  bool ok = false;
  double failover_ms = 0;
  uint64_t term_before = 0;
  uint64_t term_after = 0;
};

void print_trial(const failover_trial& t);

/// p50, p99, max and failures per system, and the issue 3 targets.
void print_failover_summary(const std::vector<failover_trial>& trials);

} // namespace troupe::kvbench
