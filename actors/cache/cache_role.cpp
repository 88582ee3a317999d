#include "actors/cache/cache_role.hpp"

#include "actors/cache/engine.hpp"
#include "actors/cache/server.hpp"
#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/metrics.hpp"
#include "runtime/proto_actor.hpp"
#include "troupe/cache.pb.h"

#include <caf/event_based_actor.hpp>

#include <thread>

namespace troupe::cache {

namespace {

struct cache_node {
  std::unique_ptr<engine> eng;
  std::unique_ptr<resp_server> server;
};

uint32_t io_threads_for(const node_config& cfg) {
  if (cfg.cache_io_threads > 0)
    return cfg.cache_io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

caf::error add_metrics(metrics_registry& reg, std::shared_ptr<cache_node> node) {
  auto* eng = node->eng.get();
  auto totals = [eng] { return eng->totals(); };
  struct item {
    const char* name;
    const char* help;
    bool counter;
    std::function<double()> fn;
  };
  std::vector<item> items{
    {"troupe_cache_hits_total", "Key lookups by read commands that found the key.", true,
     [=] { return double(totals().hits); }},
    {"troupe_cache_misses_total", "Key lookups by read commands that missed.", true,
     [=] { return double(totals().misses); }},
    {"troupe_cache_keys", "Keys held (including expired keys not yet collected).", false,
     [=] { return double(totals().keys); }},
    {"troupe_cache_memory_bytes", "Bytes the keyspace is charged for (used_memory).", false,
     [=] { return double(totals().used_bytes); }},
    {"troupe_cache_max_memory_bytes", "The eviction limit (--cache-max-memory).", false,
     [eng] { return double(eng->config().max_memory_bytes); }},
    {"troupe_cache_evictions_total", "Keys evicted to stay under the memory limit.", true,
     [=] { return double(totals().evicted); }},
    {"troupe_cache_expired_keys_total", "Keys deleted because their TTL passed.", true,
     [=] { return double(totals().expired); }},
    {"troupe_cache_connected_clients", "Open RESP connections.", false,
     [eng] { return double(eng->counters().connected_clients.load()); }},
    {"troupe_cache_commands_total", "RESP commands executed.", true,
     [eng] { return double(eng->counters().total_commands.load()); }},
    {"troupe_cache_rejected_connections_total",
     "RESP connections refused at --cache-max-clients.", true,
     [eng] { return double(eng->counters().rejected_connections.load()); }},
    {"troupe_cache_output_buffer_disconnects_total",
     "Clients disconnected at --cache-output-buffer-limit.", true,
     [eng] { return double(eng->counters().output_limit_disconnects.load()); }},
    {"troupe_cache_protocol_errors_total", "Connections closed for a RESP protocol error.",
     true, [eng] { return double(eng->counters().protocol_errors.load()); }},
  };
  for (auto& it : items) {
    // The callbacks hold the node, so the engine outlives every scrape.
    auto fn = [node, f = it.fn] { return f(); };
    auto err = it.counter ? reg.callback_counter({it.name, it.help}, fn)
                          : reg.callback_gauge({it.name, it.help}, fn);
    if (err)
      return err;
  }
  return caf::none;
}

v1::CacheStats stats_of(engine& eng, const std::string& node_id, const std::string& address) {
  auto t = eng.totals();
  v1::CacheStats s;
  s.set_node_id(node_id);
  s.set_resp_address(address);
  s.set_keys(t.keys);
  s.set_used_memory_bytes(t.used_bytes);
  s.set_max_memory_bytes(eng.config().max_memory_bytes);
  s.set_hits(t.hits);
  s.set_misses(t.misses);
  s.set_evicted_keys(t.evicted);
  s.set_expired_keys(t.expired);
  s.set_commands(eng.counters().total_commands.load());
  s.set_connected_clients(eng.counters().connected_clients.load());
  return s;
}

// The actor answers admin requests (the dashboard's cache panel); the data
// path is the RESP server's own threads.
caf::behavior cache_actor(caf::event_based_actor*, std::shared_ptr<cache_node> node,
                          std::string address, child_context ctx) {
  proto_handlers handlers;
  auto id = ctx.name.substr(ctx.name.find('/') + 1);
  handlers.on<v1::CacheStatsRequest>([node, id, address](const v1::CacheStatsRequest&) {
    return stats_of(*node->eng, id, address);
  });
  return handlers.to_behavior(ctx.gate);
}

} // namespace

caf::expected<supervisor_spec> make_role(role_environment& env) {
  auto& cfg = env.cfg;
  engine_config ec;
  ec.node_id = cfg.node_id;
  ec.port = cfg.resp_listen.port;
  ec.max_memory_bytes = cfg.cache_max_memory_bytes;
  ec.proto_max_bulk_len = static_cast<int64_t>(cfg.proto_max_bulk_len);
  ec.max_clients = cfg.cache_max_clients;
  ec.output_buffer_limit_bytes = cfg.cache_output_buffer_limit_bytes;
  ec.io_threads = io_threads_for(cfg);
  auto node = std::make_shared<cache_node>();
  node->eng = std::make_unique<engine>(ec, nullptr);
  server_config sc;
  sc.host = cfg.resp_listen.host;
  sc.port = cfg.resp_listen.port;
  sc.io_threads = ec.io_threads;
  sc.output_buffer_limit_bytes = cfg.cache_output_buffer_limit_bytes;
  sc.max_clients = cfg.cache_max_clients;
  sc.limits.max_bulk_len = ec.proto_max_bulk_len;
  node->server = std::make_unique<resp_server>(sc, *node->eng);
  if (auto err = node->server->start(); !err.empty())
    return make_error(errc::invalid_argument, "cannot start the cache role: " + err);
  if (auto err = add_metrics(*env.ctx->metrics, node))
    return err;
  env.on_shutdown.push_back([node] { node->server->stop(); });

  supervisor_spec sup;
  sup.name = "sup/" + cfg.node_id + "/cache";
  sup.intensity = {cfg.max_restarts, std::chrono::milliseconds{cfg.restart_period_ms}};
  child_spec child;
  child.name = "cache/" + cfg.node_id;
  child.type = "cache";
  child.mailbox_capacity = cfg.mailbox_capacity;
  child.start = [node, address = cfg.resp_listen.to_string()](caf::local_actor* s,
                                                                const child_context& c) {
    return s->spawn(cache_actor, node, address, c);
  };
  sup.children.push_back(std::move(child));
  return sup;
}

} // namespace troupe::cache
