#include "actors/dashboard/dashboard.hpp"

#include "actors/dashboard/parts.hpp"

namespace troupe::dashboard {

namespace {

caf::error add_metrics(metrics_registry& reg, const shared_view_ptr& view) {
  auto stats = view->ws_stats;
  struct spec {
    const char* name;
    const char* help;
    std::function<double()> read;
  };
  auto n = [](const std::atomic<uint64_t>& x) { return static_cast<double>(x.load()); };
  std::vector<spec> counters = {
    {"troupe_dashboard_connections_total", "Dashboard WebSocket connections opened.",
     [=] { return n(stats->connections_opened); }},
    {"troupe_dashboard_messages_sent_total", "Messages sent to dashboard browsers.",
     [=] { return n(stats->messages_sent); }},
    {"troupe_dashboard_messages_received_total", "Messages received from dashboard browsers.",
     [=] { return n(stats->messages_received); }},
    {"troupe_dashboard_messages_dropped_total",
     "Messages not sent because a browser's send queue was full (it gets a fresh snapshot "
     "once it drains).",
     [=] { return n(stats->messages_dropped); }},
    {"troupe_dashboard_slow_disconnects_total",
     "Dashboard browsers closed with 1008 because they read too slowly.",
     [=] { return n(stats->slow_disconnects); }},
    {"troupe_dashboard_protocol_closes_total",
     "Dashboard connections closed because the browser broke the WebSocket protocol.",
     [=] { return n(stats->protocol_closes); }},
  };
  for (auto& c : counters)
    if (auto err = reg.callback_counter({c.name, c.help}, c.read))
      return err;
  return reg.callback_gauge({"troupe_dashboard_connections_open",
                             "Dashboard WebSocket connections open."},
                            [=] { return n(stats->connections_open); });
}

} // namespace

caf::expected<supervisor_spec> make_role(role_environment& env) {
  options opts;
  opts.node_id = env.cfg.node_id;
  opts.token = env.cfg.dashboard_token;
  opts.allow_origins = env.cfg.dashboard_allow_origins;
  auto view = std::make_shared<shared_view>(std::move(opts));
  if (auto err = add_metrics(*env.ctx->metrics, view))
    return err;
  for (auto& r : routes(env.ctx, view))
    env.ctx->admin_routes.push_back(std::move(r));
  supervisor_spec sup;
  sup.name = "sup/" + env.cfg.node_id + "/dashboard";
  sup.intensity = {env.cfg.max_restarts, std::chrono::milliseconds{env.cfg.restart_period_ms}};
  sup.children.push_back(actor_child(env.ctx, view));
  return sup;
}

} // namespace troupe::dashboard
