// Active health checks: every --edge-health-interval-ms, worker 0 sends
// GET <--edge-health-path> to each origin on a fresh connection. An answer
// below 500 is a success. Results feed the origin's breaker, so an origin
// nobody requests still opens when it dies and closes when it returns (the
// check of a half-open origin is its trial).
#include "actors/edge/edge_io.hpp"

namespace troupe::edge {

namespace {

std::shared_ptr<const std::string> check_request(const edge_shared& sh, size_t i) {
  return std::make_shared<const std::string>(
    "GET " + sh.cfg.health_path + " HTTP/1.1\r\nHost: " + sh.origins->address(i).to_string()
    + "\r\nUser-Agent: troupe-edge-health/" + sh.node_id + "\r\nConnection: close\r\n\r\n");
}

void check_all(worker& w) {
  auto& sh = *w.shared;
  auto now = std::chrono::steady_clock::now();
  w.health_in_flight.resize(sh.origins->size());
  for (size_t i = 0; i < sh.origins->size(); ++i) {
    if (w.health_in_flight[i] || !sh.origins->health_check_due(i, now))
      continue;
    w.health_in_flight[i] = 1;
    auto shared = w.shared;
    auto* wp = &w;
    w.origins.fetch(i, check_request(sh, i), false, false, [shared, wp, i](fetch_result r) {
      wp->health_in_flight[i] = 0;
      bool ok = r.ok && r.res.status < 500;
      std::string why = ok     ? std::string{}
                        : r.ok ? "health check answered " + std::to_string(r.res.status)
                               : r.error;
      shared->origins->on_health(i, ok, std::move(why), std::chrono::steady_clock::now());
    });
  }
}

void schedule(worker& w) {
  w.health_timer->expires_after(std::chrono::milliseconds{w.shared->cfg.health_interval_ms});
  w.health_timer->async_wait([&w](const asio::error_code& ec) {
    if (ec)
      return;
    check_all(w);
    schedule(w);
  });
}

} // namespace

void start_health_checks(worker& w) {
  if (w.shared->cfg.health_interval_ms == 0 || w.shared->origins->size() == 0)
    return;
  w.health_timer.emplace(w.io);
  schedule(w);
}

} // namespace troupe::edge
