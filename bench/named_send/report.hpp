// What the drivers measured, summarized per run, and the tables printed from
// the medians over runs.
#pragma once

#include "options.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace troupe::bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_between(bench_clock::time_point from,
                              bench_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// What a driver actor measured: `count` round trips or messages in
// `elapsed_s`, and the latency of each round trip (sequential drivers only).
// Blocks of one run are merged into one measurement.
struct measurement {
  size_t count = 0;
  double elapsed_s = 0;
  std::vector<int64_t> latency_ns;
};

void merge(measurement& into, measurement part);

// One run of one path, summarized.
struct sample {
  double per_second = 0; // round trips or messages per second
  bool has_latency = false;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

/// Sorts `m.latency_ns` and summarizes it.
sample summarize(measurement& m);

struct metric {
  const char* suffix;
  double (*get)(const sample&);
  bool higher_is_better;
};

// Every sample by "scenario/path", in run order.
class report {
public:
  /// Prints the sample as one "# run" line and keeps it.
  void add(const std::string& scenario, const std::string& path, sample s,
           int run, int runs);

  void add_info(const std::string& key, double value) {
    info_[key].push_back(value);
  }

  void count_drops(uint64_t n) {
    drops_ += n;
  }
  uint64_t drops() const {
    return drops_;
  }

  const std::vector<sample>* find(const std::string& key) const;

  std::optional<double> info_median(const std::string& key) const;

  std::optional<double> median_of(const std::string& key,
                                  const metric& m) const;

private:
  std::map<std::string, std::vector<sample>> series_;
  std::map<std::string, std::vector<double>> info_;
  uint64_t drops_ = 0;
};

/// The "== medians" table: each troupe path against its bare CAF path.
void print_comparisons(const report& rep);

/// The "== summary" table: the extra cost per message of each troupe path.
void print_summary(const report& rep, const options& opts);

} // namespace troupe::bench
