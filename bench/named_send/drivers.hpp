// The driver actors, which send requests or messages along one path and time
// them, and running one of them to completion from the main thread.
#pragma once

#include "actors.hpp"
#include "options.hpp"
#include "report.hpp"

#include "net/envelope.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace troupe::bench {

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

/// An error unless `reply` holds a Pong.
caf::error check_pong(const envelope& reply);

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
  st.latency_ns.push_back((now - st.sent_at) / std::chrono::nanoseconds{1});
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

/// The driver's measurement; fatal if it failed or did not finish in time.
measurement await(completion& done, const std::string& what,
                  const options& opts);

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

} // namespace troupe::bench
