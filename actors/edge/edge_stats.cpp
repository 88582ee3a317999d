#include "actors/edge/edge_stats.hpp"

#include "actors/edge/cache/cache.hpp"
#include "actors/edge/origin_set.hpp"
#include "actors/edge/rate_limiter.hpp"

namespace troupe::edge {

const char* cache_status_label(cache_status x) {
  static constexpr const char* names[] = {"hit",       "stale", "revalidated",
                                          "miss",      "collapsed", "pass",
                                          "synthetic"};
  return names[static_cast<size_t>(x)];
}

double edge_stats::hit_ratio() const {
  double hits = static_cast<double>(get(cache_status::hit) + get(cache_status::stale)
                                    + get(cache_status::collapsed));
  double all = hits
               + static_cast<double>(get(cache_status::miss)
                                     + get(cache_status::revalidated)
                                     + get(cache_status::pass));
  return all > 0 ? hits / all : 0;
}

namespace {

double v(const std::atomic<uint64_t>& x) {
  return static_cast<double>(x.load(std::memory_order_relaxed));
}

caf::error add_counters(metrics_registry& reg, const std::shared_ptr<edge_stats>& s) {
  caf::error err;
  auto check = [&](caf::error e) {
    if (e && !err)
      err = std::move(e);
  };
  check(reg.callback({"troupe_edge_requests_total",
                      "Edge requests by how they were answered.",
                      {},
                      {"cache_status"}},
                     metric_type::counter, [s] {
                       std::vector<metric_sample> out;
                       for (size_t i = 0; i < cache_status_count; ++i)
                         out.push_back({{cache_status_label(static_cast<cache_status>(i))},
                                        v(s->requests[i])});
                       return out;
                     }));
  check(reg.callback_gauge({"troupe_edge_hit_ratio",
                            "Cache hits (fresh, stale, collapsed) over cacheable-path "
                            "requests since start."},
                           [s] { return s->hit_ratio(); }));
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& x) {
    check(reg.callback_counter({name, help}, [s, &x] { return v(x); }));
  };
  counter("troupe_edge_response_body_bytes_total", "Body bytes sent to clients.", s->bytes_out);
  counter("troupe_edge_rate_limited_total", "Requests answered 429 by the rate limiter.",
          s->rate_limited);
  counter("troupe_edge_origin_unavailable_total",
          "Requests answered 503 at once because no origin was available.",
          s->origin_unavailable);
  counter("troupe_edge_origin_errors_total",
          "Requests answered 502/504 after the origins failed.", s->origin_errors);
  counter("troupe_edge_origin_retries_total",
          "Idempotent requests retried on another origin.", s->retries);
  counter("troupe_edge_coalesce_timeouts_total",
          "Coalesced requests that stopped waiting and fetched alone.", s->coalesce_timeouts);
  counter("troupe_edge_purged_objects_total", "Objects removed or marked stale by purges.",
          s->purged);
  counter("troupe_edge_connections_total", "Client connections accepted.", s->connections_total);
  counter("troupe_edge_connections_rejected_total",
          "Client connections closed at once (connection limit).", s->connections_rejected);
  counter("troupe_edge_bad_requests_total",
          "Requests answered with a parse or limit error (400, 413, 414, 431, 501, 505).",
          s->bad_requests);
  check(reg.callback_gauge({"troupe_edge_connections_open", "Open client connections."},
                           [s] { return v(s->connections_open); }));
  auto ev = s->events;
  check(reg.callback_counter({"troupe_edge_events_total", "Request events produced."},
                             [ev] { return v(ev->produced); }));
  check(reg.callback_counter({"troupe_edge_events_dropped_total",
                              "Request events dropped: no analytics worker took the batch."},
                             [ev] { return v(ev->dropped); }));
  return err;
}

caf::error add_origin_metrics(metrics_registry& reg, std::shared_ptr<origin_set> origins,
                              std::vector<metric_histogram*>& latency) {
  caf::error err;
  auto check = [&](caf::error e) {
    if (e && !err)
      err = std::move(e);
  };
  check(reg.callback({"troupe_edge_origin_breaker_state",
                      "1 for the state each origin's circuit breaker is in.",
                      {},
                      {"origin", "state"}},
                     metric_type::gauge, [origins] {
                       std::vector<metric_sample> out;
                       for (auto& o : origins->views(std::chrono::steady_clock::now()))
                         for (auto st : {breaker_state::closed, breaker_state::open,
                                         breaker_state::half_open})
                           out.push_back({{o.address, to_string(st)}, o.state == st ? 1.0 : 0.0});
                       return out;
                     }));
  check(reg.callback({"troupe_edge_origin_requests_total", "Requests sent to each origin.",
                      {}, {"origin"}},
                     metric_type::counter, [origins] {
                       std::vector<metric_sample> out;
                       for (auto& o : origins->views(std::chrono::steady_clock::now()))
                         out.push_back({{o.address}, static_cast<double>(o.requests)});
                       return out;
                     }));
  check(reg.callback({"troupe_edge_origin_failures_total",
                      "Origin requests that failed (transport error, timeout, 5xx).",
                      {}, {"origin"}},
                     metric_type::counter, [origins] {
                       std::vector<metric_sample> out;
                       for (auto& o : origins->views(std::chrono::steady_clock::now()))
                         out.push_back({{o.address}, static_cast<double>(o.failures)});
                       return out;
                     }));
  auto hist = reg.histogram({"troupe_edge_origin_request_duration_seconds",
                             "Origin exchanges, request sent to response read.",
                             {}, {"origin"}},
                            {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                             0.5, 1, 2.5, 5, 10});
  if (!hist)
    return hist.error();
  for (size_t i = 0; i < origins->size(); ++i)
    latency.push_back(&(*hist)->with({origins->address(i).to_string()}));
  return err;
}

} // namespace

caf::error register_edge_metrics(metrics_registry& reg, std::shared_ptr<edge_stats> stats,
                                 std::shared_ptr<origin_set> origins,
                                 std::shared_ptr<cache::cache> l1,
                                 std::shared_ptr<rate_limiter> limiter,
                                 std::vector<metric_histogram*>& origin_latency) {
  if (auto err = add_counters(reg, stats))
    return err;
  if (auto err = add_origin_metrics(reg, origins, origin_latency))
    return err;
  if (auto err = reg.callback_gauge({"troupe_edge_cache_objects", "Responses held in L1."},
                                    [l1] { return static_cast<double>(l1->stats().objects); }))
    return err;
  if (auto err = reg.callback_gauge({"troupe_edge_cache_bytes", "Bytes held in L1."},
                                    [l1] { return static_cast<double>(l1->stats().bytes); }))
    return err;
  return reg.callback_gauge({"troupe_edge_rate_limit_clients",
                             "Client addresses the rate limiter tracks."},
                            [limiter] { return static_cast<double>(limiter->tracked()); });
}

} // namespace troupe::edge
