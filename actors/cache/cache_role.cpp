#include "actors/cache/cache_role.hpp"

#include "actors/cache/role_state.hpp"
#include "actors/cache/shard_client.hpp"
#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/metrics.hpp"
#include "runtime/named.hpp"
#include "runtime/proto_actor.hpp"
#include "troupe/cache.pb.h"
#include "troupe/control.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <thread>

namespace troupe::cache {

namespace {

uint32_t io_threads_for(const node_config& cfg) {
  if (cfg.cache_io_threads > 0)
    return cfg.cache_io_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

caf::error add_metrics(metrics_registry& reg, std::shared_ptr<role_state> rs) {
  auto* cl = rs->cl.get();
  auto* eng = &cl->standalone();
  auto totals = [cl] { return cl->totals(); };
  struct item {
    const char* name;
    const char* help;
    bool counter;
    std::function<double()> fn;
  };
  auto& cc = cl->counters();
  std::vector<item> items{
    {"troupe_cache_hits_total", "Key lookups by read commands that found the key.", true,
     [=] { return double(totals().hits); }},
    {"troupe_cache_misses_total", "Key lookups by read commands that missed.", true,
     [=] { return double(totals().misses); }},
    {"troupe_cache_keys", "Keys held, replicas' included (and expired keys not yet collected).",
     false, [=] { return double(totals().keys); }},
    {"troupe_cache_memory_bytes", "Bytes the keyspace is charged for (used_memory).", false,
     [=] { return double(totals().used_bytes); }},
    {"troupe_cache_max_memory_bytes", "The eviction limit (--cache-max-memory) per engine.",
     false, [eng] { return double(eng->config().max_memory_bytes); }},
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
    {"troupe_cache_forwarded_total",
     "Commands forwarded to the node of their key's primary (proxy mode).", true,
     [&cc] { return double(cc.forwarded.load()); }},
    {"troupe_cache_forward_errors_total",
     "Forwarded commands answered with an error by the runtime (timeouts, restarts).", true,
     [&cc] { return double(cc.forward_errors.load()); }},
    {"troupe_cache_forward_shed_total",
     "Commands refused because too many forwarded ones were in flight.", true,
     [&cc] { return double(cc.forward_shed.load()); }},
    {"troupe_cache_moved_total", "-MOVED redirections answered.", true,
     [&cc] { return double(cc.moved.load()); }},
    {"troupe_cache_crossslot_total", "Multi-key commands refused with -CROSSSLOT.", true,
     [&cc] { return double(cc.crossslot.load()); }},
    {"troupe_cache_unserved_total",
     "Commands for a slot with no primary (CLUSTERDOWN) or one being taken over (TRYAGAIN).",
     true, [&cc] { return double(cc.unserved.load()); }},
    {"troupe_cache_replication_lag_bytes",
     "Bytes a primary shard here has written that its slowest replica has not acknowledged.",
     false, [cl] { return double(cl->replication_lag_bytes()); }},
  };
  for (auto& it : items) {
    // The callbacks hold the role state, so the cluster outlives every scrape.
    auto fn = [rs, f = it.fn] { return f(); };
    auto err = it.counter ? reg.callback_counter({it.name, it.help}, fn)
                          : reg.callback_gauge({it.name, it.help}, fn);
    if (err)
      return err;
  }
  return caf::none;
}

v1::CacheStats stats_of(cluster& cl, const std::string& node_id, const std::string& address) {
  auto t = cl.totals();
  auto& eng = cl.standalone();
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

std::string error_reply(const std::string& text) {
  return "-" + text + "\r\n";
}

// The actor answers admin requests (the dashboard's cache panel) and
// carries proxy mode's traffic: commands this node's clients sent for
// another node's shard go out from here, and those other nodes forward to
// this one are run here. The data path of local keys is the RESP server's
// own threads.
caf::behavior cache_actor(caf::event_based_actor* self, std::shared_ptr<role_state> rs,
                          std::string address, child_context ctx) {
  proto_handlers handlers;
  auto id = ctx.name.substr(ctx.name.find('/') + 1);
  auto* cl = rs->cl.get();
  handlers.on<v1::CacheStatsRequest>([cl, id, address](const v1::CacheStatsRequest&) {
    return stats_of(*cl, id, address);
  });
  handlers.on<v1::CacheProxyCommand>([cl](const v1::CacheProxyCommand& cmd) {
    v1::CacheProxyReply reply;
    auto run = [cl](const v1::CacheProxyCommand& one, v1::CacheProxyReply& out,
                    bool batched) {
      std::vector<std::string_view> args{one.args().begin(), one.args().end()};
      std::string text;
      std::string shard;
      uint64_t offset = 0;
      if (args.empty())
        text = error_reply("ERR empty forwarded command");
      else
        text = cl->execute_forwarded(args, one.protocol() == 3 ? 3 : 2, shard, offset);
      if (batched)
        out.add_replies(std::move(text));
      else
        out.set_reply(std::move(text));
      out.set_shard(shard);
      out.set_offset(offset);
    };
    if (cmd.batch_size() > 0)
      for (auto& one : cmd.batch())
        run(one, reply, true);
    else
      run(cmd, reply, false);
    return reply;
  });
  auto gate = ctx.gate;
  auto node_ctx = rs->ctx;
  return {
    [self, cl, node_ctx](cache_proxy_atom, uint64_t first, uint64_t n, const std::string& node,
                         envelope& cmd) {
      forward_call(self, node_ctx, node, std::move(cmd), n, std::chrono::milliseconds{2000},
                   [cl, first](size_t i, std::string reply) {
                     cl->complete(first + i, std::move(reply));
                   });
    },
    [handlers, gate](const envelope& env) -> caf::result<envelope> {
      return handlers.handle(env, gate);
    },
  };
}

// The I/O threads' way into the runtime: the current incarnation of
// cache/<node-id> takes the command (it may be restarting: then no).
cluster::transport_fn transport(std::shared_ptr<role_state> rs) {
  return [rs](uint64_t first, const std::string& node,
              std::vector<std::vector<std::string>> commands, int protocol) {
    auto entry = rs->ctx->table->find(rs->actor_name);
    if (!entry || !entry->handle)
      return false;
    v1::CacheProxyCommand cmd;
    cmd.set_protocol(protocol);
    size_t bytes = 0;
    for (auto& args : commands) {
      auto* one = commands.size() == 1 ? &cmd : cmd.add_batch();
      one->set_protocol(protocol);
      for (auto& a : args) {
        bytes += a.size() + 16;
        one->add_args(std::move(a));
      }
    }
    if (bytes > max_envelope_bytes - 4096) {
      for (size_t i = 0; i < commands.size(); ++i)
        rs->cl->complete(first + i,
                         error_reply("ERR commands for another node's shard are limited to "
                                     "16 MB per pipeline in proxy mode; send them to the "
                                     "key's primary (CLUSTER SLOTS)"));
      return true;
    }
    caf::anon_send(entry->handle, cache_proxy_atom_v, first,
                   static_cast<uint64_t>(commands.size()), node, pack(cmd));
    return true;
  };
}

} // namespace

std::shared_ptr<role_state> make_role_state() {
  return std::make_shared<role_state>();
}

caf::expected<supervisor_spec> make_role(role_environment& env,
                                         std::shared_ptr<role_state> rs) {
  auto& cfg = env.cfg;
  cluster_config cc;
  cc.node_id = cfg.node_id;
  cc.resp_address = cfg.resp_listen.to_string();
  cc.proxy = cfg.cache_proxy;
  cc.repl_backlog_bytes = cfg.cache_repl_backlog_bytes;
  auto& ec = cc.engine;
  ec.node_id = cfg.node_id;
  ec.port = cfg.resp_listen.port;
  ec.max_memory_bytes = cfg.cache_max_memory_bytes;
  ec.proto_max_bulk_len = static_cast<int64_t>(cfg.proto_max_bulk_len);
  ec.max_clients = cfg.cache_max_clients;
  ec.output_buffer_limit_bytes = cfg.cache_output_buffer_limit_bytes;
  ec.io_threads = io_threads_for(cfg);
  rs->ctx = env.ctx;
  rs->actor_name = "cache/" + cfg.node_id;
  rs->cl = std::make_unique<cluster>(cc);
  server_config sc;
  sc.host = cfg.resp_listen.host;
  sc.port = cfg.resp_listen.port;
  sc.io_threads = ec.io_threads;
  sc.output_buffer_limit_bytes = cfg.cache_output_buffer_limit_bytes;
  sc.max_clients = cfg.cache_max_clients;
  sc.limits.max_bulk_len = ec.proto_max_bulk_len;
  rs->server = std::make_unique<resp_server>(sc, *rs->cl);
  if (auto err = rs->server->start(); !err.empty())
    return make_error(errc::invalid_argument, "cannot start the cache role: " + err);
  if (auto err = add_metrics(*env.ctx->metrics, rs))
    return err;
  rs->cl->set_transport(transport(rs));
  // The slot map follows the committed placements.
  auto* cl = rs->cl.get();
  env.ctx->placements.subscribe(
    [cl](const v1::HeartbeatAck& ack) { cl->set_map(build_slot_map(ack)); });
  env.on_shutdown.push_back([rs] {
    rs->server->stop();
    rs->cl->set_transport(nullptr);
  });

  supervisor_spec sup;
  sup.name = "sup/" + cfg.node_id + "/cache";
  sup.intensity = {cfg.max_restarts, std::chrono::milliseconds{cfg.restart_period_ms}};
  child_spec child;
  child.name = rs->actor_name;
  child.type = "cache";
  child.mailbox_capacity = cfg.mailbox_capacity;
  child.start = [rs, address = cfg.resp_listen.to_string()](caf::local_actor* s,
                                                              const child_context& c) {
    return s->spawn(cache_actor, rs, address, c);
  };
  sup.children.push_back(std::move(child));
  return sup;
}

} // namespace troupe::cache
