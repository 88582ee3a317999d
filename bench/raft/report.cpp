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

// One (clients, system) cell: a value per repetition, in repetition order.
struct cell {
  std::vector<double> per_s, p50, p99;
  uint64_t errors = 0;
};

std::string number(double x, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

// Ratios troupe/etcd of the repetitions both systems ran, pairwise: the two
// runs of one repetition took turns within seconds, so their ratio cancels
// more of the machine's drifting background load than the medians do.
std::vector<double> paired_ratios(const std::vector<double>& troupe,
                                  const std::vector<double>& etcd) {
  std::vector<double> out;
  for (size_t i = 0; i < std::min(troupe.size(), etcd.size()); ++i)
    if (etcd[i] > 0)
      out.push_back(troupe[i] / etcd[i]);
  return out;
}

// `target`: "" for none, else e.g. ">=1.5" or "<=1.0", checked on the ratio
// of the medians.
void print_metric(uint32_t clients, const char* metric,
                  const std::vector<double>& etcd,
                  const std::vector<double>& troupe, int decimals,
                  const std::string& target) {
  auto show = [&](const std::vector<double>& xs) {
    return xs.empty() ? std::string{"-"} : number(median(xs), decimals);
  };
  std::printf("clients=%-3u %-10s etcd=%-8s troupe=%-8s", clients, metric,
              show(etcd).c_str(), show(troupe).c_str());
  if (etcd.empty() || troupe.empty() || median(etcd) <= 0) {
    std::printf("\n");
    return;
  }
  auto ratio = median(troupe) / median(etcd);
  std::printf(" ratio=%.2f [%.2f]", ratio, median(paired_ratios(troupe, etcd)));
  if (!target.empty()) {
    auto bound = std::stod(target.substr(2));
    bool met = target[0] == '>' ? ratio >= bound : ratio <= bound;
    std::printf("  target %s %s", target.c_str(), met ? "MET" : "MISSED");
  }
  std::printf("\n");
}

} // namespace

void print_throughput_summary(const std::vector<load_result>& runs,
                              const std::vector<uint32_t>& clients) {
  std::map<std::pair<uint32_t, std::string>, cell> cells;
  for (auto& r : runs) {
    auto& c = cells[{r.clients, r.system}];
    c.per_s.push_back(r.per_second());
    c.p50.push_back(r.quantile_ms(0.50));
    c.p99.push_back(r.quantile_ms(0.99));
    c.errors += r.errors;
  }
  std::printf("\nsummary: medians over repetitions; ratio = troupe/etcd of "
              "the medians [median of the per-repetition ratios]; issue 3: "
              "troupe >= 1.5x etcd's puts/s, p99 no worse\n");
  for (auto c : clients) {
    auto& e = cells[{c, "etcd"}];
    auto& t = cells[{c, "troupe"}];
    print_metric(c, "puts_per_s", e.per_s, t.per_s, 0, ">=1.5");
    print_metric(c, "p50_ms", e.p50, t.p50, 2, "");
    print_metric(c, "p99_ms", e.p99, t.p99, 2, "<=1.0");
    std::printf("clients=%-3u %-10s etcd=%-8llu troupe=%-8llu (sum over "
                "repetitions)\n",
                c, "errors", static_cast<unsigned long long>(e.errors),
                static_cast<unsigned long long>(t.errors));
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
