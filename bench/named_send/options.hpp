// named_send_bench's settings and their command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace troupe::bench {

struct options {
  std::string role = "client";
  std::string only = "all"; // local, remote or all
  uint16_t port = 0;        // server's gateway port; the bare echo gets port+1
  int runs = 5;
  size_t blocks = 10; // each run interleaves the paths in this many rounds
  size_t local_rtt_n = 100000;
  size_t oneway_n = 1000000;
  size_t oneway_window = 1000; // acked every window; 2 windows in flight
  size_t remote_rtt_n = 20000;
  size_t pipelined_n = 200000;
  size_t pipeline_window = 64;
  size_t warmup_n = 2000;
  size_t payload_bytes = 16; // Ping.payload
  int max_seconds = 60;      // bound on every single measurement
};

/// Adds every field of `opts` to `app` as a flag, with its checks.
void add_options(CLI::App& app, options& opts);

} // namespace troupe::bench
