#include "actors/edge/edge_role.hpp"

#include "actors/edge/cluster_l2.hpp"
#include "runtime/type_ids.hpp"

#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/proto_actor.hpp"

#include <caf/event_based_actor.hpp>

namespace troupe::edge {

std::string name_for(const std::string& node_id) {
  return "edge/" + node_id;
}

caf::expected<purge_target> parse_purge_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0)
    return make_error(errc::invalid_argument,
                      "purge URL '" + url + "' must look like http://HOST/PATH");
  purge_target out;
  out.scheme = url.substr(0, scheme_end);
  for (auto& c : out.scheme)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.scheme != "http" && out.scheme != "https")
    return make_error(errc::invalid_argument,
                      "purge URL '" + url + "': scheme must be http or https");
  auto rest = url.substr(scheme_end + 3);
  auto slash = rest.find_first_of("/?");
  out.host = rest.substr(0, slash);
  if (out.host.empty())
    return make_error(errc::invalid_argument, "purge URL '" + url + "' has no host");
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (out.target.front() == '?')
    out.target = "/" + out.target;
  out.target = out.target.substr(0, out.target.find('#'));
  return out;
}

caf::expected<v1::EdgePurgeReport> apply_purge(edge_shared& shared,
                                               const v1::EdgePurgeRequest& req) {
  if (req.url().empty() == req.key().empty())
    return make_error(errc::invalid_argument,
                      "give exactly one of url and key to purge");
  size_t n = 0;
  // L2 forgets the object too (a soft purge removes it there: only the
  // L1 copies keep serving stale), or the next miss would bring it back.
  if (!req.key().empty()) {
    n = shared.l1->purge_key(req.key(), req.soft());
    if (shared.l2)
      shared.l2->remove_tagged(req.key());
  } else {
    auto t = parse_purge_url(req.url());
    if (!t)
      return t.error();
    n = shared.l1->purge_url(t->scheme, t->host, t->target, req.soft());
    if (shared.l2)
      shared.l2->remove(cache::cache_key(t->scheme, t->host, t->target));
  }
  shared.stats->purged.fetch_add(n, std::memory_order_relaxed);
  v1::EdgePurgeReport out;
  out.set_node_id(shared.node_id);
  out.set_removed(n);
  out.set_soft(req.soft());
  return out;
}

v1::EdgeStats stats_of(const edge_shared& sh, size_t threads) {
  v1::EdgeStats out;
  auto& st = *sh.stats;
  out.set_node_id(sh.node_id);
  out.set_http_address(sh.cfg.http_listen.to_string());
  out.set_threads(static_cast<uint32_t>(threads));
  for (size_t i = 0; i < cache_status_count; ++i)
    (*out.mutable_requests())[cache_status_label(static_cast<cache_status>(i))]
      = st.requests[i].load(std::memory_order_relaxed);
  out.set_hit_ratio(st.hit_ratio());
  out.set_response_body_bytes(st.bytes_out.load());
  auto cs = sh.l1->stats();
  out.set_cache_objects(cs.objects);
  out.set_cache_bytes(cs.bytes);
  out.set_cache_max_bytes(sh.l1->configuration().max_bytes);
  out.set_cache_evictions(cs.evictions);
  out.set_rate_limited(st.rate_limited.load());
  out.set_events_produced(st.events->produced.load());
  out.set_events_dropped(st.events->dropped.load());
  out.set_connections_open(st.connections_open.load());
  out.set_origin_unavailable(st.origin_unavailable.load());
  out.set_origin_errors(st.origin_errors.load());
  out.set_origin_retries(st.retries.load());
  out.set_purged(st.purged.load());
  return out;
}

v1::EdgeOrigins origins_of(const edge_shared& sh) {
  v1::EdgeOrigins out;
  out.set_node_id(sh.node_id);
  for (auto& v : sh.origins->views(std::chrono::steady_clock::now())) {
    auto* o = out.add_origins();
    o->set_address(v.address);
    o->set_breaker(to_string(v.state));
    o->set_ewma_latency_ms(v.ewma_latency_s * 1000);
    o->set_in_flight(v.in_flight);
    o->set_requests(v.requests);
    o->set_failures(v.failures);
    o->set_times_opened(v.times_opened);
    o->set_consecutive_failures(v.consecutive_failures);
    o->set_health_ok(v.health_ok);
    o->set_health_error(v.health_error);
  }
  return out;
}

namespace {

// Owns the running server; shared by the role's actor (every incarnation)
// and the node's shutdown hook.
struct edge_runtime {
  std::shared_ptr<edge_shared> shared;
  std::unique_ptr<edge_server> server;
  size_t threads = 0;
};

caf::behavior admin_actor(caf::event_based_actor* self, std::shared_ptr<edge_runtime> rt,
                          node_context_ptr node_ctx, child_context ctx) {
  proto_handlers handlers;
  handlers.on<v1::EdgePurgeRequest>(
    [rt](const v1::EdgePurgeRequest& req) { return apply_purge(*rt->shared, req); });
  handlers.on<v1::EdgeStatsRequest>(
    [rt](const v1::EdgeStatsRequest&) { return stats_of(*rt->shared, rt->threads); });
  handlers.on<v1::EdgeOriginsRequest>(
    [rt](const v1::EdgeOriginsRequest&) { return origins_of(*rt->shared); });
  auto gate = ctx.gate;
  self->delayed_send(self, std::chrono::milliseconds{500}, tick_atom_v);
  return {
    // L2 traffic (cluster_l2.hpp) goes out from here to cache/<owner>.
    [self, rt, node_ctx](cache_proxy_atom, uint64_t call, const std::string& node,
                         envelope& cmd) {
      auto l2 = rt->shared->l2;
      troupe::cache::forward_call(self, node_ctx, node, std::move(cmd), 1,
                                  std::chrono::milliseconds{500},
                                  [l2, call](size_t, std::string reply) {
                                    l2->client().complete(call, std::move(reply));
                                  });
    },
    [self, rt](tick_atom) {
      if (rt->shared->l2)
        rt->shared->l2->client().sweep();
      self->delayed_send(self, std::chrono::milliseconds{500}, tick_atom_v);
    },
    [handlers, gate](const envelope& env) -> caf::result<envelope> {
      return handlers.handle(env, gate);
    },
  };
}

// Objects above this go to L1 only; L2 entries live this long (a purge or
// the shards' eviction removes them earlier).
constexpr uint64_t l2_max_object_bytes = 1 << 20;
constexpr uint64_t l2_ttl_ms = 3600 * 1000;

caf::error register_l2_metrics(metrics_registry& reg, std::shared_ptr<cluster_l2> l2) {
  struct item {
    const char* name;
    const char* help;
    std::atomic<uint64_t>* value;
  };
  auto& c = l2->counters();
  item items[] = {
    {"troupe_edge_l2_hits_total", "L1 misses that the cache cluster (L2) answered.", &c.hits},
    {"troupe_edge_l2_misses_total", "L1 misses that L2 did not answer (absent, error, no cluster).",
     &c.misses},
    {"troupe_edge_l2_served_total", "Responses served from an object L2 gave.", &c.hits_served},
    {"troupe_edge_l2_puts_total", "Objects offered to L2 after an origin answer.", &c.puts},
    {"troupe_edge_l2_skipped_large_total", "Stored objects too large for L2 (1 MiB).",
     &c.skipped_large},
  };
  for (auto& it : items)
    if (auto err = reg.callback_counter({it.name, it.help},
                                        [l2, v = it.value] { return double(v->load()); }))
      return err;
  return caf::none;
}

cache::config cache_config(const node_config& cfg) {
  cache::config c;
  c.max_bytes = cfg.edge.cache_bytes;
  c.max_object_bytes = std::min<uint64_t>(cfg.edge.max_object_bytes, c.max_bytes);
  c.stale_if_error_grace = std::chrono::seconds{cfg.edge.stale_grace_ms / 1000};
  return c;
}

std::shared_ptr<edge_shared> make_shared_state(const node_config& cfg) {
  auto sh = std::make_shared<edge_shared>();
  sh->cfg = cfg.edge;
  sh->node_id = cfg.node_id;
  sh->limits.max_body_bytes = cfg.edge.max_body_bytes;
  sh->limits.max_connections = 16384;
  sh->limits.allow_purge = true;
  sh->l1 = std::make_shared<cache::cache>(cache_config(cfg));
  sh->origins = std::make_shared<origin_set>(cfg.edge.origins, cfg.edge.breaker_failures,
                                             std::chrono::milliseconds{cfg.edge.breaker_open_ms});
  sh->stats = std::make_shared<edge_stats>();
  sh->limiter = std::make_shared<rate_limiter>(cfg.edge.rate_limit_rps, cfg.edge.rate_limit_burst);
  // Keys being fetched at once, and requests waiting on one key.
  sh->coalesce = std::make_shared<coalescer>(65536, 4096);
  sh->events = std::make_shared<no_analytics_sink>();
  return sh;
}

} // namespace

caf::expected<supervisor_spec> make_role(role_environment& env) {
  auto& cfg = env.cfg;
  auto rt = std::make_shared<edge_runtime>();
  rt->shared = make_shared_state(cfg);
  if (auto err = register_edge_metrics(*env.ctx->metrics, rt->shared->stats, rt->shared->origins,
                                       rt->shared->l1, rt->shared->limiter,
                                       rt->shared->origin_latency))
    return err;
  // L2: the cache cluster's shards, when one is placed (docs/edge.md).
  auto client = std::make_shared<troupe::cache::shard_client>(
    env.ctx, name_for(cfg.node_id), 10000, std::chrono::milliseconds{500});
  rt->shared->l2 = std::make_shared<cluster_l2>(client, l2_max_object_bytes, l2_ttl_ms);
  if (auto err = register_l2_metrics(*env.ctx->metrics, rt->shared->l2))
    return err;
  auto server = edge_server::start(rt->shared);
  if (!server)
    return server.error();
  rt->server = std::move(*server);
  rt->threads = rt->server->threads();
  env.on_shutdown.push_back([rt] { rt->server->stop(); });
  auto listen = cfg.edge.http_listen.to_string();
  auto origins = rt->shared->origins;
  env.ctx->ready.add_probe("edge", [listen, origins] {
    auto n = origins->size();
    size_t up = 0;
    for (auto& v : origins->views(std::chrono::steady_clock::now()))
      up += v.state != breaker_state::open ? 1 : 0;
    return readiness::check_result{"edge", true,
                                   "serving HTTP on " + listen + "; " + std::to_string(up) + "/"
                                     + std::to_string(n) + " origins available"};
  });
  logger_for("edge")->info("edge serving HTTP on {} with {} threads, {} origins", listen,
                           rt->threads, cfg.edge.origins.size());
  supervisor_spec sup;
  sup.name = "sup/" + cfg.node_id + "/edge";
  sup.intensity = {cfg.max_restarts, std::chrono::milliseconds{cfg.restart_period_ms}};
  child_spec admin;
  admin.name = name_for(cfg.node_id);
  admin.type = "edge";
  admin.mailbox_capacity = cfg.mailbox_capacity;
  admin.start = [rt, node_ctx = env.ctx](caf::local_actor* s, const child_context& c) {
    return s->spawn(admin_actor, rt, node_ctx, c);
  };
  sup.children.push_back(std::move(admin));
  return sup;
}

} // namespace troupe::edge
