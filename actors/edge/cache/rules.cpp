// The RFC 9111 rules the cache applies, as pure functions. Section numbers
// are RFC 9111's unless stated.
#include "actors/edge/cache/rules.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace troupe::edge::cache {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

int64_t seconds_between(time_point from, time_point to) {
  return duration_cast<seconds>(to - from).count();
}

std::string lowered(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The Age field's value; an invalid or absent one counts as 0 (5.1: the
// first line is used, a cache must accept only delta-seconds).
int64_t age_value_of(const header_list& h) {
  auto* v = find_header(h, "age");
  if (!v)
    return 0;
  auto list = parse_list(*v);
  auto age = list.empty() ? std::nullopt : parse_delta_seconds(list.front());
  return age.value_or(0);
}

// 4.2.1, for a shared cache: s-maxage, max-age, Expires - Date, then the
// heuristic (4.2.2). Invalid freshness information yields 0 (stale).
int64_t lifetime_of(const stored_response& s, const cache_control& rs,
                    time_point date, const config& cfg, bool& heuristic) {
  heuristic = false;
  if (rs.s_maxage_invalid)
    return 0;
  if (rs.s_maxage)
    return *rs.s_maxage;
  if (rs.max_age_invalid)
    return 0;
  if (rs.max_age)
    return *rs.max_age;
  if (auto expires = joined_header(s.headers, "expires")) {
    // 5.3: an invalid date, "0" included, means already expired; two
    // Expires lines join to an invalid date.
    auto t = parse_http_date(*expires);
    return t ? std::max<int64_t>(0, seconds_between(date, *t)) : 0;
  }
  if (!detail::is_heuristically_cacheable(s.status) && !rs.public_)
    return 0;
  auto* lm_text = find_header(s.headers, "last-modified");
  auto lm = lm_text ? parse_http_date(*lm_text) : std::nullopt;
  if (!lm)
    return 0;
  heuristic = true;
  auto since = std::max<int64_t>(0, seconds_between(*lm, date));
  auto h = static_cast<int64_t>(static_cast<double>(since)
                                * cfg.heuristic_fraction);
  return std::clamp<int64_t>(h, 0, cfg.heuristic_max.count());
}

} // namespace

freshness freshness_of(const stored_response& s, time_point now,
                       const config& cfg) {
  auto rs = detail::response_directives(s.headers, cfg.limits);
  auto* date_text = find_header(s.headers, "date");
  auto date = date_text ? parse_http_date(*date_text) : std::nullopt;
  auto date_value = date.value_or(s.response_time);
  // 4.2.3.
  auto apparent_age
    = std::max<int64_t>(0, seconds_between(date_value, s.response_time));
  auto response_delay
    = std::max<int64_t>(0, seconds_between(s.request_time, s.response_time));
  auto corrected_age_value = age_value_of(s.headers) + response_delay;
  auto corrected_initial_age = std::max(apparent_age, corrected_age_value);
  auto resident_time
    = std::max<int64_t>(0, seconds_between(s.response_time, now));
  freshness f;
  f.current_age_s = std::min<int64_t>(corrected_initial_age + resident_time,
                                      max_delta_seconds);
  f.lifetime_s = lifetime_of(s, rs, date_value, cfg, f.heuristic);
  f.invalidated = s.invalidated;
  return f;
}

namespace detail {

bool is_cacheable_method(std::string_view m) {
  return m == "GET" || m == "HEAD";
}

bool is_safe_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE";
}

bool is_heuristically_cacheable(int s) {
  switch (s) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

bool is_understood_status(int s) {
  static constexpr std::array<int, 39> known{
    200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 307,
    308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
    412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503};
  return std::find(known.begin(), known.end(), s) != known.end() || s == 504
         || s == 505;
}

cache_control request_directives(const request& req,
                                 const parse_limits& limits) {
  auto cc = cache_control_of(req.headers, limits);
  if (!cc.present) {
    if (auto pragma = joined_header(req.headers, "pragma"))
      for (auto& p : parse_list(*pragma, limits))
        if (iequals(p, "no-cache"))
          cc.no_cache = true;
  }
  return cc;
}

cache_control response_directives(const header_list& headers,
                                  const parse_limits& limits) {
  if (auto cdn = joined_header(headers, "cdn-cache-control")) {
    auto cc = parse_cache_control(*cdn, limits);
    if (!cc.truncated)
      return cc;
  }
  return cache_control_of(headers, limits);
}

namespace {

bool lists(const std::vector<std::string>& fields, std::string_view name) {
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

// Whether the response explicitly allows a shared cache to store it
// despite Authorization (3.5).
bool allows_authorized(const cache_control& rs) {
  return rs.public_ || rs.must_revalidate || rs.s_maxage.has_value()
         || rs.s_maxage_invalid;
}

size_t header_bytes(const header_list& h) {
  size_t n = 0;
  for (auto& [k, v] : h)
    n += k.size() + v.size() + 4;
  return n;
}

} // namespace

storable_verdict check_storable(const request& req, const cache_control& rq,
                                const response& res, const cache_control& rs,
                                const vary_fields& vary, const config& cfg) {
  auto no = [](std::string why, bool remember) {
    return storable_verdict{std::move(why), remember};
  };
  if (req.method != "GET")
    return no("method", false);
  if (res.status < 200 || res.status > 999)
    return no("status", false);
  if (res.status == 206)
    return no("partial content is not stored", true);
  if (res.status == 304)
    return no("304 without a stored response", false);
  bool understood = is_understood_status(res.status);
  if (rs.must_understand && !understood)
    return no("must-understand", true);
  // 5.2.2.3: must-understand with an understood status overrides no-store.
  if (rs.no_store && !(rs.must_understand && understood))
    return no("no-store", true);
  if (rq.no_store)
    return no("request no-store", false);
  if (rs.private_all)
    return no("private", true);
  if (rs.truncated)
    return no("cache-control over limits", true);
  if (has_header(req.headers, "authorization") && !allows_authorized(rs))
    return no("authorization", false);
  if (has_header(res.headers, "set-cookie")
      && !lists(rs.no_cache_fields, "set-cookie")
      && !lists(rs.private_fields, "set-cookie"))
    return no("set-cookie", true);
  if (vary.star)
    return no("vary *", true);
  if (vary.too_many)
    return no("vary over limits", true);
  bool explicit_freshness = rs.public_ || rs.max_age || rs.max_age_invalid
                            || rs.s_maxage || rs.s_maxage_invalid
                            || has_header(res.headers, "expires");
  if (!explicit_freshness && !is_heuristically_cacheable(res.status))
    return no("no explicit freshness for this status", res.status < 500);
  if (res.body->size() + header_bytes(res.headers) > cfg.max_object_bytes)
    return no("too large", true);
  return {};
}

namespace {

constexpr std::array<std::string_view, 10> hop_by_hop{
  "connection", "keep-alive", "proxy-connection", "te", "trailer",
  "transfer-encoding", "upgrade", "proxy-authenticate",
  "proxy-authentication-info", "proxy-authorization"};

bool is_hop_by_hop(std::string_view name, const std::vector<std::string>& listed) {
  for (auto h : hop_by_hop)
    if (iequals(name, h))
      return true;
  for (auto& l : listed)
    if (iequals(name, l))
      return true;
  return false;
}

std::vector<std::string> connection_listed(const header_list& in) {
  auto c = joined_header(in, "connection");
  return c ? parse_list(*c) : std::vector<std::string>{};
}

} // namespace

header_list pass_headers(const header_list& in) {
  auto listed = connection_listed(in);
  header_list out;
  out.reserve(in.size());
  for (auto& h : in)
    if (!is_hop_by_hop(h.first, listed) && !iequals(h.first, "surrogate-key"))
      out.push_back(h);
  return out;
}

header_list storable_headers(const header_list& in, const cache_control& rs,
                             time_point response_time) {
  auto out = pass_headers(in);
  remove_header(out, "content-length");
  for (auto& f : rs.private_fields)
    remove_header(out, f);
  for (auto& f : rs.no_cache_fields)
    remove_header(out, f);
  // RFC 9110 6.6.1: a recipient with a clock adds Date if missing.
  auto* date = find_header(out, "date");
  if (!date || !parse_http_date(*date))
    set_header(out, "Date", format_http_date(response_time));
  return out;
}

namespace {

constexpr std::string_view absent_marker{"\001absent", 7};

// Field values normalised for Vary matching: lines joined, whitespace
// around commas removed (order is kept: it may be significant).
std::string normalised_value(const request& req, const std::string& name,
                             const parse_limits& limits) {
  auto joined = joined_header(req.headers, name);
  if (name == "accept-encoding")
    return joined ? normalize_accept_encoding(*joined, limits) : "";
  if (!joined)
    return std::string{absent_marker};
  std::string out;
  for (auto& m : parse_list(*joined, limits)) {
    if (!out.empty())
      out.push_back(',');
    out += m;
  }
  return out;
}

} // namespace

std::vector<std::pair<std::string, std::string>>
vary_values_of(const request& req, const std::vector<std::string>& names,
               const parse_limits& limits) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(names.size());
  for (auto& n : names)
    out.emplace_back(n, normalised_value(req, n, limits));
  return out;
}

bool vary_matches(const stored_response& s, const request& req,
                  const parse_limits& limits) {
  for (auto& [name, value] : s.vary_values)
    if (normalised_value(req, name, limits) != value)
      return false;
  return true;
}

bool validators_match(const stored_response& s, const response& fresh) {
  auto* new_tag = find_header(fresh.headers, "etag");
  if (!new_tag)
    return true; // a 304 without a validator updates what was validated
  auto* old_tag = find_header(s.headers, "etag");
  if (!old_tag)
    return false;
  auto a = parse_entity_tag(*new_tag);
  auto b = parse_entity_tag(*old_tag);
  if (!a || !b)
    return false;
  // A strong validator must match strongly; a weak one weakly.
  if (!a->weak)
    return !b->weak && a->opaque == b->opaque;
  return a->opaque == b->opaque;
}

// Fields the stored body depends on, or that must not enter a shared
// response, are not taken from a 304 (RFC 9111 4.3.4).
constexpr std::array<std::string_view, 5> kept_from_stored{
  "content-length", "content-encoding", "content-range", "set-cookie",
  "vary"};

std::shared_ptr<stored_response> freshen(const stored_response& s,
                                         const response& fresh,
                                         time_point request_time,
                                         time_point response_time,
                                         const config& cfg) {
  auto out = std::make_shared<stored_response>(s);
  auto incoming = pass_headers(fresh.headers);
  std::erase_if(incoming, [](const auto& h) {
    for (auto k : kept_from_stored)
      if (iequals(h.first, k))
        return true;
    return false;
  });
  // The Age and Date of the old response do not describe the new one.
  remove_header(out->headers, "age");
  for (auto& [name, value] : incoming)
    remove_header(out->headers, name);
  for (auto& h : incoming)
    out->headers.push_back(h);
  auto rs = response_directives(out->headers, cfg.limits);
  out->headers = storable_headers(out->headers, rs, response_time);
  if (auto* keys = find_header(fresh.headers, "surrogate-key")) {
    out->surrogate_keys = parse_surrogate_keys(*keys, cfg.limits);
    if (out->surrogate_keys.size() > cfg.max_surrogate_keys)
      out->surrogate_keys.resize(cfg.max_surrogate_keys);
  }
  out->request_time = request_time;
  out->response_time = response_time;
  out->invalidated = false;
  return out;
}

bool client_condition_met(const request& req, const stored_response& s,
                          const parse_limits& limits) {
  if (!is_cacheable_method(req.method) || s.status != 200)
    return false;
  if (auto inm = joined_header(req.headers, "if-none-match")) {
    auto* etag = find_header(s.headers, "etag");
    if (*inm == "*" || (etag && if_none_match_matches(*inm, *etag, limits)))
      return true;
    return false; // If-None-Match present: If-Modified-Since is ignored
  }
  auto* ims_text = find_header(req.headers, "if-modified-since");
  if (!ims_text)
    return false;
  auto ims = parse_http_date(*ims_text);
  if (!ims)
    return false;
  // RFC 9111 4.3.2: Last-Modified, else Date, else the time received.
  auto* lm_text = find_header(s.headers, "last-modified");
  if (!lm_text)
    lm_text = find_header(s.headers, "date");
  auto lm = lm_text ? parse_http_date(*lm_text) : std::nullopt;
  return lm.value_or(s.response_time) <= *ims;
}

request origin_request_for(const request& req, const stored_response* v) {
  request out = req;
  out.method = "GET";
  for (auto name : {"if-none-match", "if-modified-since", "if-range", "range"})
    remove_header(out.headers, name);
  if (!v)
    return out;
  if (auto* etag = find_header(v->headers, "etag"))
    out.headers.emplace_back("If-None-Match", *etag);
  if (auto* lm = find_header(v->headers, "last-modified"))
    out.headers.emplace_back("If-Modified-Since", *lm);
  return out;
}

namespace {

// RFC 9110 15.4.5: the fields a 304 carries.
response not_modified(const stored_response& s) {
  response r;
  r.status = 304;
  bool has_etag = has_header(s.headers, "etag");
  for (auto& h : s.headers) {
    auto n = lowered(h.first);
    if (n == "cache-control" || n == "content-location" || n == "date"
        || n == "etag" || n == "expires" || n == "vary" || n == "age"
        || n == "cache-status" || n == "cdn-cache-control"
        || (n == "last-modified" && !has_etag))
      r.headers.push_back(h);
  }
  return r;
}

} // namespace

response serve_stored(const stored_response& s, const request& req,
                      const freshness& f, const outcome_labels& labels,
                      const config& cfg) {
  response r;
  if (client_condition_met(req, s, cfg.limits)) {
    r = not_modified(s);
  } else {
    r.status = s.status;
    r.headers = s.headers;
    r.body = s.body;
  }
  set_header(r.headers, "Age", std::to_string(f.current_age_s));
  decorate(r, labels, cfg);
  return r;
}

void decorate(response& res, const outcome_labels& l, const config& cfg) {
  std::string member = cfg.name;
  if (l.hit)
    member += "; hit";
  if (!l.fwd.empty())
    member += "; fwd=" + l.fwd;
  if (l.fwd_status)
    member += "; fwd-status=" + std::to_string(l.fwd_status);
  if (l.stored)
    member += "; stored";
  if (l.collapsed)
    member += "; collapsed";
  if (l.ttl_s)
    member += "; ttl=" + std::to_string(*l.ttl_s);
  if (!l.detail.empty())
    member += "; detail=" + l.detail;
  // RFC 9211 2: members are appended, closest to the origin first.
  auto upstream = joined_header(res.headers, "cache-status");
  set_header(res.headers, "Cache-Status",
             upstream ? *upstream + ", " + member : member);
  set_header(res.headers, "X-Cache", l.x_cache);
}

} // namespace detail

void mark_collapsed(response& res) {
  // The last member is ours: insert "; collapsed" before its ttl or at the end.
  for (auto& [k, v] : res.headers) {
    if (!iequals(k, "cache-status"))
      continue;
    if (v.find("; collapsed") == std::string::npos)
      v += "; collapsed";
    return;
  }
}

void decorate_uncached(response& res, const config& cfg, std::string_view fwd,
                       std::string_view detail) {
  detail::outcome_labels l;
  l.fwd = std::string{fwd};
  l.detail = std::string{detail};
  l.x_cache = fwd == "bypass" || fwd == "method" ? "PASS" : "MISS";
  detail::decorate(res, l, cfg);
}

} // namespace troupe::edge::cache
