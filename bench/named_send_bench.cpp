// named_send_bench: what the runtime's send and request by name cost, next to
// bare CAF doing the same work in the same process and the same run.
//
// One binary, two roles. As `--role client` (the default) it measures:
//   local.rtt      request_by_name to a local named echo vs self->request
//   local.oneway   send_by_name vs anon_send, with a credit window and acks
// then forks/execs itself as `--role server` over 127.0.0.1 and measures:
//   remote.rtt / remote.pipelined
//     gateway   (route_atom, name, envelope) to the server's gateway
//     named     request_by_name through a client node_context whose seed
//               directory learned the server from its members table
//     caf       the envelope straight to a published bare echo actor
// Every echo does the same protobuf work (unpack Ping, pack Pong), so the
// ratios show the runtime's own cost: name lookup, gate, handler dispatch and
// the gateway hop. Each scenario runs --runs times; within a run the paths
// take turns in --blocks rounds (so background load hits them alike), and the
// medians over runs are compared. docs/bench-named-send.md has results.
#include "actors/probe/probe.hpp"
#include "net/envelope.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"
#include "runtime/directory.hpp"
#include "runtime/gateway.hpp"
#include "runtime/named.hpp"
#include "runtime/node_context.hpp"
#include "runtime/proto_actor.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/envelope.pb.h"
#include "troupe/probe.pb.h"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace troupe::bench {

namespace {

using bench_clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

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

// What a driver actor measured: `count` round trips or messages in
// `elapsed_s`, and the latency of each round trip (sequential drivers only).
// Blocks of one run are merged into one measurement.
struct measurement {
  size_t count = 0;
  double elapsed_s = 0;
  std::vector<int64_t> latency_ns;
};

void merge(measurement& into, measurement part) {
  into.count += part.count;
  into.elapsed_s += part.elapsed_s;
  into.latency_ns.insert(into.latency_ns.end(), part.latency_ns.begin(),
                         part.latency_ns.end());
}

// One run of one path, summarized.
struct sample {
  double per_second = 0; // round trips or messages per second
  bool has_latency = false;
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// -- the server child, and killing it whatever happens -----------------------

std::atomic<pid_t> server_pid{0};

void kill_server_now() {
  auto pid = server_pid.exchange(0);
  if (pid > 0)
    ::kill(pid, SIGKILL);
}

extern "C" void on_stop_signal(int sig) {
  kill_server_now(); // async-signal-safe: an atomic exchange and kill(2)
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "named_send_bench: %s\n", what.c_str());
  kill_server_now();
  // The actor system may still run stuck actors; do not wait for them.
  std::_Exit(2);
}

// -- the measured actors: echo and sink, in a troupe and a bare version ------

v1::Pong echo_answer(const v1::Ping& ping) {
  return probe::answer(ping, "bench", "echo", 1);
}

// Named echo, built like every named actor: proto_handlers behind a gate.
caf::behavior troupe_echo(caf::event_based_actor*,
                          std::shared_ptr<mailbox_gate> gate) {
  proto_handlers handlers;
  handlers.on<v1::Ping>([](const v1::Ping& ping) { return echo_answer(ping); });
  return handlers.to_behavior(std::move(gate));
}

// Bare echo: the same protobuf work in a plain CAF handler.
caf::behavior bare_echo(caf::event_based_actor*) {
  return {
      [](const envelope& env) -> caf::result<envelope> {
        auto ping = unpack<v1::Ping>(env);
        if (!ping)
          return std::move(ping.error());
        return pack(echo_answer(*ping));
      },
  };
}

// Counts one-way messages and acks every `ack_every` to the sender. Only the
// sink actor touches it once the run started.
struct sink_counter {
  uint64_t total = 0;
  uint64_t ack_every = 0;
  uint64_t received = 0;
  caf::actor ack_to; // set before the sender starts
};

void count_one(sink_counter& c) {
  ++c.received;
  if (c.received % c.ack_every == 0 || c.received == c.total)
    caf::anon_send(c.ack_to, c.received);
}

caf::behavior troupe_sink(caf::event_based_actor*,
                          std::shared_ptr<sink_counter> counter,
                          std::shared_ptr<mailbox_gate> gate) {
  proto_handlers handlers;
  handlers.on<v1::Ping>([counter](const v1::Ping&) {
    count_one(*counter);
    return v1::Empty{};
  });
  return handlers.to_behavior(std::move(gate));
}

caf::behavior bare_sink(caf::event_based_actor*,
                        std::shared_ptr<sink_counter> counter) {
  return {
      [counter](const envelope& env) -> caf::result<envelope> {
        auto ping = unpack<v1::Ping>(env);
        if (!ping)
          return std::move(ping.error());
        count_one(*counter);
        return pack(v1::Empty{});
      },
  };
}

void host_named(node_context& ctx, const std::string& name, caf::actor handle,
                std::shared_ptr<mailbox_gate> gate) {
  local_actor_entry entry;
  entry.name = name;
  entry.type = "bench";
  entry.handle = std::move(handle);
  entry.gate = std::move(gate);
  entry.status = "running";
  entry.kind = "permanent";
  entry.incarnation = 1;
  ctx.table->upsert(std::move(entry));
}

// -- paths: how one request or one send travels ------------------------------

// self->request(actor, timeout, envelope): bare CAF, local or to a proxy.
struct bare_path {
  caf::actor target;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    self->request(target, defaults::request_timeout, msg)
        .then(std::move(on_reply), std::move(on_error));
  }
};

// The remote named request as the runtime sends it once the placement is
// known: (route_atom, name, envelope) to the hosting node's gateway.
struct gateway_path {
  caf::actor gateway;
  std::string name;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    self->request(gateway, defaults::request_timeout, route_atom_v, name, msg)
        .then(std::move(on_reply), std::move(on_error));
  }
};

// The runtime's API: request_by_name, local table or cached placement.
struct named_path {
  node_context_ptr ctx;
  std::string name;
  envelope msg;
  template <class OnReply, class OnError>
  void ask(caf::event_based_actor* self, OnReply on_reply,
           OnError on_error) const {
    request_by_name(self, ctx, name, msg, defaults::request_timeout,
                    std::move(on_reply), std::move(on_error));
  }
};

struct bare_send {
  caf::actor target;
  envelope msg;
  void operator()(caf::event_based_actor*) const {
    caf::anon_send(target, msg);
  }
};

struct named_send {
  node_context_ptr ctx;
  std::string name;
  envelope msg;
  void operator()(caf::event_based_actor* self) const {
    send_by_name(self, ctx, name, msg);
  }
};

// -- the driver actors -------------------------------------------------------

// Hands one measurement from a driver actor to the main thread.
class completion {
public:
  void finish(caf::expected<measurement> result) {
    if (!finished_.exchange(true))
      promise_.set_value(std::move(result));
  }

  /// The driver's result, or nothing if it did not finish within `limit`.
  std::optional<caf::expected<measurement>> wait(std::chrono::seconds limit) {
    if (future_.wait_for(limit) != std::future_status::ready)
      return std::nullopt;
    return future_.get();
  }

private:
  std::atomic<bool> finished_{false};
  std::promise<caf::expected<measurement>> promise_;
  std::future<caf::expected<measurement>> future_ = promise_.get_future();
};

double seconds_between(bench_clock::time_point from,
                       bench_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
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

caf::error check_pong(const envelope& reply) {
  if (holds<v1::Pong>(reply))
    return caf::none;
  return make_error(errc::unexpected_message,
                    "expected a Pong, got " + reply.type);
}

// Sequential round trips: one request in flight, latency of each recorded.
template <class Path>
struct rtt_state {
  Path path;
  size_t total = 0;
  std::vector<int64_t> latency_ns;
  bench_clock::time_point started;
  bench_clock::time_point sent_at;
  std::shared_ptr<completion> out;
};

template <class Path>
using rtt_actor = caf::stateful_actor<rtt_state<Path>>;

template <class Path>
void rtt_ask(rtt_actor<Path>* self);

template <class Path>
void rtt_on_reply(rtt_actor<Path>* self, const envelope& reply) {
  auto now = bench_clock::now();
  auto& st = self->state;
  if (auto err = check_pong(reply)) {
    st.out->finish(std::move(err));
    self->quit();
    return;
  }
  st.latency_ns.push_back((now - st.sent_at) / 1ns);
  if (st.latency_ns.size() < st.total) {
    rtt_ask(self);
    return;
  }
  measurement m;
  m.count = st.total;
  m.elapsed_s = seconds_between(st.started, now);
  m.latency_ns = std::move(st.latency_ns);
  st.out->finish(std::move(m));
  self->quit();
}

template <class Path>
void rtt_ask(rtt_actor<Path>* self) {
  self->state.sent_at = bench_clock::now();
  self->state.path.ask(
      self, [self](envelope& reply) { rtt_on_reply(self, reply); },
      [self](caf::error& err) {
        self->state.out->finish(std::move(err));
        self->quit();
      });
}

template <class Path>
caf::behavior rtt_driver(rtt_actor<Path>* self, Path path, size_t total,
                         std::shared_ptr<completion> out) {
  auto& st = self->state;
  st.path = std::move(path);
  st.total = total;
  st.out = std::move(out);
  st.latency_ns.reserve(total);
  st.started = bench_clock::now();
  rtt_ask(self);
  return {}; // CAF keeps the actor alive while a response is pending
}

// Pipelined requests: `window` in flight, throughput only.
template <class Path>
struct pipeline_state {
  Path path;
  size_t total = 0;
  size_t issued = 0;
  size_t answered = 0;
  bench_clock::time_point started;
  std::shared_ptr<completion> out;
};

template <class Path>
using pipeline_actor = caf::stateful_actor<pipeline_state<Path>>;

template <class Path>
void pipeline_issue(pipeline_actor<Path>* self);

template <class Path>
void pipeline_on_reply(pipeline_actor<Path>* self, const envelope& reply) {
  auto& st = self->state;
  if (auto err = check_pong(reply)) {
    st.out->finish(std::move(err));
    self->quit();
    return;
  }
  if (++st.answered == st.total) {
    st.out->finish(measurement{
        st.total, seconds_between(st.started, bench_clock::now()), {}});
    self->quit();
  } else if (st.issued < st.total) {
    pipeline_issue(self);
  }
}

template <class Path>
void pipeline_issue(pipeline_actor<Path>* self) {
  ++self->state.issued;
  self->state.path.ask(
      self, [self](envelope& reply) { pipeline_on_reply(self, reply); },
      [self](caf::error& err) {
        self->state.out->finish(std::move(err));
        self->quit();
      });
}

template <class Path>
caf::behavior pipeline_driver(pipeline_actor<Path>* self, Path path,
                              size_t total, size_t window,
                              std::shared_ptr<completion> out) {
  auto& st = self->state;
  st.path = std::move(path);
  st.total = total;
  st.out = std::move(out);
  st.started = bench_clock::now();
  for (size_t i = 0; i < std::min(window, total); ++i)
    pipeline_issue(self);
  return {};
}

// One-way sends with credit: at most two windows unacknowledged, so neither
// mailbox grows past 2 * window and a gate of that size never drops.
template <class Send>
struct oneway_state {
  Send send;
  uint64_t total = 0;
  uint64_t window = 0;
  uint64_t sent = 0;
  bench_clock::time_point started;
  std::shared_ptr<completion> out;
};

template <class Send>
using oneway_actor = caf::stateful_actor<oneway_state<Send>>;

template <class Send>
void oneway_on_ack(oneway_actor<Send>* self, uint64_t acked) {
  auto& st = self->state;
  if (st.sent == 0)
    st.started = bench_clock::now();
  if (acked >= st.total) {
    st.out->finish(measurement{
        st.total, seconds_between(st.started, bench_clock::now()), {}});
    self->quit();
    return;
  }
  auto limit = std::min(st.total, acked + 2 * st.window);
  for (; st.sent < limit; ++st.sent)
    st.send(self);
}

template <class Send>
caf::behavior oneway_driver(oneway_actor<Send>* self, Send send, uint64_t total,
                            uint64_t window, std::shared_ptr<completion> out) {
  auto& st = self->state;
  st.send = std::move(send);
  st.total = total;
  st.window = window;
  st.out = std::move(out);
  return {
      [self](uint64_t acked) { oneway_on_ack(self, acked); },
  };
}

// -- running measurements from the main thread -------------------------------

measurement await(completion& done, const std::string& what,
                  const options& opts) {
  auto result = done.wait(std::chrono::seconds{opts.max_seconds});
  if (!result)
    fatal(what + " did not finish within " + std::to_string(opts.max_seconds)
          + " s; aborting");
  if (!*result)
    fatal(what + " failed: " + describe(result->error()));
  return std::move(**result);
}

template <class Path>
measurement measure_rtt(caf::actor_system& sys, Path path, size_t n,
                        const options& opts, const std::string& what) {
  auto done = std::make_shared<completion>();
  sys.spawn(rtt_driver<Path>, std::move(path), n, done);
  return await(*done, what, opts);
}

template <class Path>
measurement measure_pipelined(caf::actor_system& sys, Path path, size_t n,
                              const options& opts, const std::string& what) {
  auto done = std::make_shared<completion>();
  sys.spawn(pipeline_driver<Path>, std::move(path), n, opts.pipeline_window,
            done);
  return await(*done, what, opts);
}

template <class Send>
measurement measure_oneway(caf::actor_system& sys, Send send,
                           const std::shared_ptr<sink_counter>& counter,
                           const options& opts, const std::string& what) {
  auto done = std::make_shared<completion>();
  auto sender = sys.spawn(oneway_driver<Send>, std::move(send), counter->total,
                          uint64_t{opts.oneway_window}, done);
  counter->ack_to = sender; // read by the sink only after the kick below
  caf::anon_send(sender, uint64_t{0});
  return await(*done, what, opts);
}

// -- results -----------------------------------------------------------------

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

struct metric {
  const char* suffix;
  double (*get)(const sample&);
  bool higher_is_better;
};

const metric throughput_metrics[] = {
    {"per_s", [](const sample& s) { return s.per_second; }, true},
};

const metric latency_metrics[] = {
    {"rt_per_s", [](const sample& s) { return s.per_second; }, true},
    {"mean_us", [](const sample& s) { return s.mean_us; }, false},
    {"p50_us", [](const sample& s) { return s.p50_us; }, false},
    {"p99_us", [](const sample& s) { return s.p99_us; }, false},
};

// Every sample by "scenario/path", in run order.
class report {
public:
  void add(const std::string& scenario, const std::string& path, sample s,
           int run, int runs) {
    std::printf("# run %d/%d %-18s %-7s %s/s", run + 1, runs, scenario.c_str(),
                path.c_str(), format_value(s.per_second).c_str());
    if (s.has_latency)
      std::printf(
          "  mean %s us  p50 %s us  p99 %s us", format_value(s.mean_us).c_str(),
          format_value(s.p50_us).c_str(), format_value(s.p99_us).c_str());
    std::printf("\n");
    std::fflush(stdout);
    series_[scenario + "/" + path].push_back(s);
  }

  void add_info(const std::string& key, double value) {
    info_[key].push_back(value);
  }

  void count_drops(uint64_t n) {
    drops_ += n;
  }
  uint64_t drops() const {
    return drops_;
  }

  const std::vector<sample>* find(const std::string& key) const {
    auto i = series_.find(key);
    return i == series_.end() ? nullptr : &i->second;
  }

  std::optional<double> info_median(const std::string& key) const {
    auto i = info_.find(key);
    if (i == info_.end())
      return std::nullopt;
    return median(i->second);
  }

  std::optional<double> median_of(const std::string& key,
                                  const metric& m) const {
    auto* xs = find(key);
    if (xs == nullptr)
      return std::nullopt;
    std::vector<double> values;
    for (auto& s : *xs)
      values.push_back(m.get(s));
    return median(values);
  }

private:
  std::map<std::string, std::vector<sample>> series_;
  std::map<std::string, std::vector<double>> info_;
  uint64_t drops_ = 0;
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

// One path of a scenario: measures one block of that path.
struct path_block {
  const char* path;
  std::function<measurement()> measure;
};

// Runs one run of a scenario as `blocks` rounds; in each round every path
// measures one block, in an order rotated by round and run. Background load
// on a shared machine changes over seconds, so interleaving small blocks lets
// it hit every path alike instead of whichever path ran during a burst.
void interleaved(const char* scenario, const std::vector<path_block>& paths,
                 int run, const options& opts, report& rep) {
  std::vector<measurement> totals(paths.size());
  for (size_t round = 0; round < opts.blocks; ++round) {
    auto shift = round + static_cast<size_t>(run);
    for (size_t k = 0; k < paths.size(); ++k) {
      auto i = (k + shift) % paths.size();
      merge(totals[i], paths[i].measure());
    }
  }
  for (size_t i = 0; i < paths.size(); ++i)
    rep.add(scenario, paths[i].path, summarize(totals[i]), run, opts.runs);
}

size_t per_block(size_t n, const options& opts) {
  return std::max<size_t>(1, n / opts.blocks);
}

envelope make_ping(size_t payload_bytes) {
  v1::Ping ping;
  ping.set_payload(std::string(payload_bytes, 'x'));
  return pack(ping);
}

// -- context: single-threaded cost of each piece of the named path -----------

// Best of three, as the machine is shared: the minimum is the cost itself,
// the rest is other processes.
template <class F>
double ns_per_op(size_t n, F f) {
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    auto start = bench_clock::now();
    for (size_t i = 0; i < n; ++i)
      f();
    auto ns = seconds_between(start, bench_clock::now()) * 1e9
              / static_cast<double>(n);
    best = round == 0 ? ns : std::min(best, ns);
  }
  return best;
}

// Where the micro-benchmarks put their results, so no loop is optimized away.
volatile size_t optimization_barrier = 0;

// A node's table also holds its supervisors and other workers, so a name
// lookup searches among them.
void add_bystanders(node_context& ctx, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    local_actor_entry entry;
    entry.name = "worker/" + std::to_string(i);
    entry.type = "bench";
    entry.status = "stopped";
    entry.gate = std::make_shared<mailbox_gate>(1);
    ctx.table->upsert(std::move(entry));
  }
}

void print_component_costs(const envelope& ping) {
  constexpr size_t n = 1000000;
  constexpr size_t m = 200000;
  size_t hits = 0;
  node_context ctx;
  add_bystanders(ctx, 32);
  auto gate = std::make_shared<mailbox_gate>(10);
  host_named(ctx, "echo", caf::actor{}, gate);
  ctx.names.put("echo", placement{"n2", {}});
  const std::string name = "echo";
  auto lookup
      = ns_per_op(n, [&] { hits += ctx.table->find_route(name).has_value(); });
  auto cached = ns_per_op(n, [&] { hits += ctx.names.find(name).has_value(); });
  auto gated = ns_per_op(n, [&] {
    hits += gate->try_enter();
    gate->leave();
  });
  proto_handlers handlers;
  handlers.on<v1::Ping>([](const v1::Ping& p) { return echo_answer(p); });
  auto dispatched = ns_per_op(
      m, [&] { hits += static_cast<bool>(handlers.dispatch(ping)); });
  auto bare = ns_per_op(m, [&] {
    if (auto p = unpack<v1::Ping>(ping))
      hits += pack(echo_answer(*p)).bytes.size();
  });
  std::printf("# one thread, no contention: table find_route %.0f ns (33 "
              "entries), name_cache find %.0f ns, gate enter+leave %.0f ns, "
              "proto_handlers dispatch %.0f ns vs the same protobuf work "
              "inline %.0f ns\n",
              lookup, cached, gated, dispatched, bare);
  optimization_barrier = hits;
}

void print_payload_sizes(caf::actor_system& sys, const envelope& ping) {
  auto size_of = [&](caf::message msg) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    return sink(msg) ? size_t{0} : buf.size();
  };
  std::printf(
      "# CAF payload of one request: caf %zu bytes, gateway route %zu "
      "bytes (Ping envelope: type %zu + bytes %zu)\n",
      size_of(caf::make_message(ping)),
      size_of(caf::make_message(route_atom_v, std::string{"echo"}, ping)),
      ping.type.size(), ping.bytes.size());
}

// -- local scenarios ---------------------------------------------------------

measurement oneway_troupe(caf::actor_system& sys, const node_context_ptr& ctx,
                          const envelope& ping, const options& opts,
                          report& rep) {
  auto counter = std::make_shared<sink_counter>();
  counter->total = per_block(opts.oneway_n, opts);
  counter->ack_every = opts.oneway_window;
  auto gate = std::make_shared<mailbox_gate>(2 * opts.oneway_window);
  auto sink = sys.spawn(troupe_sink, counter, gate);
  host_named(*ctx, "sink", sink, gate);
  auto s = measure_oneway(sys, named_send{ctx, "sink", ping}, counter, opts,
                          "local.oneway troupe");
  rep.count_drops(gate->dropped());
  ctx->table->erase_subtree("sink");
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return s;
}

measurement oneway_caf(caf::actor_system& sys, const envelope& ping,
                       const options& opts) {
  auto counter = std::make_shared<sink_counter>();
  counter->total = per_block(opts.oneway_n, opts);
  counter->ack_every = opts.oneway_window;
  auto sink = sys.spawn(bare_sink, counter);
  auto s = measure_oneway(sys, bare_send{sink, ping}, counter, opts,
                          "local.oneway caf");
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  return s;
}

void run_local(caf::actor_system& sys, const options& opts, report& rep) {
  auto ping = make_ping(opts.payload_bytes);
  auto ctx = std::make_shared<node_context>();
  ctx->self.node_id = "bench-local";
  add_bystanders(*ctx, 32);
  auto gate = std::make_shared<mailbox_gate>(defaults::mailbox_capacity);
  auto echo = sys.spawn(troupe_echo, gate);
  host_named(*ctx, "echo", echo, gate);
  auto bare = sys.spawn(bare_echo);
  named_path named{ctx, "echo", ping};
  bare_path direct{bare, ping};
  measure_rtt(sys, named, opts.warmup_n, opts, "local warm-up troupe");
  measure_rtt(sys, direct, opts.warmup_n, opts, "local warm-up caf");
  auto n = per_block(opts.local_rtt_n, opts);
  std::vector<path_block> rtt{
      {"troupe",
       [&] { return measure_rtt(sys, named, n, opts, "local.rtt troupe"); }},
      {"caf",
       [&] { return measure_rtt(sys, direct, n, opts, "local.rtt caf"); }},
  };
  std::vector<path_block> oneway{
      {"troupe", [&] { return oneway_troupe(sys, ctx, ping, opts, rep); }},
      {"caf", [&] { return oneway_caf(sys, ping, opts); }},
  };
  for (int run = 0; run < opts.runs; ++run) {
    interleaved("local.rtt", rtt, run, opts, rep);
    interleaved("local.oneway", oneway, run, opts, rep);
  }
  rep.count_drops(gate->dropped());
  ctx->table->erase_subtree("echo");
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bare, caf::exit_reason::user_shutdown);
}

// -- the server process ------------------------------------------------------

// The server's actors: a gateway whose table holds a named echo, and a bare
// echo with the same protobuf work.
struct server_actors {
  node_context_ptr ctx;
  caf::actor echo;
  caf::actor bare;

  void stop() const {
    for (auto& a : {echo, bare, ctx->gateway})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

server_actors spawn_server_actors(caf::actor_system& sys) {
  server_actors result;
  result.ctx = std::make_shared<node_context>();
  result.ctx->self.node_id = "bench-server";
  add_bystanders(*result.ctx, 32);
  auto gate = std::make_shared<mailbox_gate>(defaults::mailbox_capacity);
  result.echo = sys.spawn(troupe_echo, gate);
  host_named(*result.ctx, "echo", result.echo, gate);
  result.ctx->gateway = spawn_gateway(sys, result.ctx);
  result.bare = sys.spawn(bare_echo);
  return result;
}

// Serves until its stdin closes (the client is done) or the client dies
// (PR_SET_PDEATHSIG, set before exec).
int run_server(const options& opts) {
  ::signal(SIGPIPE, SIG_IGN);
  caf::actor_system_config cfg;
  configure_caf(cfg, defaults::heartbeat_interval,
                defaults::connection_timeout);
  caf::actor_system sys{cfg};
  auto actors = spawn_server_actors(sys);
  auto& mm = sys.middleman();
  auto gateway_port
      = mm.publish(actors.ctx->gateway, opts.port, "127.0.0.1", true);
  auto bare_port = mm.publish(actors.bare, opts.port == 0 ? 0 : opts.port + 1,
                              "127.0.0.1", true);
  if (!gateway_port || !bare_port) {
    std::fprintf(
        stderr, "named_send_bench server: cannot publish: %s\n",
        sys.render(gateway_port ? bare_port.error() : gateway_port.error())
            .c_str());
    actors.stop(); // the actor system waits for every actor before exiting
    return 1;
  }
  std::printf("ready %u %u\n", unsigned{*gateway_port}, unsigned{*bare_port});
  std::fflush(stdout);
  ::dup2(STDERR_FILENO, STDOUT_FILENO); // the client stops reading the pipe
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  actors.stop();
  return 0;
}

struct server_handle {
  pid_t pid = -1;
  int to_child = -1; // closing it tells the server to stop
  uint16_t gateway_port = 0;
  uint16_t bare_port = 0;
};

[[noreturn]] void exec_server(pid_t parent, int in, int out, char** argv) {
  // Only async-signal-safe calls between fork and exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(1); // the client died before prctl
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::execv("/proc/self/exe", argv);
  ::_exit(127);
}

// Reads the server's "ready GATEWAY_PORT BARE_PORT" line.
std::optional<std::pair<uint16_t, uint16_t>> read_ready(int fd) {
  std::string line;
  auto deadline = bench_clock::now() + 30s;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - bench_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return std::nullopt;
    char buf[64];
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      return std::nullopt;
    line.append(buf, static_cast<size_t>(n));
  }
  unsigned gateway = 0;
  unsigned bare = 0;
  if (std::sscanf(line.c_str(), "ready %u %u", &gateway, &bare) != 2)
    return std::nullopt;
  return std::pair{static_cast<uint16_t>(gateway), static_cast<uint16_t>(bare)};
}

server_handle start_server(const options& opts) {
  // Everything exec needs is allocated before fork: the child may not malloc.
  std::vector<std::string> args{"named_send_bench", "--role", "server",
                                "--port", std::to_string(opts.port)};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    fatal("pipe2 failed");
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0)
    fatal("fork failed");
  if (pid == 0)
    exec_server(parent, in[0], out[1], argv.data());
  server_pid = pid;
  ::close(in[0]);
  ::close(out[1]);
  auto ports = read_ready(out[0]);
  ::close(out[0]);
  if (!ports)
    fatal("the server exited or did not report its ports within 30 s "
          "(see its error above)");
  return {pid, in[1], ports->first, ports->second};
}

void stop_server(server_handle& server) {
  ::close(server.to_child);
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(server.pid, nullptr, WNOHANG) == server.pid) {
      server_pid = 0;
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  kill_server_now();
  ::waitpid(server.pid, nullptr, 0);
}

// -- remote scenarios --------------------------------------------------------

caf::actor connect(caf::actor_system& sys, uint16_t port) {
  auto handle = sys.middleman().remote_actor("127.0.0.1", port);
  if (!handle)
    fatal("cannot connect to 127.0.0.1:" + std::to_string(port) + ": "
          + sys.render(handle.error()));
  return *handle;
}

// A client node that knows the server only as a member: request_by_name
// resolves "echo" through the seed directory once, then uses the cache.
node_context_ptr client_context(caf::actor_system& sys,
                                const caf::actor& server_gateway) {
  auto ctx = std::make_shared<node_context>();
  ctx->self.node_id = "bench-client";
  ctx->directory = caf::actor_cast<caf::actor>(spawn_seed_directory(sys, ctx));
  member_entry server;
  server.info.set_node_id("bench-server");
  server.status = v1::MEMBER_STATUS_UP;
  server.gateway = server_gateway;
  ctx->members.upsert(std::move(server));
  return ctx;
}

struct remote_paths {
  gateway_path gateway;
  named_path named;
  bare_path caf;
};

void remote_run(caf::actor_system& sys, const remote_paths& p,
                const options& opts, report& rep, int run) {
  // The first request after the cache was cleared pays for the resolve.
  p.named.ctx->names.erase("echo");
  auto first = measure_rtt(sys, p.named, 1, opts, "remote first resolve");
  rep.add_info("first_resolve_us",
               static_cast<double>(first.latency_ns[0]) / 1e3);
  auto n = per_block(opts.remote_rtt_n, opts);
  auto rtt = [&](const auto& path,
                 const char* what) -> std::function<measurement()> {
    return [&, what] { return measure_rtt(sys, path, n, opts, what); };
  };
  interleaved("remote.rtt",
              {{"gateway", rtt(p.gateway, "remote.rtt gateway")},
               {"named", rtt(p.named, "remote.rtt named")},
               {"caf", rtt(p.caf, "remote.rtt caf")}},
              run, opts, rep);
  auto m = per_block(opts.pipelined_n, opts);
  auto piped = [&](const auto& path,
                   const char* what) -> std::function<measurement()> {
    return [&, what] { return measure_pipelined(sys, path, m, opts, what); };
  };
  interleaved("remote.pipelined",
              {{"gateway", piped(p.gateway, "remote.pipelined gateway")},
               {"named", piped(p.named, "remote.pipelined named")},
               {"caf", piped(p.caf, "remote.pipelined caf")}},
              run, opts, rep);
}

void run_remote(caf::actor_system& sys, const options& opts, report& rep) {
  auto server = start_server(opts);
  std::printf("# server pid %d: gateway on 127.0.0.1:%u, bare echo on "
              "127.0.0.1:%u\n",
              static_cast<int>(server.pid), unsigned{server.gateway_port},
              unsigned{server.bare_port});
  auto gateway = connect(sys, server.gateway_port);
  auto bare = connect(sys, server.bare_port);
  auto ping = make_ping(opts.payload_bytes);
  auto ctx = client_context(sys, gateway);
  remote_paths paths{
      {gateway, "echo", ping}, {ctx, "echo", ping}, {bare, ping}};
  measure_rtt(sys, paths.gateway, opts.warmup_n, opts,
              "remote warm-up gateway");
  measure_rtt(sys, paths.named, opts.warmup_n, opts, "remote warm-up named");
  measure_rtt(sys, paths.caf, opts.warmup_n, opts, "remote warm-up caf");
  for (int run = 0; run < opts.runs; ++run)
    remote_run(sys, paths, opts, rep, run);
  caf::anon_send_exit(ctx->directory, caf::exit_reason::user_shutdown);
  stop_server(server);
}

// -- main --------------------------------------------------------------------

// The machine is shared: the load average says how much.
void print_load(const char* when) {
  char buf[128] = {0};
  if (auto* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fgets(buf, sizeof buf, f) == nullptr)
      buf[0] = 0;
    std::fclose(f);
  }
  std::printf("# load average %s: %s", when, buf[0] ? buf : "unknown\n");
}

void print_header(caf::actor_system& sys, const options& opts) {
  std::printf("# named_send_bench: %d runs of %zu interleaved blocks; local "
              "rtt n=%zu, one-way n=%zu (window %zu); remote rtt n=%zu, "
              "pipelined n=%zu (window %zu); Ping payload %zu bytes\n",
              opts.runs, opts.blocks, opts.local_rtt_n, opts.oneway_n,
              opts.oneway_window, opts.remote_rtt_n, opts.pipelined_n,
              opts.pipeline_window, opts.payload_bytes);
  std::printf("# %u hardware threads, %zu CAF workers, configure_caf defaults "
              "(max-throughput %u, heartbeat %lld ms)\n",
              std::thread::hardware_concurrency(),
              sys.scheduler().num_workers(), defaults::scheduler_max_throughput,
              static_cast<long long>(defaults::heartbeat_interval.count()));
}

int run_client(const options& opts) {
  for (auto sig : {SIGINT, SIGTERM, SIGHUP})
    ::signal(sig, on_stop_signal);
  caf::actor_system_config cfg;
  configure_caf(cfg, defaults::heartbeat_interval,
                defaults::connection_timeout);
  caf::actor_system sys{cfg};
  print_header(sys, opts);
  print_load("at start");
  auto ping = make_ping(opts.payload_bytes);
  print_component_costs(ping);
  print_payload_sizes(sys, ping);
  report rep;
  if (opts.only != "remote")
    run_local(sys, opts, rep);
  if (opts.only != "local")
    run_remote(sys, opts, rep);
  print_comparisons(rep);
  print_summary(rep, opts);
  print_load("at end");
  return 0;
}

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

} // namespace

} // namespace troupe::bench

int main(int argc, char** argv) {
  troupe::bench::options opts;
  CLI::App app{"named_send_bench: troupe's named send/request vs bare CAF"};
  troupe::bench::add_options(app, opts);
  CLI11_PARSE(app, argc, argv);
  if (opts.role == "server")
    return troupe::bench::run_server(opts);
  return troupe::bench::run_client(opts);
}
