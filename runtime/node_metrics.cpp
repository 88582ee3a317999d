#include "runtime/node_metrics.hpp"

#include <string>
#include <vector>

namespace troupe {

namespace {

// One sample per actor in the table for which `value` returns a number.
// The table is copied once per metric per scrape; with the default limit of
// 1000 series per family, nodes with more actors drop the rest (counted).
template <class F>
metric_callback per_actor(node_context_ptr ctx, F value) {
  return [ctx, value] {
    std::vector<metric_sample> out;
    for (auto& entry : ctx->table->snapshot())
      if (auto v = value(entry))
        out.push_back(metric_sample{{entry.name}, *v});
    return out;
  };
}

caf::error add_actor_metrics(metrics_registry& reg, node_context_ptr ctx) {
  using opt = std::optional<double>;
  auto gated = [](auto read) {
    return [read](const local_actor_entry& e) -> opt {
      if (!e.gate)
        return std::nullopt;
      return static_cast<double>(read(*e.gate));
    };
  };
  auto size = gated([](const mailbox_gate& g) { return g.size(); });
  auto capacity = gated([](const mailbox_gate& g) { return g.capacity(); });
  auto dropped = gated([](const mailbox_gate& g) { return g.dropped(); });
  auto accepted = gated([](const mailbox_gate& g) { return g.accepted(); });
  auto restarts = [](const local_actor_entry& e) -> opt {
    return static_cast<double>(e.restarts);
  };
  std::vector<std::string> actor{"actor"};
  if (auto err = reg.callback(
          {"troupe_actor_mailbox_messages",
           "Messages waiting in the bounded mailbox of an actor reachable by "
           "name.",
           {},
           actor},
          metric_type::gauge, per_actor(ctx, size)))
    return err;
  if (auto err = reg.callback({"troupe_actor_mailbox_capacity_messages",
                               "Capacity of an actor's bounded mailbox.",
                               {},
                               actor},
                              metric_type::gauge, per_actor(ctx, capacity)))
    return err;
  if (auto err
      = reg.callback({"troupe_actor_mailbox_dropped_total",
                      "Messages refused because an actor's mailbox was full.",
                      {},
                      actor},
                     metric_type::counter, per_actor(ctx, dropped)))
    return err;
  if (auto err
      = reg.callback({"troupe_actor_messages_total",
                      "Messages delivered by name into an actor's mailbox.",
                      {},
                      actor},
                     metric_type::counter, per_actor(ctx, accepted)))
    return err;
  return reg.callback({"troupe_actor_restarts_total",
                       "Restarts of an actor by its supervisor since the "
                       "supervisor started.",
                       {},
                       actor},
                      metric_type::counter, per_actor(ctx, restarts));
}

caf::error add_http_metrics(metrics_registry& reg,
                            std::shared_ptr<http_server_stats> stats) {
  using member = std::atomic<uint64_t> http_server_stats::*;
  struct spec {
    metric_type type;
    const char* name;
    const char* help;
    member field;
  };
  using s = http_server_stats;
  const spec specs[] = {
      {metric_type::counter, "troupe_admin_http_connections_accepted_total",
       "Connections accepted by the admin HTTP server.",
       &s::connections_accepted},
      {metric_type::counter, "troupe_admin_http_connections_rejected_total",
       "Connections closed at once because the connection limit was reached.",
       &s::connections_rejected},
      {metric_type::counter, "troupe_admin_http_connections_timed_out_total",
       "Connections closed after the idle timeout.", &s::connections_timed_out},
      {metric_type::gauge, "troupe_admin_http_connections_open",
       "Open admin HTTP connections.", &s::connections_open},
      {metric_type::counter, "troupe_admin_http_requests_total",
       "Requests answered by the admin HTTP server.", &s::requests_answered},
      {metric_type::counter, "troupe_admin_http_requests_rejected_total",
       "Connections closed after answering a request parse error.",
       &s::requests_rejected},
      {metric_type::counter, "troupe_admin_http_output_stalls_total",
       "Times a connection stopped reading because its output was full.",
       &s::output_stalls},
  };
  for (auto& sp : specs) {
    auto read = [stats, field = sp.field] {
      return static_cast<double>(
          ((*stats).*field).load(std::memory_order_relaxed));
    };
    if (auto err = reg.callback(metric_desc{sp.name, sp.help}, sp.type, [read] {
          return std::vector<metric_sample>{metric_sample{{}, read()}};
        }))
      return err;
  }
  return {};
}

} // namespace

caf::error add_node_metrics(metrics_registry& reg, node_context_ptr ctx,
                            std::shared_ptr<http_server_stats> http_stats) {
  if (auto err = reg.callback_gauge(
          {"troupe_node_incarnation",
           "This node's incarnation: 1 on first start, +1 per restart."},
          [ctx] { return static_cast<double>(ctx->self.incarnation); }))
    return err;
  if (auto err = reg.callback_gauge(
          {"troupe_members_up", "Cluster members this node sees as up, "
                                "itself included."},
          [ctx] { return static_cast<double>(ctx->members.up().size()); }))
    return err;
  if (auto err = add_actor_metrics(reg, ctx))
    return err;
  if (http_stats)
    return add_http_metrics(reg, std::move(http_stats));
  return {};
}

} // namespace troupe
