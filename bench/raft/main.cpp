// troupe_kv_bench: issue 3's consensus benchmarks, troupe against etcd 3.4 on
// the same machine in the same run.
//
//   troupe_kv_bench throughput [--clients 1,16,64] [--reps 5]
//   troupe_kv_bench failover   [--trials 20]
//   troupe_kv_bench idle       [--seconds 60]
//
// Every scenario starts its own three-member clusters (etcd on 127.0.4.x,
// troupe-node --role consensus on 127.0.3.x) with fresh data dirs under a
// temp dir on a real disk, so every fsync is real, and stops every process
// it started by PID. bench/raft/run.sh runs all three; docs/bench-raft.md
// has the results. This file holds setup and main; bench/raft/ has the
// rest, one job per file.
#include "etcd_cluster.hpp"
#include "options.hpp"
#include "process.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "troupe_cluster.hpp"

#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>

#include <unistd.h>

namespace troupe::kvbench {

namespace {

namespace fs = std::filesystem;

std::string default_troupe_node() {
  // build-dir/bench/troupe_kv_bench -> build-dir/actors/troupe-node
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path() / "actors" / "troupe-node").string();
}

// 127.0.<subnet>.1 .. .n: each member gets its own loopback address, so that
// the default ports never collide and a member's traffic is easy to tell.
std::vector<std::string> loopback_hosts(int subnet, uint32_t n) {
  std::vector<std::string> hosts;
  for (uint32_t i = 1; i <= n; ++i)
    hosts.push_back("127.0." + std::to_string(subnet) + "."
                    + std::to_string(i));
  return hosts;
}

void check_executable(const std::string& path, const std::string& what) {
  if (::access(path.c_str(), X_OK) != 0)
    fatal(what + " not found or not executable: " + path);
}

std::string prepare_data_root(const options& opts) {
  auto type = filesystem_type(opts.data_root);
  if (type == "tmpfs" && !opts.allow_tmpfs)
    fatal(opts.data_root
          + " is tmpfs: fsync would cost nothing; pick a real "
            "disk with --data-root (or pass --allow-tmpfs)");
  auto dir = make_temp_dir(opts.data_root, "troupe-kv-bench-");
  std::printf("# data and logs in %s (%s)\n", dir.c_str(), type.c_str());
  return dir;
}

cluster_list make_clusters(const options& opts, const std::string& root,
                           caf::actor_system* sys) {
  cluster_list clusters;
  if (opts.wants("etcd")) {
    check_executable(opts.etcd_binary, "etcd");
    etcd_config cfg;
    cfg.hosts = loopback_hosts(4, opts.members);
    cfg.binary = opts.etcd_binary;
    cfg.data_root = root + "/etcd";
    cfg.extra_args = opts.etcd_args;
    fs::create_directories(cfg.data_root);
    clusters.push_back(make_etcd_cluster(cfg));
  }
  if (opts.wants("troupe")) {
    troupe_config cfg;
    cfg.hosts = loopback_hosts(3, opts.members);
    cfg.binary
        = opts.troupe_node.empty() ? default_troupe_node() : opts.troupe_node;
    check_executable(cfg.binary, "troupe-node");
    cfg.data_root = root + "/troupe";
    cfg.log_level = opts.troupe_log_level;
    cfg.path = opts.troupe_path == "route" ? gateway_path::route
                                           : gateway_path::send;
    cfg.extra_args = opts.troupe_args;
    fs::create_directories(cfg.data_root);
    clusters.push_back(make_troupe_cluster(*sys, cfg));
  }
  return clusters;
}

int run_scenario(cluster_list& clusters, const options& opts) {
  if (opts.scenario == "throughput")
    return run_throughput(clusters, opts);
  if (opts.scenario == "failover")
    return run_failover(clusters, opts);
  return run_idle(clusters, opts);
}

int run(const options& opts) {
  kill_children_on_stop_signals();
  ::signal(SIGPIPE, SIG_IGN);
  print_load_average("start");
  auto root = prepare_data_root(opts);
  // The CAF client only exists when troupe is measured; etcd-only runs do
  // not need a troupe build's node.
  std::optional<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  if (opts.wants("troupe")) {
    cfg.emplace();
    configure_caf(*cfg, defaults::heartbeat_interval,
                  defaults::connection_timeout);
    sys = std::make_unique<caf::actor_system>(*cfg);
  }
  int rc = 0;
  {
    auto clusters = make_clusters(opts, root, sys.get());
    rc = run_scenario(clusters, opts);
  } // every cluster stops its members here, by PID
  // A failed check keeps the member logs for a look at why.
  if (!opts.keep_data && rc == 0)
    remove_tree(root);
  else
    std::printf("# kept %s\n", root.c_str());
  print_load_average("end");
  return rc;
}

} // namespace

} // namespace troupe::kvbench

int main(int argc, char** argv) {
  troupe::kvbench::options opts;
  CLI::App app{"troupe_kv_bench: troupe's consensus KV against etcd 3.4"};
  troupe::kvbench::add_options(app, opts);
  CLI11_PARSE(app, argc, argv);
  return troupe::kvbench::run(opts);
}
