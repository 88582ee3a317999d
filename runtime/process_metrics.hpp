// The standard process_* metrics, read from /proc/self at scrape time, with
// the names and meanings the Prometheus client libraries use.
#pragma once

#include "runtime/metrics.hpp"

#include <caf/error.hpp>

#include <cstdint>
#include <optional>

namespace troupe {

/// One reading of this process's resource use.
struct process_stats {
  double cpu_seconds = 0; // user + system CPU time
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0; // since the Unix epoch
  double threads = 0;
  double open_fds = 0;
  double max_fds = 0; // soft RLIMIT_NOFILE
};

/// Reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd and the
/// file descriptor limit. Returns nullopt where /proc is unavailable
/// (not Linux, or not mounted).
std::optional<process_stats> read_process_stats();

/// Registers process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_start_time_seconds,
/// process_open_fds, process_max_fds and process_threads as callback
/// metrics. Each scrape reads /proc once per metric; where /proc is
/// unavailable the metrics render without samples. Fails as
/// metrics_registry::callback does, e.g. when called twice.
caf::error add_process_metrics(metrics_registry& reg);

} // namespace troupe
