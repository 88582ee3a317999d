// One client request through the edge: rate limit, PURGE, L1 lookup, then
// (for misses) coalescing, origin choice, retries, and the answer. Runs on
// the worker thread that owns the client connection; a coalesced follower
// is handed back to its own worker when the leader releases the key.
#include "actors/edge/cache/stored_codec.hpp"
#include "actors/edge/cluster_l2.hpp"
#include "actors/edge/edge_io.hpp"
#include "actors/edge/http_wire.hpp"

namespace troupe::edge {

namespace {

using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;

// Attempts per request over distinct origins (the first plus retries).
constexpr int max_attempts = 3;
// How long a miss waits for L2 before it goes to the origin.
constexpr auto l2_timeout = std::chrono::milliseconds{200};

cache_status status_of(cache::lookup_kind k) {
  switch (k) {
    case cache::lookup_kind::hit: return cache_status::hit;
    case cache::lookup_kind::stale_while_revalidate: return cache_status::stale;
    case cache::lookup_kind::revalidate: return cache_status::revalidated;
    case cache::lookup_kind::miss: return cache_status::miss;
    case cache::lookup_kind::pass: return cache_status::pass;
    default: return cache_status::synthetic;
  }
}

// Removes the hop-by-hop fields of an origin response but keeps
// Content-Length, which the cache needs for a HEAD pass.
void strip_response_hops(cache::header_list& headers) {
  std::optional<std::string> length;
  if (const auto* cl = cache::find_header(headers, "content-length"))
    length = *cl;
  strip_hop_by_hop(headers);
  if (length)
    headers.emplace_back("Content-Length", *length);
}

class request_task : public std::enable_shared_from_this<request_task> {
public:
  request_task(worker& w, std::shared_ptr<client_connection> conn, uint64_t seq,
               http_request req)
    : w_(w), conn_(std::move(conn)), seq_(seq), http_(std::move(req)),
      start_(steady::now()) {}

  // A background revalidation: no client, the answer only updates L1.
  request_task(worker& w, cache::request creq, cache::lookup_result decided)
    : w_(w), seq_(0), start_(steady::now()), background_(true) {
    creq_ = std::move(creq);
    decided_ = std::move(decided);
  }

  void run();
  void forward();

private:
  const edge_shared& sh() const { return *w_.shared; }
  const cache::config& cache_cfg() const { return sh().l1->configuration(); }
  bool rate_limited();
  bool is_purge();
  void purge();
  void decide();
  void coalesce();
  void on_released();
  void on_wait_timeout();
  bool ask_l2();
  void on_l2(std::optional<std::string> bytes);
  std::shared_ptr<const std::string> origin_bytes();
  void on_fetched(size_t origin, fetch_result r);
  void on_origin_response(size_t origin, fetch_result r);
  void on_no_origin(int code, const std::string& detail, bool unavailable);
  void release();
  void answer(cache::response res, cache_status cs, bool keep_length = false);
  void answer_synthetic(int code, const std::string& text, std::string_view fwd,
                        std::string_view detail);

  worker& w_;
  std::shared_ptr<client_connection> conn_;
  uint64_t seq_;
  http_request http_;
  steady::time_point start_;
  bool background_ = false;
  cache::request creq_;
  cache::lookup_result decided_;
  std::shared_ptr<const std::string> bytes_;
  uint64_t tried_ = 0;
  int attempts_ = 0;
  int origin_ = -1;
  bool leader_ = false;
  bool waiting_ = false;
  bool answered_ = false;
  bool l2_pending_ = false;
  std::optional<asio::steady_timer> wait_timer_;
};

void request_task::run() {
  if (rate_limited() || is_purge())
    return;
  creq_ = to_cache_request(http_);
  if (creq_.host.empty())
    creq_.host = sh().cfg.http_listen.to_string(); // HTTP/1.0 without Host
  cache::remove_header(creq_.headers, "expect");
  decide();
}

bool request_task::rate_limited() {
  auto verdict = sh().limiter->check(conn_->peer_ip(), steady::now());
  if (verdict.allowed)
    return false;
  sh().stats->rate_limited.fetch_add(1, std::memory_order_relaxed);
  auto res = simple_response(429, "rate limit exceeded for " + conn_->peer_ip()
                                    + "; retry after "
                                    + std::to_string(verdict.retry_after_s) + " s");
  res.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after_s));
  cache::decorate_uncached(res, cache_cfg(), "bypass", "rate-limited");
  answer(std::move(res), cache_status::synthetic);
  return true;
}

bool request_task::is_purge() {
  if (http_.method != "PURGE")
    return false;
  const auto& token = sh().cfg.purge_token;
  const auto* given = http_.header("x-purge-token");
  if (token.empty())
    answer_synthetic(403, "PURGE over HTTP is disabled on this edge; set "
                          "--edge-purge-token, or use troupectl edge purge",
                     "bypass", "purge-disabled");
  else if (!given || *given != token)
    answer_synthetic(403, "PURGE needs the header X-Purge-Token with this "
                          "edge's purge token", "bypass", "purge-denied");
  else
    purge();
  return true;
}

// PURGE <url> removes every variant of the URL; with a Surrogate-Key
// header it removes every object tagged with one of the (space separated)
// keys instead. X-Purge-Soft: 1 marks stale instead of removing.
void request_task::purge() {
  auto creq = to_cache_request(http_);
  const auto* soft_field = http_.header("x-purge-soft");
  bool soft = soft_field && (*soft_field == "1" || *soft_field == "true");
  size_t n = 0;
  if (const auto* keys = http_.header("surrogate-key")) {
    std::string_view rest = *keys;
    for (size_t k = 0; !rest.empty() && k < 64; ++k) {
      auto sp = std::min(rest.find(' '), rest.size());
      if (sp > 0)
        n += sh().l1->purge_key(rest.substr(0, sp), soft);
      rest = sp < rest.size() ? rest.substr(sp + 1) : std::string_view{};
    }
  } else {
    n = sh().l1->purge_url("http", creq.host, creq.target, soft);
  }
  sh().stats->purged.fetch_add(n, std::memory_order_relaxed);
  auto res = simple_response(200, "");
  res.headers = {{"Content-Type", "application/json"}};
  res.body = std::make_shared<const std::string>(
    std::string{"{\"status\":\"ok\",\"purged\":"} + std::to_string(n)
    + ",\"soft\":" + (soft ? "true" : "false") + "}\n");
  cache::decorate_uncached(res, cache_cfg(), "bypass", "purge");
  answer(std::move(res), cache_status::synthetic);
}

void request_task::decide() {
  decided_ = sh().l1->lookup(creq_, wall::now());
  using k = cache::lookup_kind;
  switch (decided_.kind) {
    case k::hit:
    case k::gateway_timeout:
      answer(std::move(*decided_.client_response), status_of(decided_.kind));
      return;
    case k::stale_while_revalidate: {
      if (decided_.background_revalidate && decided_.origin_request) {
        auto bg = std::make_shared<request_task>(w_, creq_, decided_);
        bg->forward();
      }
      answer(std::move(*decided_.client_response), cache_status::stale);
      return;
    }
    case k::miss:
    case k::revalidate:
      coalesce();
      return;
    case k::pass:
      forward();
      return;
  }
}

void request_task::coalesce() {
  auto self = shared_from_this();
  auto* io = &w_.io;
  auto role = w_.shared->coalesce->join(decided_.key, [self, io] {
    asio::post(*io, [self] { self->on_released(); });
  });
  if (role == coalescer::role::leader) {
    leader_ = true;
    if (!ask_l2())
      forward();
    return;
  }
  if (role == coalescer::role::overflow) {
    forward();
    return;
  }
  waiting_ = true;
  wait_timer_.emplace(w_.io);
  wait_timer_->expires_after(std::chrono::milliseconds{sh().cfg.origin_timeout_ms});
  wait_timer_->async_wait([self](const asio::error_code& ec) {
    if (!ec)
      self->on_wait_timeout();
  });
}

// A plain miss asks the cluster's cache shards before the origin; an
// answer goes into L1 (if it is still storable and matches) and is served
// from there. Revalidations and passes go to the origin.
bool request_task::ask_l2() {
  auto* l2 = sh().l2.get();
  if (!l2 || background_ || decided_.kind != cache::lookup_kind::miss || !l2->enabled())
    return false;
  l2_pending_ = true;
  auto self = shared_from_this();
  auto* io = &w_.io;
  wait_timer_.emplace(w_.io);
  wait_timer_->expires_after(l2_timeout);
  wait_timer_->async_wait([self](const asio::error_code& ec) {
    if (!ec)
      self->on_l2(std::nullopt);
  });
  l2->get(decided_.key, [self, io](std::optional<std::string> bytes) {
    asio::post(*io, [self, bytes = std::move(bytes)]() mutable { self->on_l2(std::move(bytes)); });
  });
  return true;
}

void request_task::on_l2(std::optional<std::string> bytes) {
  if (!l2_pending_)
    return;
  l2_pending_ = false;
  wait_timer_->cancel();
  if (bytes)
    if (auto stored = cache::decode_stored(*bytes, cache_cfg());
        stored && sh().l1->insert(creq_, stored, wall::now())) {
      decided_ = sh().l1->lookup(creq_, wall::now());
      if (decided_.kind == cache::lookup_kind::hit) {
        sh().l2->counters().hits_served.fetch_add(1, std::memory_order_relaxed);
        release();
        answer(std::move(*decided_.client_response), status_of(decided_.kind));
        return;
      }
    }
  forward();
}

void request_task::on_released() {
  if (!waiting_)
    return;
  waiting_ = false;
  wait_timer_->cancel();
  decided_ = sh().l1->lookup(creq_, wall::now());
  using k = cache::lookup_kind;
  if (decided_.kind == k::hit || decided_.kind == k::stale_while_revalidate) {
    auto res = std::move(*decided_.client_response);
    cache::mark_collapsed(res);
    answer(std::move(res), cache_status::collapsed);
    return;
  }
  if (decided_.kind == k::gateway_timeout) {
    answer(std::move(*decided_.client_response), cache_status::synthetic);
    return;
  }
  forward(); // the leader's answer was not stored: fetch alone
}

void request_task::on_wait_timeout() {
  if (!waiting_)
    return;
  waiting_ = false;
  sh().stats->coalesce_timeouts.fetch_add(1, std::memory_order_relaxed);
  forward();
}

std::shared_ptr<const std::string> request_task::origin_bytes() {
  if (!bytes_) {
    auto oreq = *decided_.origin_request;
    add_forwarding(oreq.headers, background_ ? std::string{"127.0.0.1"} : conn_->peer_ip(),
                   sh().node_id);
    bytes_ = std::make_shared<const std::string>(
      render_origin_request(oreq, background_ ? std::string_view{} : http_.body));
  }
  return bytes_;
}

void request_task::forward() {
  if (!decided_.origin_request) {
    on_no_origin(502, "no origin request", false);
    return;
  }
  if (sh().origins->size() == 0) {
    on_no_origin(503, "no origin configured (start the edge with --origin URL)", true);
    return;
  }
  auto now = steady::now();
  auto pick = sh().origins->pick(tried_, w_.rng, now);
  if (!pick) {
    bool none_tried = tried_ == 0;
    on_no_origin(503,
                 none_tried ? "every origin is unavailable (circuit breakers open)"
                            : "every origin tried failed",
                 true);
    return;
  }
  auto i = *pick;
  tried_ |= uint64_t{1} << i;
  ++attempts_;
  origin_ = static_cast<int>(i);
  sh().origins->on_start(i);
  bool head = decided_.origin_request->method == "HEAD";
  w_.origins.fetch(i, origin_bytes(), head, true,
                   [self = shared_from_this(), i](fetch_result r) {
                     self->on_fetched(i, std::move(r));
                   });
}

void request_task::on_fetched(size_t origin, fetch_result r) {
  std::chrono::duration<double> took = r.received - r.sent;
  bool gateway_error = r.ok && (r.res.status == 502 || r.res.status == 503
                                || r.res.status == 504);
  bool ok = r.ok && !gateway_error;
  sh().origins->on_finish(origin, ok, took.count(), steady::now());
  if (r.ok && origin < sh().origin_latency.size())
    sh().origin_latency[origin]->observe(took.count());
  if (!ok && idempotent_method(decided_.origin_request->method)
      && attempts_ < max_attempts
      && static_cast<size_t>(attempts_) < sh().origins->size()) {
    sh().stats->retries.fetch_add(1, std::memory_order_relaxed);
    forward();
    return;
  }
  if (!r.ok) {
    // No connection at all: the origin is unavailable (503, like "every
    // origin is down"); a broken exchange is a bad gateway (502); a silent
    // one a gateway timeout (504).
    int code = r.connect_failed ? 503 : r.timed_out ? 504 : 502;
    on_no_origin(code, "origin " + sh().origins->address(origin).to_string() + ": " + r.error,
                 r.connect_failed);
    return;
  }
  on_origin_response(origin, std::move(r));
}

void request_task::on_origin_response(size_t, fetch_result r) {
  strip_response_hops(r.res.headers);
  auto outcome = sh().l1->on_origin_response(creq_, decided_, std::move(r.res), r.sent_wall,
                                             r.received_wall, wall::now(), !background_);
  if (outcome.entry && sh().l2 && sh().l2->enabled())
    sh().l2->put(outcome.entry->key, cache::encode_stored(*outcome.entry),
                 outcome.entry->surrogate_keys);
  release();
  if (background_ || !outcome.client_response)
    return;
  bool keep_length = decided_.origin_request->method == "HEAD";
  answer(std::move(*outcome.client_response), status_of(decided_.kind), keep_length);
}

void request_task::on_no_origin(int code, const std::string& detail, bool unavailable) {
  auto& st = *sh().stats;
  (unavailable ? st.origin_unavailable : st.origin_errors).fetch_add(1, std::memory_order_relaxed);
  auto stale = sh().l1->on_origin_error(creq_, decided_, wall::now(), !background_);
  release();
  if (background_)
    return;
  if (stale) {
    answer(std::move(*stale), cache_status::stale);
    return;
  }
  auto fwd = decided_.kind == cache::lookup_kind::pass ? "bypass" : "miss";
  answer_synthetic(code, detail, fwd,
                   unavailable ? "origin-unavailable" : "origin-unreachable");
}

void request_task::release() {
  if (!leader_)
    return;
  leader_ = false;
  for (auto& waiter : sh().coalesce->release(decided_.key))
    waiter();
}

void request_task::answer_synthetic(int code, const std::string& text, std::string_view fwd,
                                    std::string_view detail) {
  auto res = simple_response(code, text);
  cache::decorate_uncached(res, cache_cfg(), fwd, detail);
  answer(std::move(res), cache_status::synthetic);
}

void request_task::answer(cache::response res, cache_status cs, bool keep_length) {
  if (answered_ || background_)
    return;
  answered_ = true;
  sh().stats->count(cs);
  bool head = http_.method == "HEAD";
  auto size = res.body ? res.body->size() : 0;
  reply r;
  r.close = !http_.keep_alive;
  r.head = render_client_head(res, size, http_.keep_alive, sh().node_id, keep_length && head);
  r.send_body = !head && !bodyless_status(res.status);
  r.body = std::move(res.body);
  edge_event e;
  e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                wall::now().time_since_epoch())
                .count();
  e.host_hash = fnv1a(creq_.host);
  e.path_hash = fnv1a(http_.target);
  e.latency_us = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start_).count());
  e.bytes = static_cast<uint32_t>(std::min<size_t>(r.send_body ? size : 0, UINT32_MAX));
  e.status = static_cast<uint16_t>(res.status);
  e.cache_status = static_cast<uint8_t>(cs);
  e.origin = static_cast<int8_t>(origin_);
  w_.events.add(e);
  conn_->deliver(seq_, std::move(r));
}

} // namespace

void handle_request(worker& w, const std::shared_ptr<client_connection>& conn, uint64_t seq,
                    http_request req) {
  std::make_shared<request_task>(w, conn, seq, std::move(req))->run();
}

reply error_reply(worker& w, int status, const std::string& reason) {
  auto res = simple_response(status, reason);
  cache::decorate_uncached(res, w.shared->l1->configuration(), "bypass", "bad-request");
  w.shared->stats->count(cache_status::synthetic);
  reply r;
  r.close = true;
  r.head = render_client_head(res, res.body->size(), false, w.shared->node_id);
  r.body = std::move(res.body);
  return r;
}

} // namespace troupe::edge
