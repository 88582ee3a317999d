// Tests for runtime/metrics (registry, exposition) and runtime/process_metrics.
#include "net/errors.hpp"
#include "runtime/metrics.hpp"
#include "runtime/node_metrics.hpp"
#include "runtime/process_metrics.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

using namespace troupe;

namespace {

// The exposition without the always-present dropped-series family, so that
// expected texts show only what a test registered.
std::string render_without_dropped(const metrics_registry& reg) {
  std::string out;
  std::string text = reg.render();
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end - pos + 1);
    if (line.find("troupe_metrics_series_dropped_total") == std::string::npos)
      out += line;
    pos = end + 1;
  }
  return out;
}

// The dropped-series count of `family` as rendered.
std::string dropped_line(const metrics_registry& reg, const std::string& fam) {
  auto text = reg.render();
  auto key = "troupe_metrics_series_dropped_total{family=\"" + fam + "\"} ";
  auto pos = text.find(key);
  if (pos == std::string::npos)
    return "(none)";
  pos += key.size();
  return text.substr(pos, text.find('\n', pos) - pos);
}

// A node context with one gated worker and its supervisor.
node_context_ptr sample_context() {
  auto ctx = std::make_shared<node_context>();
  ctx->self.incarnation = 3;
  local_actor_entry sup;
  sup.name = "sup/node";
  sup.restarts = 0;
  ctx->table->upsert(sup);
  local_actor_entry probe;
  probe.name = "probe/n1";
  probe.parent = "sup/node";
  probe.restarts = 2;
  probe.gate = std::make_shared<mailbox_gate>(2);
  probe.gate->try_enter();
  probe.gate->try_enter();
  probe.gate->try_enter(); // full: dropped
  ctx->table->upsert(probe);
  return ctx;
}

bool has_promtool() {
  return std::system("command -v promtool >/dev/null 2>&1") == 0;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("metrics: counter and gauge exposition, ordered by name") {
  metrics_registry reg;
  auto requests = reg.counter({"http_requests_total",
                               "HTTP requests answered.",
                               {{"node", "n1"}},
                               {"code", "method"}});
  REQUIRE(requests);
  (*requests)->with({"200", "GET"}).inc(3);
  (*requests)->with({"404", "GET"}).inc();
  auto temp = reg.gauge({"a_temperature_celsius", "A gauge."});
  REQUIRE(temp);
  (*temp)->with().set(-1.5);
  CHECK(render_without_dropped(reg)
        == "# HELP a_temperature_celsius A gauge.\n"
           "# TYPE a_temperature_celsius gauge\n"
           "a_temperature_celsius -1.5\n"
           "# HELP http_requests_total HTTP requests answered.\n"
           "# TYPE http_requests_total counter\n"
           "http_requests_total{node=\"n1\",code=\"200\",method=\"GET\"} 3\n"
           "http_requests_total{node=\"n1\",code=\"404\",method=\"GET\"} 1\n");
  CHECK(reg.render().find("troupe_metrics_series_dropped_total{family=\""
                          "http_requests_total\"} 0\n")
        != std::string::npos);
}

TEST_CASE("metrics: histogram buckets are cumulative and end in +Inf") {
  metrics_registry reg;
  auto latency
      = reg.histogram({"rpc_latency_seconds", "RPC latency."}, {0.1, 1, 10});
  REQUIRE(latency);
  auto& h = (*latency)->with();
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0})
    h.observe(v);
  CHECK(render_without_dropped(reg)
        == "# HELP rpc_latency_seconds RPC latency.\n"
           "# TYPE rpc_latency_seconds histogram\n"
           "rpc_latency_seconds_bucket{le=\"0.1\"} 2\n"
           "rpc_latency_seconds_bucket{le=\"1\"} 3\n"
           "rpc_latency_seconds_bucket{le=\"10\"} 4\n"
           "rpc_latency_seconds_bucket{le=\"+Inf\"} 6\n"
           "rpc_latency_seconds_sum 52.65\n"
           "rpc_latency_seconds_count 6\n");
  auto snap = h.snapshot();
  CHECK(snap.cumulative_counts == std::vector<uint64_t>{2, 3, 4, 6});
  CHECK(snap.count == 6);
}

TEST_CASE("metrics: histogram labels put le last, bounds are checked") {
  metrics_registry reg;
  auto h = reg.histogram({"size_bytes", "Sizes.", {}, {"kind"}},
                         {1024, std::numeric_limits<double>::infinity()});
  REQUIRE(h);
  (*h)->with({"a"}).observe(2048);
  auto text = reg.render();
  CHECK(text.find("size_bytes_bucket{kind=\"a\",le=\"1024\"} 0\n")
        != std::string::npos);
  CHECK(text.find("size_bytes_bucket{kind=\"a\",le=\"+Inf\"} 1\n")
        != std::string::npos);
  CHECK_FALSE(reg.histogram({"bad_seconds", "x"}, {1, 1}));
  CHECK_FALSE(reg.histogram({"bad_seconds", "x"}, {2, 1}));
  CHECK_FALSE(reg.histogram({"bad_seconds", "x"}, {std::nan("")}));
  CHECK_FALSE(reg.histogram({"bad_seconds", "x", {}, {"le"}}, {1}));
}

TEST_CASE("metrics: label values and help text are escaped") {
  metrics_registry reg;
  auto g
      = reg.gauge({"escape_test", "Help with \\ and\nnewline.", {}, {"path"}});
  REQUIRE(g);
  (*g)->with({"a\\b\"c\nd"}).set(1);
  CHECK(render_without_dropped(reg)
        == "# HELP escape_test Help with \\\\ and\\nnewline.\n"
           "# TYPE escape_test gauge\n"
           "escape_test{path=\"a\\\\b\\\"c\\nd\"} 1\n");
  CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("metrics: value formatting") {
  CHECK(format_metric_value(0) == "0");
  CHECK(format_metric_value(1e6) == "1000000");
  CHECK(format_metric_value(0.1) == "0.1");
  CHECK(format_metric_value(-2.5) == "-2.5");
  CHECK(format_metric_value(1e300) == "1e+300");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity())
        == "-Inf");
  CHECK(format_metric_value(std::nan("")) == "NaN");
}

TEST_CASE("metrics: counters are monotonic and exact") {
  metrics_registry reg;
  auto c = reg.counter({"work_seconds_total", "Work."});
  REQUIRE(c);
  auto& s = (*c)->with();
  s.inc(uint64_t{1} << 60);
  s.inc();
  CHECK(render_without_dropped(reg).find("work_seconds_total "
                                         "1152921504606846977\n")
        != std::string::npos);
  auto d = reg.counter({"cpu_seconds_total", "CPU."});
  REQUIRE(d);
  auto& t = (*d)->with();
  t.add(0.25);
  t.add(-1);
  t.add(std::nan(""));
  t.inc(2);
  CHECK(t.value() == 2.25);
}

TEST_CASE("metrics: series per family are bounded, refusals are counted") {
  metrics_registry reg{metrics_limits{100, 2}};
  auto c = reg.counter({"per_peer_total", "Per peer.", {}, {"peer"}});
  REQUIRE(c);
  auto& a = (*c)->with({"a"});
  (*c)->with({"b"}).inc();
  auto& overflow = (*c)->with({"c"});
  CHECK(&overflow != &a);
  overflow.inc(5);
  (*c)->with({"a", "extra"});      // wrong number of label values
  CHECK(&(*c)->with({"a"}) == &a); // existing series are still served
  CHECK((*c)->size() == 2);
  auto text = reg.render();
  CHECK(text.find("peer=\"c\"") == std::string::npos);
  CHECK(dropped_line(reg, "per_peer_total") == "2");
}

TEST_CASE("metrics: names are validated") {
  CHECK(valid_metric_name("a"));
  CHECK(valid_metric_name("_a:b_9"));
  CHECK(valid_metric_name(":x"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_metric_name("9a"));
  CHECK_FALSE(valid_metric_name("a-b"));
  CHECK_FALSE(valid_metric_name("a b"));
  CHECK(valid_label_name("actor"));
  CHECK_FALSE(valid_label_name("__reserved"));
  CHECK_FALSE(valid_label_name("a:b"));
  CHECK_FALSE(valid_label_name("1a"));
  metrics_registry reg;
  auto err = reg.gauge({"bad-name", "x"}).error();
  CHECK(is(err, errc::invalid_argument));
  CHECK_FALSE(reg.gauge({"no_help", ""}));
  CHECK_FALSE(reg.counter({"requests", "Counters end in _total."}));
  CHECK_FALSE(reg.gauge({"dup_labels", "x", {{"a", "1"}}, {"a"}}));
  CHECK_FALSE(reg.gauge({"bad_label", "x", {}, {"a-b"}}));
}

TEST_CASE("metrics: a name keeps its type, identical registration shares") {
  metrics_registry reg;
  auto first = reg.counter({"jobs_total", "Jobs."});
  REQUIRE(first);
  auto again = reg.counter({"jobs_total", "Jobs."});
  REQUIRE(again);
  CHECK(first->get() == again->get());
  CHECK(is(reg.gauge({"jobs_total", "Jobs."}).error(), errc::invalid_argument));
  CHECK_FALSE(reg.counter({"jobs_total", "Other help."}));
  CHECK_FALSE(reg.counter({"jobs_total", "Jobs.", {}, {"kind"}}));
  CHECK(reg.callback_counter({"jobs_total", "Jobs."}, [] { return 1.0; }));
  auto h = reg.histogram({"wait_seconds", "Wait."}, {1});
  REQUIRE(h);
  CHECK_FALSE(reg.histogram({"wait_seconds", "Wait."}, {2}));
  CHECK(reg.histogram({"wait_seconds", "Wait."}, {1}));
  // A histogram's derived names are taken too, in both directions.
  CHECK_FALSE(reg.gauge({"wait_seconds_count", "x"}));
  REQUIRE(reg.gauge({"queue_sum", "x"}));
  CHECK_FALSE(reg.histogram({"queue", "x"}, {1}));
}

TEST_CASE("metrics: the number of families is bounded") {
  metrics_registry reg{metrics_limits{3, 10}};
  // The dropped-series family is the first of the three.
  CHECK(reg.gauge({"g1", "x"}));
  CHECK(reg.gauge({"g2", "x"}));
  CHECK_FALSE(reg.gauge({"g3", "x"}));
  CHECK(reg.callback_gauge({"g4", "x"}, [] { return 0.0; })); // an error
}

TEST_CASE("metrics: callback metrics are read at scrape time") {
  metrics_registry reg{metrics_limits{100, 2}};
  double depth = 7;
  REQUIRE_FALSE(reg.callback_gauge({"queue_depth", "Depth."},
                                   [&depth] { return depth; }));
  REQUIRE_FALSE(reg.callback(
      {"mailbox_messages", "Mailbox.", {}, {"actor"}}, metric_type::gauge, [] {
        return std::vector<metric_sample>{{{"z"}, 1},
                                          {{"a"}, 2},
                                          {{"a"}, 3},
                                          {{"m", "extra"}, 4},
                                          {{"q"}, 5}};
      }));
  REQUIRE_FALSE(
      reg.callback_counter({"drops_total", "Drops."}, [] { return 4.0; }));
  depth = 9;
  CHECK(render_without_dropped(reg)
        == "# HELP drops_total Drops.\n"
           "# TYPE drops_total counter\n"
           "drops_total 4\n"
           "# HELP mailbox_messages Mailbox.\n"
           "# TYPE mailbox_messages gauge\n"
           "mailbox_messages{actor=\"a\"} 2\n"
           "mailbox_messages{actor=\"q\"} 5\n"
           "# HELP queue_depth Depth.\n"
           "# TYPE queue_depth gauge\n"
           "queue_depth 9\n");
  // Duplicate "a", wrong arity, and "z" over the limit of 2: three per scrape.
  CHECK(dropped_line(reg, "mailbox_messages") == "6");
  CHECK(reg.callback({"h", "x"}, metric_type::histogram,
                     [] { return std::vector<metric_sample>{}; }));
  CHECK(reg.callback_gauge({"no_fn", "x"}, nullptr));
}

TEST_CASE("metrics: concurrent updates add up") {
  metrics_registry reg;
  auto c = reg.counter({"ops_total", "Ops.", {}, {"worker"}});
  auto g = reg.gauge({"level", "Level."});
  auto h = reg.histogram({"op_seconds", "Op time."}, {0.5});
  REQUIRE((c && g && h));
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto& shared = (*c)->with({"all"});
      auto& own = (*c)->with({std::to_string(t)});
      for (int i = 0; i < per_thread; ++i) {
        shared.inc();
        own.inc();
        (*g)->with().add(1);
        (*h)->with().observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  std::vector<std::string> scrapes;
  for (int i = 0; i < 20; ++i)
    scrapes.push_back(reg.render()); // scraping while updating is safe
  for (auto& w : workers)
    w.join();
  CHECK((*c)->with({"all"}).value() == threads * per_thread);
  CHECK((*c)->with({"0"}).value() == per_thread);
  CHECK((*g)->with().value() == threads * per_thread);
  auto snap = (*h)->with().snapshot();
  CHECK(snap.count == threads * per_thread);
  CHECK(snap.cumulative_counts[0] == threads * per_thread / 2);
  CHECK(snap.sum == doctest::Approx(threads * per_thread * 0.625));
}

TEST_CASE("metrics: process metrics come from /proc") {
  auto stats = read_process_stats();
  REQUIRE(stats);
  CHECK(stats->cpu_seconds >= 0);
  CHECK(stats->resident_memory_bytes > 0);
  CHECK(stats->virtual_memory_bytes >= stats->resident_memory_bytes);
  CHECK(stats->threads >= 1);
  CHECK(stats->open_fds >= 1);
  CHECK(stats->max_fds >= stats->open_fds);
  CHECK(stats->start_time_seconds > 1.5e9);
  metrics_registry reg;
  REQUIRE_FALSE(add_process_metrics(reg));
  auto text = reg.render();
  for (auto name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_start_time_seconds",
        "process_open_fds", "process_max_fds", "process_threads"})
    CHECK(text.find(std::string{"\n"} + name + " ") != std::string::npos);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n")
        != std::string::npos);
  CHECK(add_process_metrics(reg)); // second registration fails
}

TEST_CASE("metrics: node metrics read the node context") {
  metrics_registry reg;
  auto stats = std::make_shared<http_server_stats>();
  stats->requests_answered = 5;
  REQUIRE_FALSE(add_node_metrics(reg, sample_context(), stats));
  auto text = reg.render();
  for (auto line :
       {"troupe_node_incarnation 3\n", "troupe_members_up 0\n",
        "troupe_actor_mailbox_messages{actor=\"probe/n1\"} 2\n",
        "troupe_actor_mailbox_capacity_messages{actor=\"probe/n1\"}"
        " 2\n",
        "troupe_actor_mailbox_dropped_total{actor=\"probe/n1\"} 1\n",
        "troupe_actor_restarts_total{actor=\"probe/n1\"} 2\n",
        "troupe_actor_restarts_total{actor=\"sup/node\"} 0\n",
        "troupe_admin_http_requests_total 5\n",
        "# TYPE troupe_admin_http_connections_open gauge\n"})
    CHECK_MESSAGE(text.find(line) != std::string::npos, line);
  // sup/node has no gate, so no mailbox series.
  CHECK(text.find("troupe_actor_mailbox_messages{actor=\"sup/node\"}")
        == std::string::npos);
}

TEST_CASE("metrics: the exposition passes promtool check metrics") {
  if (!has_promtool()) {
    MESSAGE("promtool not installed (Debian package: prometheus); skipped");
    return;
  }
  metrics_registry reg;
  REQUIRE_FALSE(add_process_metrics(reg));
  REQUIRE_FALSE(add_node_metrics(reg, sample_context(),
                                 std::make_shared<http_server_stats>()));
  auto c = reg.counter(
      {"troupe_test_requests_total", "Requests.", {{"node", "n1"}}, {"path"}});
  auto g = reg.gauge({"troupe_test_queue_messages", "Queued messages."});
  auto h = reg.histogram({"troupe_test_latency_seconds", "Latency."},
                         {0.001, 0.01, 0.1, 1});
  REQUIRE((c && g && h));
  (*c)->with({"/a\"b\\c\nd"}).inc(2);
  (*g)->with().set(0.5);
  (*h)->with().observe(0.02);
  REQUIRE_FALSE(
      reg.callback({"troupe_test_mailbox_messages", "Mailbox.", {}, {"actor"}},
                   metric_type::gauge, [] {
                     return std::vector<metric_sample>{{{"probe/n1"}, 3}};
                   }));
  auto dir = std::filesystem::temp_directory_path()
             / ("troupe-metrics-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto input = dir / "metrics.txt";
  auto output = dir / "promtool.out";
  std::ofstream{input} << reg.render();
  auto cmd = "promtool check metrics < " + input.string() + " > "
             + output.string() + " 2>&1";
  auto rc = std::system(cmd.c_str());
  INFO("promtool said: " << slurp(output));
  INFO("input: " << slurp(input));
  CHECK(rc == 0);
  CHECK(slurp(output).empty()); // no lint warnings either
  std::filesystem::remove_all(dir);
}
