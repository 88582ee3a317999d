#include "options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

namespace troupe::kvbench {

bool options::wants(const std::string& system) const {
  return std::find(systems.begin(), systems.end(), system) != systems.end();
}

namespace {

void add_common(CLI::App& app, options& o) {
  app.add_option("--systems", o.systems, "which clusters: etcd, troupe")
      ->delimiter(',')
      ->check(CLI::IsMember({"etcd", "troupe"}));
  app.add_option("--members", o.members,
                 "members per cluster (issue 3: 3; 1 checks the harness)")
      ->check(CLI::Range(1u, 7u));
  app.add_option("--data-root", o.data_root,
                 "parent of the temp dir for data and logs (a real disk)");
  app.add_flag("--allow-tmpfs", o.allow_tmpfs,
               "run even if --data-root is tmpfs (fsync would be free)");
  app.add_flag("--keep-data", o.keep_data, "keep data dirs and logs");
  app.add_option("--etcd-binary", o.etcd_binary, "etcd 3.4 server binary");
  app.add_option("--troupe-node", o.troupe_node,
                 "troupe-node binary (default: ../actors/troupe-node next to "
                 "this binary)");
  app.add_option("--troupe-path", o.troupe_path,
                 "send: (send_atom, name, envelope) through the gateway; "
                 "route: (route_atom, ...) one hop less")
      ->check(CLI::IsMember({"send", "route"}));
  app.add_option("--etcd-arg", o.etcd_args, "extra etcd flag (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--troupe-arg", o.troupe_args,
                 "extra troupe-node flag (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--troupe-log-level", o.troupe_log_level,
                 "troupe-node --log-level");
  app.add_option("--startup-timeout-ms", o.startup_timeout_ms,
                 "wait this long for a cluster to elect a leader")
      ->check(CLI::Range(1000u, 600000u));
}

void add_throughput(CLI::App& app, options& o) {
  auto* sub = app.add_subcommand("throughput",
                                 "durable puts/s, p50, p99 at C clients");
  sub->callback([&o] { o.scenario = "throughput"; });
  sub->add_option("--clients", o.clients, "comma list of client counts")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1024u));
  sub->add_option("--reps", o.reps, "repetitions of every cell")
      ->check(CLI::Range(1u, 100u));
  sub->add_option("--warmup-ms", o.warmup_ms, "not measured")
      ->check(CLI::Range(0u, 60000u));
  sub->add_option("--measure-ms", o.measure_ms, "the measured window")
      ->check(CLI::Range(100u, 600000u));
  sub->add_option("--max-ops", o.max_ops, "bound on successes per run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  sub->add_option("--value-bytes", o.value_bytes, "value size")
      ->check(CLI::Range(1u, 1u << 20));
  sub->add_option("--key-space", o.key_space, "distinct keys")
      ->check(CLI::Range(1u, 1000000u));
  sub->add_option("--op-timeout-ms", o.op_timeout_ms, "per put")
      ->check(CLI::Range(10u, 60000u));
}

void add_failover(CLI::App& app, options& o) {
  auto* sub = app.add_subcommand(
      "failover", "SIGKILL the leader, time to the first successful put");
  sub->callback([&o] { o.scenario = "failover"; });
  sub->add_option("--trials", o.trials, "kills per system")
      ->check(CLI::Range(1u, 1000u));
  sub->add_option("--attempt-timeout-ms", o.attempt_timeout_ms,
                  "timeout of each probe put")
      ->check(CLI::Range(10u, 10000u));
  sub->add_option("--probe-interval-ms", o.probe_interval_ms,
                  "a new probe put to every survivor this often")
      ->check(CLI::Range(1u, 1000u));
  sub->add_option("--trial-timeout-ms", o.trial_timeout_ms,
                  "a trial without a successful put by then failed")
      ->check(CLI::Range(100u, 120000u));
  sub->add_option("--settle-ms", o.settle_ms,
                  "pause after healing, plus a random 0..settle-ms")
      ->check(CLI::Range(0u, 60000u));
  sub->add_option("--heal-timeout-ms", o.heal_timeout_ms,
                  "wait this long for the restarted member to catch up")
      ->check(CLI::Range(1000u, 600000u));
}

void add_idle(CLI::App& app, options& o) {
  auto* sub = app.add_subcommand(
      "idle", "no load, no failures: count elections (must be 0)");
  sub->callback([&o] { o.scenario = "idle"; });
  sub->add_option("--seconds", o.idle_seconds, "how long to watch")
      ->check(CLI::Range(1u, 3600u));
  sub->add_option("--poll-ms", o.poll_ms, "status poll interval")
      ->check(CLI::Range(10u, 10000u));
}

} // namespace

void add_options(CLI::App& app, options& opts) {
  app.require_subcommand(1, 1);
  app.fallthrough();
  add_common(app, opts);
  add_throughput(app, opts);
  add_failover(app, opts);
  add_idle(app, opts);
}

} // namespace troupe::kvbench
