// RFC 9111 4 (constructing responses from caches), 4.3 (validation), 4.4
// (invalidation) and RFC 5861 (stale-while-revalidate, stale-if-error):
// what the cache does with a request, and with the origin's answer.
#include "actors/edge/cache/cache.hpp"

#include "actors/edge/cache/shard.hpp"

namespace troupe::edge::cache {

namespace {

using detail::outcome_labels;

bool is_error_status(int s) {
  return s == 500 || s == 502 || s == 503 || s == 504;
}

// How a stored, Vary-matching response may be used for a request.
enum class use { hit, stale_hit, swr, revalidate };

struct use_decision {
  use how = use::revalidate;
  std::string fwd = "stale"; // for revalidate
  std::string detail;
};

// RFC 9111 4.2.4: directives that forbid serving this response stale.
// s-maxage implies proxy-revalidate (5.2.2.10), but an origin that sends
// s-maxage together with stale-while-revalidate or stale-if-error (as in
// "s-maxage=60, stale-while-revalidate=30", the usual CDN idiom) has
// explicitly allowed stale service, and the configured grace is an
// out-of-band contract (4.2.4): for those, only the explicit
// must-revalidate, proxy-revalidate and no-cache forbid it. A client's
// max-stale or stale-if-error never overrides s-maxage.
bool stale_forbidden(const cache_control& rs, bool origin_permits = false) {
  if (rs.must_revalidate || rs.proxy_revalidate || rs.no_cache)
    return true;
  return !origin_permits && (rs.s_maxage || rs.s_maxage_invalid);
}

use_decision decide_use(const cache_control& rq, const cache_control& rs,
                        const freshness& f) {
  use_decision d;
  // RFC 8246: a fresh immutable response needs no revalidation even when
  // the client asks for one (a browser reload).
  bool immutable_fresh = rs.immutable && f.fresh();
  bool request_forces
    = !immutable_fresh
      && (rq.no_cache || rq.max_age_invalid
          || (rq.max_age && f.current_age_s > *rq.max_age)
          || (rq.min_fresh && f.ttl_s() < *rq.min_fresh));
  if (rs.no_cache)
    return d; // 5.2.2.4: validate every time
  if (request_forces) {
    d.fwd = "request";
    return d;
  }
  if (f.fresh()) {
    d.how = use::hit;
    return d;
  }
  if (stale_forbidden(rs, true))
    return d;
  // 5.2.1.2: max-stale without a value accepts any staleness.
  if (rq.max_stale && !stale_forbidden(rs)
      && (!rq.max_stale_seconds || f.staleness_s() <= *rq.max_stale_seconds)) {
    d.how = use::stale_hit;
    d.detail = "max-stale";
    return d;
  }
  if (!f.invalidated && rs.stale_while_revalidate
      && f.staleness_s() <= *rs.stale_while_revalidate) {
    d.how = use::swr;
    return d;
  }
  return d;
}

response gateway_timeout_response(const config& cfg) {
  response r;
  r.status = 504;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::make_shared<const std::string>(
    "504 Gateway Timeout: only-if-cached and no usable stored response\n");
  outcome_labels l;
  l.detail = "only-if-cached";
  l.x_cache = "MISS";
  detail::decorate(r, l, cfg);
  return r;
}

// The stored response, served stale because the origin failed, if RFC 5861
// 4 (or the configured grace) allows it.
std::optional<response> stale_on_error(const stored_response& s,
                                       const request& req, time_point now,
                                       int fwd_status, const config& cfg) {
  auto rs = detail::response_directives(s.headers, cfg.limits);
  if (stale_forbidden(rs, true))
    return std::nullopt;
  auto rq = detail::request_directives(req, cfg.limits);
  auto f = freshness_of(s, now, cfg);
  auto staleness = f.staleness_s();
  std::string why;
  if (rs.stale_if_error && staleness <= *rs.stale_if_error)
    why = "stale-if-error";
  else if (rq.stale_if_error && !stale_forbidden(rs)
           && staleness <= *rq.stale_if_error)
    why = "stale-if-error";
  else if (cfg.stale_if_error_grace.count() > 0
           && staleness <= cfg.stale_if_error_grace.count())
    why = "grace";
  else
    return std::nullopt;
  outcome_labels l;
  l.fwd = "stale";
  l.fwd_status = fwd_status;
  l.ttl_s = f.ttl_s();
  l.detail = why;
  l.x_cache = "STALE";
  return detail::serve_stored(s, req, f, l, cfg);
}

// The path of a Location or Content-Location that names the same origin as
// `req` (RFC 9111 4.4), or empty.
std::string same_origin_target(const request& req, std::string_view loc) {
  if (loc.size() > 4096)
    return {};
  if (!loc.empty() && loc.front() == '/' && loc.substr(0, 2) != "//")
    return std::string{loc};
  auto scheme_end = loc.find("://");
  if (scheme_end == std::string_view::npos)
    return {};
  if (!iequals(loc.substr(0, scheme_end), req.scheme))
    return {};
  auto rest = loc.substr(scheme_end + 3);
  auto slash = rest.find('/');
  auto host = rest.substr(0, slash);
  if (!iequals(host, req.host))
    return {};
  return slash == std::string_view::npos ? "/" : std::string{rest.substr(slash)};
}

} // namespace

// -- lookup -------------------------------------------------------------------

lookup_result cache::lookup(const request& req, time_point now) {
  lookup_result out;
  out.key = cache_key(req);
  auto& sh = shard_for(out.key);
  auto pass = [&](std::string fwd) {
    out.kind = lookup_kind::pass;
    out.forward_reason = std::move(fwd);
    out.origin_request = req;
    std::lock_guard guard{sh.mu};
    ++sh.counters.passes;
    return out;
  };
  if (!detail::is_cacheable_method(req.method))
    return pass("method");
  auto rq = detail::request_directives(req, cfg_.limits);
  shard::selection sel;
  {
    std::lock_guard guard{sh.mu};
    sel = sh.select(out.key, req, now, cfg_);
  }
  if (!sel.s) {
    if (rq.only_if_cached) {
      out.kind = lookup_kind::gateway_timeout;
      out.client_response = gateway_timeout_response(cfg_);
      return out;
    }
    if (sel.pass_marker) {
      out.hit_for_pass = true;
      return pass("bypass");
    }
    // Partial content is not stored: a Range request the cache cannot
    // answer from a full stored response goes to the origin as it is.
    if (has_header(req.headers, "range"))
      return pass("request");
    out.kind = lookup_kind::miss;
    out.forward_reason = sel.url_known ? "vary-miss" : "uri-miss";
    out.origin_request = detail::origin_request_for(req, nullptr);
    std::lock_guard guard{sh.mu};
    ++sh.counters.misses;
    return out;
  }
  return use_stored(req, rq, sel.s, sel.id, out, now);
}

lookup_result cache::use_stored(const request& req, const cache_control& rq,
                                const std::shared_ptr<const stored_response>& s,
                                uint64_t id, lookup_result& out,
                                time_point now) {
  auto& sh = shard_for(out.key);
  auto rs = detail::response_directives(s->headers, cfg_.limits);
  auto f = freshness_of(*s, now, cfg_);
  auto d = decide_use(rq, rs, f);
  auto validation = std::make_shared<pending_validation>();
  validation->stored = s;
  validation->id = id;
  outcome_labels l;
  l.ttl_s = f.ttl_s();
  l.detail = d.detail;
  switch (d.how) {
    case use::hit:
    case use::stale_hit: {
      l.hit = true;
      l.x_cache = d.how == use::hit ? "HIT" : "STALE";
      out.kind = lookup_kind::hit;
      out.client_response = detail::serve_stored(*s, req, f, l, cfg_);
      std::lock_guard guard{sh.mu};
      ++(d.how == use::hit ? sh.counters.hits : sh.counters.stale_hits);
      return out;
    }
    case use::swr: {
      l.hit = true;
      l.detail = "stale-while-revalidate";
      l.x_cache = "STALE";
      out.kind = lookup_kind::stale_while_revalidate;
      out.client_response = detail::serve_stored(*s, req, f, l, cfg_);
      out.forward_reason = "stale";
      std::lock_guard guard{sh.mu};
      ++sh.counters.stale_hits;
      out.background_revalidate = sh.claim_background(id, now, cfg_);
      if (out.background_revalidate) {
        out.origin_request = detail::origin_request_for(req, s.get());
        out.validation = std::move(validation);
      }
      return out;
    }
    case use::revalidate:
      break;
  }
  if (rq.only_if_cached) {
    out.kind = lookup_kind::gateway_timeout;
    out.client_response = gateway_timeout_response(cfg_);
    return out;
  }
  out.kind = lookup_kind::revalidate;
  out.forward_reason = d.fwd;
  out.origin_request = detail::origin_request_for(req, s.get());
  out.validation = std::move(validation);
  std::lock_guard guard{sh.mu};
  ++sh.counters.revalidations;
  return out;
}

// -- the origin's answer --------------------------------------------------------

origin_outcome cache::on_origin_response(const request& req,
                                         const lookup_result& decided,
                                         response origin,
                                         time_point request_time,
                                         time_point response_time,
                                         time_point now,
                                         bool want_client_response) {
  auto& sh = shard_for(decided.key);
  if (decided.background_revalidate && decided.validation) {
    std::lock_guard guard{sh.mu};
    sh.release_background(decided.validation->id);
  }
  if (decided.kind == lookup_kind::pass && !decided.hit_for_pass)
    return answer_pass(req, decided, std::move(origin), want_client_response);
  const stored_response* validated
    = decided.validation ? decided.validation->stored.get() : nullptr;
  if (validated && origin.status == 304)
    return apply_304(req, decided, origin, request_time, response_time, now,
                     want_client_response);
  if (validated && is_error_status(origin.status)) {
    if (auto stale = stale_on_error(*validated, req, now, origin.status, cfg_)) {
      origin_outcome out;
      out.not_stored_reason = "origin error";
      if (want_client_response)
        out.client_response = std::move(stale);
      std::lock_guard guard{sh.mu};
      ++sh.counters.stale_hits;
      return out;
    }
  }
  return answer_full(req, decided, std::move(origin), request_time,
                     response_time, now, want_client_response);
}

origin_outcome cache::answer_pass(const request& req,
                                  const lookup_result& decided,
                                  response origin, bool want) {
  // RFC 9111 4.4: a non-error answer to an unsafe method invalidates the
  // target URI, and Location / Content-Location of the same origin.
  if (!detail::is_safe_method(req.method) && origin.status >= 200
      && origin.status < 400) {
    size_t n = purge_url(req.scheme, req.host, req.target, false);
    for (auto name : {"location", "content-location"})
      if (auto* loc = find_header(origin.headers, name)) {
        auto target = same_origin_target(req, *loc);
        if (!target.empty())
          n += purge_url(req.scheme, req.host, target, false);
      }
    auto& sh = shard_for(decided.key);
    std::lock_guard guard{sh.mu};
    sh.counters.invalidations += n;
  }
  origin_outcome out;
  out.not_stored_reason = decided.forward_reason;
  if (!want)
    return out;
  origin.headers = detail::pass_headers(origin.headers);
  // The server frames by body size; only a HEAD's Content-Length (with an
  // empty body) tells the client something the body cannot.
  if (req.method != "HEAD")
    remove_header(origin.headers, "content-length");
  outcome_labels l;
  l.fwd = decided.forward_reason;
  l.fwd_status = origin.status;
  l.x_cache = "PASS";
  if (!detail::is_cacheable_method(req.method))
    l.detail = "method";
  detail::decorate(origin, l, cfg_);
  out.client_response = std::move(origin);
  return out;
}

origin_outcome cache::apply_304(const request& req,
                                const lookup_result& decided,
                                const response& origin,
                                time_point request_time,
                                time_point response_time, time_point now,
                                bool want) {
  auto& sh = shard_for(decided.key);
  const auto& validated = *decided.validation->stored;
  origin_outcome out;
  if (!detail::validators_match(validated, origin)) {
    // RFC 9111 4.3.4: a 304 for another representation updates nothing;
    // the stored one can no longer be trusted either.
    {
      std::lock_guard guard{sh.mu};
      sh.remove_object(decided.validation->id);
    }
    out.not_stored_reason = "304 does not match the stored response";
    if (want) {
      response r;
      r.status = 502;
      r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      r.body = std::make_shared<const std::string>(
        "502 Bad Gateway: the origin's 304 names another representation\n");
      decorate_uncached(r, cfg_, decided.forward_reason, "304-mismatch");
      out.client_response = std::move(r);
    }
    return out;
  }
  std::shared_ptr<const stored_response> fresh
    = detail::freshen(validated, origin, request_time, response_time, cfg_);
  auto rs = detail::response_directives(fresh->headers, cfg_.limits);
  auto rq = detail::request_directives(req, cfg_.limits);
  auto vary = parse_vary(fresh->headers, cfg_.limits);
  response as_full{fresh->status, fresh->headers, fresh->body};
  auto verdict = detail::check_storable(detail::origin_request_for(req, nullptr),
                                        rq, as_full, rs, vary, cfg_);
  {
    std::lock_guard guard{sh.mu};
    ++sh.counters.revalidated_304;
    if (verdict.ok()) {
      out.stored = sh.store(fresh, cfg_);
      ++(out.stored ? sh.counters.stores : sh.counters.not_stored);
    } else {
      sh.remove_object(decided.validation->id);
      ++sh.counters.not_stored;
    }
  }
  out.not_stored_reason = verdict.reason;
  if (out.stored)
    out.entry = fresh;
  if (!want)
    return out;
  auto f = freshness_of(*fresh, now, cfg_);
  outcome_labels l;
  l.fwd = decided.forward_reason;
  l.fwd_status = 304;
  l.stored = out.stored;
  l.ttl_s = f.ttl_s();
  l.x_cache = "REVALIDATED";
  out.client_response = detail::serve_stored(*fresh, req, f, l, cfg_);
  return out;
}

origin_outcome cache::answer_full(const request& req,
                                  const lookup_result& decided,
                                  response origin, time_point request_time,
                                  time_point response_time, time_point now,
                                  bool want) {
  auto& sh = shard_for(decided.key);
  auto rq = detail::request_directives(req, cfg_.limits);
  auto rs = detail::response_directives(origin.headers, cfg_.limits);
  auto vary = parse_vary(origin.headers, cfg_.limits);
  // What went to the origin: a GET for misses and revalidations, the
  // client's own request for a hit-for-pass.
  auto sent = decided.origin_request ? *decided.origin_request : req;
  auto verdict = detail::check_storable(sent, rq, origin, rs, vary, cfg_);
  origin_outcome out;
  out.not_stored_reason = verdict.reason;
  outcome_labels l;
  l.fwd = decided.forward_reason;
  l.fwd_status = origin.status;
  l.x_cache = decided.hit_for_pass ? "PASS" : "MISS";
  if (verdict.ok()) {
    auto s = std::make_shared<stored_response>();
    s->key = decided.key;
    s->status = origin.status;
    s->headers = detail::storable_headers(origin.headers, rs, response_time);
    s->body = origin.body ? origin.body : empty_body();
    s->vary_values = detail::vary_values_of(req, vary.names, cfg_.limits);
    if (auto* keys = find_header(origin.headers, "surrogate-key")) {
      s->surrogate_keys = parse_surrogate_keys(*keys, cfg_.limits);
      if (s->surrogate_keys.size() > cfg_.max_surrogate_keys)
        s->surrogate_keys.resize(cfg_.max_surrogate_keys);
    }
    s->request_time = request_time;
    s->response_time = response_time;
    {
      std::lock_guard guard{sh.mu};
      out.stored = sh.store(s, cfg_);
      ++(out.stored ? sh.counters.stores : sh.counters.not_stored);
    }
    if (out.stored)
      out.entry = s;
    else
      out.not_stored_reason = "evicted at once";
    if (!want)
      return out;
    auto f = freshness_of(*s, now, cfg_);
    l.stored = out.stored;
    l.ttl_s = f.ttl_s();
    out.client_response = detail::serve_stored(*s, req, f, l, cfg_);
    return out;
  }
  {
    std::lock_guard guard{sh.mu};
    ++sh.counters.not_stored;
    // A revalidation answered with something unstorable: the old response
    // is no longer what the origin says.
    if (decided.validation)
      sh.remove_object(decided.validation->id);
    if (verdict.remember)
      sh.remember_pass(decided.key, now + cfg_.hit_for_pass_ttl, cfg_);
  }
  if (!want)
    return out;
  origin.headers = detail::pass_headers(origin.headers);
  // Framed by body size, as above; a HEAD sent as a GET has the GET's body.
  if (sent.method != "HEAD")
    remove_header(origin.headers, "content-length");
  detail::decorate(origin, l, cfg_);
  out.client_response = std::move(origin);
  return out;
}

std::optional<response> cache::on_origin_error(const request& req,
                                               const lookup_result& decided,
                                               time_point now, bool want) {
  auto& sh = shard_for(decided.key);
  if (!decided.validation)
    return std::nullopt;
  {
    std::lock_guard guard{sh.mu};
    if (decided.background_revalidate)
      sh.release_background(decided.validation->id);
  }
  if (!want)
    return std::nullopt;
  auto stale = stale_on_error(*decided.validation->stored, req, now, 0, cfg_);
  if (stale) {
    std::lock_guard guard{sh.mu};
    ++sh.counters.stale_hits;
  }
  return stale;
}

} // namespace troupe::edge::cache
