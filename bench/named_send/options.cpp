// The command line of named_send_bench: one flag per options field.
#include "options.hpp"

#include <CLI/CLI.hpp>

namespace troupe::bench {

void add_options(CLI::App& app, options& opts) {
  using CLI::IsMember;
  using CLI::PositiveNumber;
  using CLI::Range;
  app.add_option("--role", opts.role,
                 "client (measures) or server (started by it)")
      ->check(IsMember({"client", "server"}));
  app.add_option("--only", opts.only, "local, remote or all")
      ->check(IsMember({"local", "remote", "all"}));
  app.add_option("--port", opts.port,
                 "server's gateway port, bare echo port+1; 0 = any");
  app.add_option("--runs", opts.runs, "runs of each scenario")
      ->check(Range(1, 100));
  app.add_option("--blocks", opts.blocks,
                 "rounds per run; paths take turns each round")
      ->check(Range(1, 1000));
  app.add_option("--local-rtt-n", opts.local_rtt_n, "local round trips per run")
      ->check(PositiveNumber);
  app.add_option("--oneway-n", opts.oneway_n, "local one-way messages per run")
      ->check(PositiveNumber);
  app.add_option("--oneway-window", opts.oneway_window, "one-way ack interval")
      ->check(PositiveNumber);
  app.add_option("--remote-rtt-n", opts.remote_rtt_n,
                 "remote round trips per run")
      ->check(PositiveNumber);
  app.add_option("--pipelined-n", opts.pipelined_n,
                 "remote pipelined requests per run")
      ->check(PositiveNumber);
  app.add_option("--window", opts.pipeline_window,
                 "requests in flight when pipelined")
      ->check(PositiveNumber);
  app.add_option("--warmup-n", opts.warmup_n,
                 "round trips per path before measuring")
      ->check(PositiveNumber);
  app.add_option("--payload", opts.payload_bytes, "Ping payload bytes")
      ->check(Range(0, 1 << 20));
  app.add_option("--max-seconds", opts.max_seconds,
                 "abort if one block takes longer")
      ->check(Range(1, 3600));
}

} // namespace troupe::bench
