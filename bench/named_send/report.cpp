// Summarizing measurements and printing the per-run lines, the medians and
// the summary.
#include "report.hpp"

#include <algorithm>
#include <cstdio>

namespace troupe::bench {

namespace {

std::string format_value(double x) {
  char buf[32];
  if (x >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", x);
  else if (x >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", x);
  else
    std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

const metric throughput_metrics[] = {
    {"per_s", [](const sample& s) { return s.per_second; }, true},
};

const metric latency_metrics[] = {
    {"rt_per_s", [](const sample& s) { return s.per_second; }, true},
    {"mean_us", [](const sample& s) { return s.mean_us; }, false},
    {"p50_us", [](const sample& s) { return s.p50_us; }, false},
    {"p99_us", [](const sample& s) { return s.p99_us; }, false},
};

struct comparison {
  const char* name;
  const char* troupe_key;
  const char* caf_key;
  bool latency;
};

const comparison comparisons[] = {
    {"local.rtt", "local.rtt/troupe", "local.rtt/caf", true},
    {"local.oneway", "local.oneway/troupe", "local.oneway/caf", false},
    {"remote.rtt.gateway", "remote.rtt/gateway", "remote.rtt/caf", true},
    {"remote.rtt.named", "remote.rtt/named", "remote.rtt/caf", true},
    {"remote.pipelined.gateway", "remote.pipelined/gateway",
     "remote.pipelined/caf", false},
    {"remote.pipelined.named", "remote.pipelined/named", "remote.pipelined/caf",
     false},
};

// Runs are paired: both paths of one run took turns within seconds of each
// other, so comparing run by run cancels most of the background load.
template <class F>
std::vector<double> per_run(const report& rep, const char* troupe,
                            const char* caf, F f) {
  auto& ts = *rep.find(troupe);
  auto& cs = *rep.find(caf);
  std::vector<double> result;
  for (size_t i = 0; i < std::min(ts.size(), cs.size()); ++i)
    result.push_back(f(ts[i], cs[i]));
  return result;
}

void print_metric_line(const report& rep, const comparison& c,
                       const metric& m) {
  auto t = *rep.median_of(c.troupe_key, m);
  auto b = *rep.median_of(c.caf_key, m);
  auto ratios = per_run(
      rep, c.troupe_key, c.caf_key,
      [&](const sample& x, const sample& y) { return m.get(x) / m.get(y); });
  auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  auto name = std::string{c.name} + "." + m.suffix;
  std::printf("%-32s troupe=%-9s caf=%-9s ratio=%.2f  (%s is better; per run: "
              "median %.2f, range %.2f..%.2f)\n",
              name.c_str(), format_value(t).c_str(), format_value(b).c_str(),
              t / b, m.higher_is_better ? "higher" : "lower", median(ratios),
              *lo, *hi);
}

// Extra cost per message, from the medians: latency difference for round
// trips, inverse-throughput difference for one-way and pipelined traffic.
void print_cost_line(const report& rep, const char* label, const char* troupe,
                     const char* caf, bool latency,
                     const char* unit = "message") {
  if (rep.find(troupe) == nullptr || rep.find(caf) == nullptr)
    return;
  if (latency) {
    auto mean = median(
        per_run(rep, troupe, caf, [](const sample& x, const sample& y) {
          return x.mean_us - y.mean_us;
        }));
    auto p50 = median(
        per_run(rep, troupe, caf, [](const sample& x, const sample& y) {
          return x.p50_us - y.p50_us;
        }));
    std::printf("  %-34s %+.2f us mean, %+.2f us p50 per round trip\n", label,
                mean, p50);
    return;
  }
  auto ns
      = median(per_run(rep, troupe, caf, [](const sample& x, const sample& y) {
          return 1e9 / x.per_second - 1e9 / y.per_second;
        }));
  std::printf("  %-34s %+.0f ns per %s\n", label, ns, unit);
}

} // namespace

void merge(measurement& into, measurement part) {
  into.count += part.count;
  into.elapsed_s += part.elapsed_s;
  into.latency_ns.insert(into.latency_ns.end(), part.latency_ns.begin(),
                         part.latency_ns.end());
}

sample summarize(measurement& m) {
  sample s;
  s.per_second = static_cast<double>(m.count) / m.elapsed_s;
  auto& latency_ns = m.latency_ns;
  if (latency_ns.empty())
    return s;
  s.has_latency = true;
  std::sort(latency_ns.begin(), latency_ns.end());
  double sum = 0;
  for (auto x : latency_ns)
    sum += static_cast<double>(x);
  auto n = latency_ns.size();
  s.mean_us = sum / static_cast<double>(n) / 1e3;
  s.p50_us = static_cast<double>(latency_ns[n / 2]) / 1e3;
  s.p99_us
      = static_cast<double>(latency_ns[std::min(n - 1, n * 99 / 100)]) / 1e3;
  return s;
}

void report::add(const std::string& scenario, const std::string& path, sample s,
                 int run, int runs) {
  std::printf("# run %d/%d %-18s %-7s %s/s", run + 1, runs, scenario.c_str(),
              path.c_str(), format_value(s.per_second).c_str());
  if (s.has_latency)
    std::printf("  mean %s us  p50 %s us  p99 %s us",
                format_value(s.mean_us).c_str(), format_value(s.p50_us).c_str(),
                format_value(s.p99_us).c_str());
  std::printf("\n");
  std::fflush(stdout);
  series_[scenario + "/" + path].push_back(s);
}

const std::vector<sample>* report::find(const std::string& key) const {
  auto i = series_.find(key);
  return i == series_.end() ? nullptr : &i->second;
}

std::optional<double> report::info_median(const std::string& key) const {
  auto i = info_.find(key);
  if (i == info_.end())
    return std::nullopt;
  return median(i->second);
}

std::optional<double> report::median_of(const std::string& key,
                                        const metric& m) const {
  auto* xs = find(key);
  if (xs == nullptr)
    return std::nullopt;
  std::vector<double> values;
  for (auto& s : *xs)
    values.push_back(m.get(s));
  return median(values);
}

void print_comparisons(const report& rep) {
  std::printf("\n== medians (troupe = runtime path, caf = bare CAF, ratio = "
              "troupe/caf) ==\n");
  for (auto& c : comparisons) {
    if (rep.find(c.troupe_key) == nullptr || rep.find(c.caf_key) == nullptr)
      continue;
    if (c.latency)
      for (auto& m : latency_metrics)
        print_metric_line(rep, c, m);
    else
      for (auto& m : throughput_metrics)
        print_metric_line(rep, c, m);
  }
}

void print_summary(const report& rep, const options& opts) {
  std::printf("\n== summary: extra cost of the troupe path (median over %d "
              "runs of the per-run difference) ==\n",
              opts.runs);
  print_cost_line(rep, "local request_by_name", "local.rtt/troupe",
                  "local.rtt/caf", true);
  print_cost_line(rep, "local send_by_name", "local.oneway/troupe",
                  "local.oneway/caf", false);
  print_cost_line(rep, "remote gateway route, sequential", "remote.rtt/gateway",
                  "remote.rtt/caf", true);
  print_cost_line(rep, "remote request_by_name, sequential", "remote.rtt/named",
                  "remote.rtt/caf", true);
  print_cost_line(rep, "remote gateway route, window",
                  "remote.pipelined/gateway", "remote.pipelined/caf", false,
                  "request");
  print_cost_line(rep, "remote request_by_name, window",
                  "remote.pipelined/named", "remote.pipelined/caf", false,
                  "request");
  if (auto x = rep.info_median("first_resolve_us"))
    std::printf(
        "  %-34s %.0f us (resolve through the seed directory + request)\n",
        "first remote request_by_name", *x);
  if (rep.find("local.oneway/troupe") != nullptr)
    std::printf("  %-34s %llu (must be 0)\n", "local gate drops, named paths",
                static_cast<unsigned long long>(rep.drops()));
}

} // namespace troupe::bench
