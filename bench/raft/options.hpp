// troupe_kv_bench's settings and their command line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace troupe::kvbench {

struct options {
  // -- what and where ---------------------------------------------------------
  std::string scenario; // throughput, failover, idle
  std::vector<std::string> systems{"etcd", "troupe"};
  uint32_t members = 3;           // per cluster; issue 3 asks for 3
  std::string data_root = "/tmp"; // a real disk, never tmpfs
  bool allow_tmpfs = false;
  bool keep_data = false;
  std::string etcd_binary = "/usr/bin/etcd";
  std::string troupe_node;          // default: next to this binary
  std::string troupe_path = "send"; // send or route
  std::vector<std::string> etcd_args;
  std::vector<std::string> troupe_args;
  std::string troupe_log_level = "warn";
  uint32_t startup_timeout_ms = 30000;

  // -- throughput
  // -----------------------------------------------------------------
  std::vector<uint32_t> clients{1, 16, 64};
  uint32_t reps = 5;
  uint32_t warmup_ms = 1000;
  uint32_t measure_ms = 5000;
  uint64_t max_ops = 2'000'000;
  uint32_t value_bytes = 64;
  uint32_t key_space = 1000;
  uint32_t op_timeout_ms = 5000;

  // -- failover
  // -------------------------------------------------------------------
  uint32_t trials = 20;
  uint32_t attempt_timeout_ms = 300;
  uint32_t probe_interval_ms = 10;
  uint32_t trial_timeout_ms = 15000;
  uint32_t settle_ms = 1000; // plus a random 0 to settle_ms, see failover
  uint32_t heal_timeout_ms = 30000;

  // -- idle
  // -----------------------------------------------------------------------
  uint32_t idle_seconds = 60;
  uint32_t poll_ms = 250;

  bool wants(const std::string& system) const;
};

/// Adds the scenarios as subcommands of `app` and every field as a flag.
void add_options(CLI::App& app, options& opts);

} // namespace troupe::kvbench
