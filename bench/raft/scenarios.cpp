#include "scenarios.hpp"

#include "process.hpp"
#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr auto status_timeout = 500ms;

std::string views_text(cluster& c) {
  std::string out;
  for (auto& v : status_all(c, status_timeout))
    out += " ["
           + (v.reachable ? "id=" + v.id + " leader=" + v.leader
                                + " term=" + std::to_string(v.term)
                          : "unreachable: " + v.error)
           + "]";
  return out;
}

size_t leader_or_die(cluster& c, milliseconds timeout, const char* when) {
  auto leader = wait_for_leader(c, timeout);
  if (!leader)
    fatal(c.name() + ": no leader " + when + " within "
          + std::to_string(timeout.count()) + " ms;" + views_text(c));
  return *leader;
}

load_shape shape_for(const options& opts, uint32_t clients, uint64_t seed) {
  load_shape s;
  s.clients = clients;
  s.warmup = milliseconds{opts.warmup_ms};
  s.measure = milliseconds{opts.measure_ms};
  s.max_ops = opts.max_ops;
  s.value_bytes = opts.value_bytes;
  s.key_space = opts.key_space;
  s.seed = seed;
  s.op_timeout = milliseconds{opts.op_timeout_ms};
  return s;
}

} // namespace

int start_all(cluster_list& clusters, const options& opts) {
  for (auto& c : clusters) {
    std::printf("# %s: %s\n", c->name().c_str(), c->command_line().c_str());
    c->start();
  }
  int rc = 0;
  for (auto it = clusters.begin(); it != clusters.end();) {
    auto& c = **it;
    auto t0 = bench_clock::now();
    auto timeout = milliseconds{opts.startup_timeout_ms};
    auto leader = wait_for_leader(c, timeout);
    if (!leader) {
      // Measure the others anyway: one broken system must not cost the
      // run its baseline.
      std::printf("# %s: DID NOT START: no leader within %lld ms;%s\n",
                  c.name().c_str(), static_cast<long long>(timeout.count()),
                  views_text(c).c_str());
      c.stop();
      it = clusters.erase(it);
      rc = 3;
      continue;
    }
    auto ms
        = std::chrono::duration<double, std::milli>(bench_clock::now() - t0);
    std::printf("# %s: leader is member %zu (elected %.0f ms after the "
                "last start)\n",
                c.name().c_str(), *leader, ms.count());
    ++it;
  }
  std::fflush(stdout);
  return rc;
}

int run_throughput(cluster_list& clusters, const options& opts) {
  auto rc = start_all(clusters, opts);
  std::vector<load_result> runs;
  for (uint32_t rep = 0; rep < opts.reps; ++rep)
    for (size_t ci = 0; ci < opts.clients.size(); ++ci)
      for (size_t k = 0; k < clusters.size(); ++k) {
        // Rotate who goes first, so that neither system always runs right
        // after the other's load (page cache, CPU frequency, neighbours).
        auto& c = *clusters[(k + rep + ci) % clusters.size()];
        auto leader = leader_or_die(c, 10s, "before a run");
        auto term_before = max_term(status_all(c, status_timeout));
        auto r = c.run_load(
            leader, shape_for(opts, opts.clients[ci], rep * 1000 + ci + 1));
        auto term_after = max_term(status_all(c, status_timeout));
        print_run(r, rep, term_after - term_before);
        runs.push_back(std::move(r));
      }
  print_throughput_summary(runs, opts.clients);
  for (auto& c : clusters)
    c->stop();
  return rc;
}

namespace {

failover_trial one_trial(cluster& c, uint32_t n, const options& opts) {
  failover_trial t;
  t.system = c.name();
  t.trial = n;
  auto leader = wait_until_healthy(c, milliseconds{opts.heal_timeout_ms});
  if (!leader)
    fatal(c.name() + ": not healthy before trial " + std::to_string(n));
  // The leader must be serving before we kill it, or we would measure a
  // cluster that was still settling.
  if (!c.first_write({*leader}, probe_timing{50ms, 1s},
                     bench_clock::now() + 5s))
    fatal(c.name() + ": the leader takes no write before trial "
          + std::to_string(n));
  t.killed = c.member_label(*leader);
  t.term_before = max_term(status_all(c, status_timeout));
  std::vector<size_t> survivors;
  for (size_t i = 0; i < c.size(); ++i)
    if (i != *leader)
      survivors.push_back(i);
  auto killed_at = bench_clock::now();
  c.kill_member(*leader); // SIGKILL, then reap (about a millisecond)
  probe_timing timing{milliseconds{opts.probe_interval_ms},
                      milliseconds{opts.attempt_timeout_ms}};
  auto ok_at = c.first_write(survivors, timing,
                             killed_at + milliseconds{opts.trial_timeout_ms});
  t.ok = ok_at.has_value();
  auto end = ok_at ? *ok_at : bench_clock::now();
  t.failover_ms
      = std::chrono::duration<double, std::milli>(end - killed_at).count();
  t.term_after = max_term(status_all(c, status_timeout));
  c.restart_member(*leader);
  return t;
}

} // namespace

int run_failover(cluster_list& clusters, const options& opts) {
  auto rc = start_all(clusters, opts);
  std::vector<failover_trial> trials;
  // A random pause after healing puts the kill at a random phase of the
  // heartbeat and election timers; seeded, so runs are repeatable.
  std::mt19937 rng{42};
  std::uniform_int_distribution<uint32_t> jitter{0, opts.settle_ms};
  // The systems take turns trial by trial, so that the machine's drifting
  // background load hits both alike.
  for (uint32_t n = 1; n <= opts.trials; ++n)
    for (auto& c : clusters) {
      auto t = one_trial(*c, n, opts);
      print_trial(t);
      trials.push_back(t);
      if (!wait_until_healthy(*c, milliseconds{opts.heal_timeout_ms}))
        fatal(c->name() + ": did not heal after trial " + std::to_string(n));
      std::this_thread::sleep_for(milliseconds{opts.settle_ms + jitter(rng)});
    }
  for (auto& c : clusters)
    c->stop();
  print_failover_summary(trials);
  return rc;
}

namespace {

struct idle_watch {
  std::vector<member_view> last;
  uint64_t term_changes = 0;   // sum of term increases over all members
  uint64_t leader_changes = 0; // a member saw a different leader
  uint64_t unreachable = 0;    // status polls that failed
};

// Prints every change as it is seen, so that a failed check shows when and
// where the elections happened.
void observe(const std::string& system, idle_watch& w,
             const std::vector<member_view>& now, double at_s) {
  for (size_t i = 0; i < now.size(); ++i) {
    if (!now[i].reachable) {
      ++w.unreachable;
      continue;
    }
    auto& last = w.last[i];
    if (last.reachable
        && (now[i].term != last.term || now[i].leader != last.leader)) {
      std::printf("idle-change system=%s t=%.2fs member=%s term=%llu->%llu "
                  "leader=%s->%s\n",
                  system.c_str(), at_s, now[i].id.c_str(),
                  static_cast<unsigned long long>(last.term),
                  static_cast<unsigned long long>(now[i].term),
                  last.leader.c_str(), now[i].leader.c_str());
      if (now[i].term > last.term)
        w.term_changes += now[i].term - last.term;
      if (now[i].leader != last.leader)
        ++w.leader_changes;
    }
    last = now[i];
  }
}

} // namespace

int run_idle(cluster_list& clusters, const options& opts) {
  auto rc = start_all(clusters, opts);
  std::vector<idle_watch> watches;
  for (auto& c : clusters) {
    // Start from a settled cluster: every member knows the leader.
    leader_or_die(*c, milliseconds{opts.startup_timeout_ms}, "before idle");
    watches.push_back({status_all(*c, status_timeout)});
  }
  auto begin = bench_clock::now();
  auto end = begin + std::chrono::seconds{opts.idle_seconds};
  while (bench_clock::now() < end) {
    std::this_thread::sleep_for(milliseconds{opts.poll_ms});
    for (size_t k = 0; k < clusters.size(); ++k) {
      auto views = status_all(*clusters[k], status_timeout);
      std::chrono::duration<double> at = bench_clock::now() - begin;
      observe(clusters[k]->name(), watches[k], views, at.count());
    }
  }
  for (size_t k = 0; k < clusters.size(); ++k) {
    auto& w = watches[k];
    bool pass = w.term_changes == 0 && w.leader_changes == 0;
    rc = pass ? rc : std::max(rc, 1);
    std::printf("idle system=%s seconds=%u poll_ms=%u term_changes=%llu "
                "leader_changes=%llu unreachable_polls=%llu final_term=%llu "
                "%s\n",
                clusters[k]->name().c_str(), opts.idle_seconds, opts.poll_ms,
                static_cast<unsigned long long>(w.term_changes),
                static_cast<unsigned long long>(w.leader_changes),
                static_cast<unsigned long long>(w.unreachable),
                static_cast<unsigned long long>(max_term(w.last)),
                pass ? "PASS (no spurious elections)" : "FAIL");
    clusters[k]->stop();
  }
  std::fflush(stdout);
  return rc;
}

} // namespace troupe::kvbench
