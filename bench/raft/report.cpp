#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>

namespace troupe::kvbench {

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

double nearest_rank(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank
      = static_cast<size_t>(std::ceil(q * static_cast<double>(xs.size())));
  return xs[std::clamp<size_t>(rank, 1, xs.size()) - 1];
}

void print_load_average(const char* when) {
  std::ifstream in{"/proc/loadavg"};
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  auto now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::printf("# %s %s: load average %s %s %s\n", when, stamp, one.c_str(),
              five.c_str(), fifteen.c_str());
  std::fflush(stdout);
}

void print_run(const load_result& r, uint32_t rep, uint64_t term_changes) {
  // Every success got its own revision, so the revisions a run saw must
  // span at least as many values as it counted successes.
  auto span = r.ok_total > 0 ? r.last_revision - r.first_revision + 1 : 0;
  bool revisions_ok = static_cast<uint64_t>(span) >= r.ok_total;
  std::printf(
      "run system=%s clients=%u rep=%u per_s=%.0f p50_ms=%.2f "
      "p99_ms=%.2f ok=%llu errors=%llu revision_span=%lld%s "
      "term_changes=%llu%s%s\n",
      r.system.c_str(), r.clients, rep, r.per_second(), r.quantile_ms(0.50),
      r.quantile_ms(0.99), static_cast<unsigned long long>(r.ok),
      static_cast<unsigned long long>(r.errors), static_cast<long long>(span),
      revisions_ok ? "" : " REVISIONS-DO-NOT-ADD-UP",
      static_cast<unsigned long long>(term_changes),
      r.first_error.empty() ? "" : " first_error=",
      r.first_error.substr(0, 160).c_str());
  std::fflush(stdout);
}

namespace {

struct cell {
  std::vector<double> per_s, p50, p99;
  std::vector<double> errors;
};

struct paired {
  std::vector<double> per_s, p99; // troupe/etcd per repetition
};

} // namespace

void print_throughput_summary(const std::vector<load_result>& runs,
                              const std::vector<uint32_t>& clients) {
  std::map<std::pair<uint32_t, std::string>, cell> cells;
  // Runs arrive in (rep, clients, system) order; pair them by position.
  std::map<uint32_t, std::vector<const load_result*>> etcd_runs, troupe_runs;
  for (auto& r : runs) {
    auto& c = cells[{r.clients, r.system}];
    c.per_s.push_back(r.per_second());
    c.p50.push_back(r.quantile_ms(0.50));
    c.p99.push_back(r.quantile_ms(0.99));
    c.errors.push_back(static_cast<double>(r.errors));
    (r.system == "etcd" ? etcd_runs : troupe_runs)[r.clients].push_back(&r);
  }
  std::printf("\nsummary: medians over repetitions; ratio = troupe/etcd; "
              "[median of per-repetition ratios]\n");
  std::printf("%-7s | %-25s | %-25s | %-25s | %s\n", "clients",
              "puts/s etcd troupe ratio", "p50 ms etcd troupe",
              "p99 ms etcd troupe ratio", "targets (>=1.5x, p99 no worse)");
  for (auto c : clients) {
    auto& e = cells[{c, "etcd"}];
    auto& t = cells[{c, "troupe"}];
    paired pr;
    auto& er = etcd_runs[c];
    auto& tr = troupe_runs[c];
    for (size_t i = 0; i < std::min(er.size(), tr.size()); ++i) {
      if (er[i]->per_second() > 0)
        pr.per_s.push_back(tr[i]->per_second() / er[i]->per_second());
      if (er[i]->quantile_ms(0.99) > 0)
        pr.p99.push_back(tr[i]->quantile_ms(0.99) / er[i]->quantile_ms(0.99));
    }
    auto e_ps = median(e.per_s), t_ps = median(t.per_s);
    auto e_99 = median(e.p99), t_99 = median(t.p99);
    auto ratio = e_ps > 0 ? t_ps / e_ps : 0;
    auto ratio99 = e_99 > 0 ? t_99 / e_99 : 0;
    std::string verdict = "n/a (one system only)";
    if (!e.per_s.empty() && !t.per_s.empty())
      verdict
          = std::string{ratio >= 1.5 ? "throughput MET" : "throughput MISSED"}
            + (t_99 <= e_99 ? ", p99 MET" : ", p99 MISSED");
    std::printf("%-7u | %6.0f %6.0f %4.2f [%4.2f] | %6.2f %6.2f         | "
                "%6.2f %6.2f %4.2f [%4.2f] | %s\n",
                c, e_ps, t_ps, ratio, median(pr.per_s), median(e.p50),
                median(t.p50), e_99, t_99, ratio99, median(pr.p99),
                verdict.c_str());
  }
  std::fflush(stdout);
}

void print_trial(const failover_trial& t) {
  std::printf("trial system=%s n=%u killed=%s %s=%.1f term_before=%llu "
              "term_after=%llu\n",
              t.system.c_str(), t.trial, t.killed.c_str(),
              t.ok ? "failover_ms" : "FAILED_after_ms", t.failover_ms,
              static_cast<unsigned long long>(t.term_before),
              static_cast<unsigned long long>(t.term_after));
  std::fflush(stdout);
}

void print_failover_summary(const std::vector<failover_trial>& trials) {
  std::map<std::string, std::vector<const failover_trial*>> by_system;
  for (auto& t : trials)
    by_system[t.system].push_back(&t);
  std::printf("\nfailover summary (nearest-rank percentiles; a failed trial "
              "counts as its timeout)\n");
  for (auto& [system, ts] : by_system) {
    std::vector<double> ms;
    size_t failed = 0;
    for (auto* t : ts) {
      ms.push_back(t->failover_ms);
      failed += t->ok ? 0 : 1;
    }
    auto p50 = nearest_rank(ms, 0.50), p99 = nearest_rank(ms, 0.99);
    std::printf("failover system=%s trials=%zu failed=%zu p50_ms=%.1f "
                "p99_ms=%.1f min_ms=%.1f max_ms=%.1f",
                system.c_str(), ts.size(), failed, p50, p99,
                nearest_rank(ms, 0), nearest_rank(ms, 1));
    if (system == "troupe")
      std::printf(" targets: p50<=300ms %s, p99<=1000ms %s",
                  p50 <= 300 && failed == 0 ? "MET" : "MISSED",
                  p99 <= 1000 && failed == 0 ? "MET" : "MISSED");
    std::printf("\n");
  }
  std::fflush(stdout);
}

} // namespace troupe::kvbench
