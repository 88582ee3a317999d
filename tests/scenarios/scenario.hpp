// The scenario kit (docs/scenarios.md): what a failure-injection scenario
// is written with. A scenario is a function of readable steps:
//
//   SCENARIO("leader-sigstop", "3 nodes; the leader hangs, then resumes", fast)
//   {
//     cluster c{s, 3};                       // n1..n3, --role all, own IPs
//     workload w{c};                         // KV clients recording a history
//     w.start();
//     auto old = c.wait_leader();
//     s.step("SIGSTOP the leader " + old);
//     c.node(old).signal(SIGSTOP);
//     ...
//     s.check("a new leader", ...);
//     w.finish();
//     check_invariants(s, c, w);             // linearizable, no lost or
//     duplicated write
//   }
//
// Every scenario runs in a private network namespace and mount namespace
// (the runner re-executes itself under `unshare -n -m`), so iptables rules,
// tmpfs mounts and node addresses (127.0.0.11 and up) vanish with it and
// never touch the machine. Each node binds its own source address
// (--bind-source), so iptables rules between two nodes' addresses hold.
//
// Everything is bounded: client loops by count and time, waits by timeouts.
#pragma once

#include "tests/support/kv_client.hpp"
#include "tests/support/linearizability.hpp"
#include "tests/support/process.hpp"

#include <nlohmann/json.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace troupe::scenario {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::node_process;

// -- the report
// -------------------------------------------------------------------

/// One scenario's running report: timed steps and checks, printed as they
/// happen. A failed check fails the scenario but the script goes on, so the
/// report shows everything that went wrong; `require` stops it.
class report {
public:
  explicit report(std::string name);
  /// Seconds since the scenario started.
  double elapsed() const;
  void step(const std::string& what);
  void note(const std::string& what);
  /// Records a check; returns `ok`.
  bool check(const std::string& what, bool ok, const std::string& detail = {});
  /// A check that must hold for the rest to make sense: throws if not.
  void require(const std::string& what, bool ok,
               const std::string& detail = {});
  /// An invariant that cannot be checked yet, and why.
  void not_checked(const std::string& what, const std::string& why);
  bool passed() const {
    return failures_ == 0;
  }
  int failures() const {
    return failures_;
  }

private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  int failures_ = 0;
};

struct scenario_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// -- the cluster
// -----------------------------------------------------------------

struct cluster_options {
  int nodes = 3;
  std::string role = "all";
  std::vector<std::string> extra_args;
  /// Per node (by id), a data dir to use instead of a fresh temporary one.
  std::map<std::string, std::string> data_dirs;
};

inline cluster_options with_nodes(int n) {
  cluster_options o;
  o.nodes = n;
  return o;
}

/// N troupe-node processes n1..nN on 127.0.0.11.., each with its own source
/// address and fault injection on, started as the README starts them (the
/// first alone, the others with it as seed). Waits until every node is
/// ready and the Raft group has N voters.
class cluster {
public:
  cluster(report& s, cluster_options opts);
  cluster(report& s, int n) : cluster(s, with_nodes(n)) {}
  /// When a check failed, prints the tail of every node's log: the evidence.
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  node_process& node(const std::string& id);
  std::vector<std::string> ids() const;
  std::string host(const std::string& id) const;
  /// node id -> cluster address, for KV clients.
  std::map<std::string, std::string>
  addresses(const std::vector<std::string>& only = {}) const;

  /// `troupectl raft status -o json`, asked through `via` (or any running
  /// node whose answer names a leader). nullopt if no node answers.
  std::optional<json> raft_status(const std::string& via = {});
  /// The leader as `via` (or anyone) sees it; "" if none.
  std::string leader(const std::string& via = {});
  /// Waits for a leader that is one of `among` (any node if empty), as seen
  /// by a node of `among`; throws after `timeout`.
  std::string wait_leader(const std::vector<std::string>& among = {},
                          std::chrono::milliseconds timeout = 30s);
  /// `role` of `id` as `id` itself reports it ("leader", "follower", ...).
  std::string role_of(const std::string& id);
  /// GET /readyz on `id`: the status code (0: no answer).
  int readyz(const std::string& id, std::string* body = nullptr);
  /// troupectl with --endpoint `via`.
  test::command_result troupectl(const std::string& via,
                                 std::vector<std::string> args,
                                 std::chrono::milliseconds timeout = 15s);
  /// Every id not in `xs`.
  std::vector<std::string> others(const std::vector<std::string>& xs) const;

  /// Places a singleton (a probe) with `troupectl place`; the constructor
  /// places "singleton/scenario", so that every scenario checks that placed
  /// actors run exactly once through its faults.
  void place_singleton(const std::string& name);
  const std::vector<std::string>& singletons() const { return singletons_; }
  /// The nodes whose own supervision tree runs `name`; nullopt if a running
  /// node did not answer (`why` says which).
  std::optional<std::vector<std::string>> running_copies(const std::string& name,
                                                         std::string& why);
  /// Where the committed placement record puts `name` ("" if unknown).
  std::string placed_on(const std::string& name);

private:
  report& s_;
  std::vector<std::unique_ptr<node_process>> nodes_;
  std::vector<std::string> singletons_;
};

// -- external faults: iptables inside the namespace
// --------------------------------

/// Rules on a private chain hooked into OUTPUT on loopback; there is no
/// other traffic in the namespace.
class firewall {
public:
  explicit firewall(report& s);
  ~firewall();
  /// Drops everything between every node of `a` and every node of `b`, both
  /// directions.
  void partition(cluster& c, const std::vector<std::string>& a,
                 const std::vector<std::string>& b);
  /// Drops a fraction `p` of packets from `from` to `to` (one direction).
  void lossy(cluster& c, const std::string& from, const std::string& to,
             double p);
  /// Removes every rule.
  void heal();
  /// Packets dropped by our rules so far (from the chain's counters).
  std::uint64_t dropped();

private:
  void run(const std::vector<std::string>& args);
  report& s_;
};

/// A size-limited tmpfs (private to the scenario's mount namespace).
class small_disk {
public:
  small_disk(report& s, const std::string& size);
  ~small_disk();
  const std::string& dir() const {
    return dir_;
  }
  bool resize(const std::string& size);

private:
  report& s_;
  std::string dir_;
};

// -- the workload
// -------------------------------------------------------------------

/// KV clients in threads. Each alternates a write of a unique key
/// (lw/<client>/<seq>, for the lost- and duplicate-write checks) and a put
/// or get on one of three shared registers (for the linearizability
/// check), recording every operation. Bounded: at most `max_ops` rounds
/// per client and until finish().
class workload {
public:
  workload(cluster& c, int clients = 3, std::vector<std::string> only = {});
  ~workload();
  void start();
  void finish();

  std::uint64_t ok_writes() const {
    return ok_writes_.load();
  }
  /// Steady-clock ns of the last acknowledged write.
  std::int64_t last_ok_ns() const {
    return last_ok_ns_.load();
  }
  /// Waits until a write is acknowledged after `since_ns`; returns the
  /// seconds from `since_ns` to the first such write (however long ago it
  /// was when this is called), or nullopt after `timeout`.
  std::optional<double> wait_write_after(std::int64_t since_ns,
                                         std::chrono::milliseconds timeout);

  std::vector<test::lin::operation> history() const {
    return history_.operations();
  }
  std::set<std::string> acked_unique() const;
  caf::actor_system& system() {
    return *sys_;
  }
  std::map<std::string, std::string> nodes() const {
    return nodes_;
  }

  static constexpr int max_ops = 3000;

private:
  void run_client(std::uint64_t id);
  void acknowledged(std::int64_t at_ns);

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::map<std::string, std::string> nodes_;
  int clients_;
  test::lin::recorder history_;
  mutable std::mutex mtx_;
  std::set<std::string> acked_unique_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> last_ok_ns_{0};
  std::vector<std::int64_t> ok_ns_; // every acknowledged write, in order (mtx_)
  std::atomic<std::uint64_t> ok_writes_{0};
  std::vector<std::thread> threads_;
};

/// Writes unique keys (prefix + seq) through only the nodes in `only`,
/// counting outcomes; for "the minority never acknowledges a write".
struct probe_writes {
  std::uint64_t ok = 0, fail = 0, unknown = 0;
  std::vector<std::string> ok_keys;
  std::string last_error;
};
probe_writes write_through(workload& w,
                           const std::map<std::string, std::string>& only,
                           const std::string& prefix,
                           std::chrono::milliseconds duration);

// -- invariants
// -----------------------------------------------------------------------

/// Checks, after healing and finishing the workload: the history is
/// linearizable (tests/support/linearizability), no acknowledged unique
/// write is missing, none was applied twice (KeyValue.version == 1), and
/// reports placement as not checked until the placement controller exists.
/// Writes the history to `history_path` when the check fails.
void check_invariants(report& s, cluster& c, workload& w);

// -- registry
// ---------------------------------------------------------------------------

struct scenario_info {
  std::string name;
  std::string summary;
  bool fast = false; // part of `make test`
  std::function<void(report&)> body;
};

std::vector<scenario_info>& registry();

struct registrar {
  registrar(std::string name, std::string summary, bool fast,
            std::function<void(report&)> body);
};

inline constexpr bool fast = true;
inline constexpr bool slow = false;

#define TROUPE_SCENARIO_CAT2(a, b) a##b
#define TROUPE_SCENARIO_CAT(a, b) TROUPE_SCENARIO_CAT2(a, b)
#define SCENARIO(name, summary, speed)                                         \
  static void TROUPE_SCENARIO_CAT(scenario_body_,                              \
                                  __LINE__)(::troupe::scenario::report & s);   \
  static ::troupe::scenario::registrar TROUPE_SCENARIO_CAT(                    \
      scenario_reg_, __LINE__){name, summary, speed,                           \
                               TROUPE_SCENARIO_CAT(scenario_body_, __LINE__)}; \
  static void TROUPE_SCENARIO_CAT(scenario_body_,                              \
                                  __LINE__)(::troupe::scenario::report & s)

/// Sleeps, as a step of the script.
void wait(report& s, std::chrono::milliseconds d, const std::string& why);

std::string join(const std::vector<std::string>& xs,
                 const std::string& sep = ",");

} // namespace troupe::scenario
