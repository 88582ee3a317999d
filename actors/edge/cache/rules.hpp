// Internal to the cache core: the RFC 9111 rules as pure functions over
// requests, responses and stored responses. cache.cpp composes them; unit
// tests call some directly. Not part of the API edge-server uses.
#pragma once

#include "actors/edge/cache/cache.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace troupe::edge::cache::detail {

/// GET and HEAD: the methods whose responses the cache uses (RFC 9111 2).
bool is_cacheable_method(std::string_view method);

/// RFC 9110 9.2.1: GET, HEAD, OPTIONS, TRACE. Any other method (unknown
/// ones too) is unsafe and invalidates (RFC 9111 4.4).
bool is_safe_method(std::string_view method);

/// RFC 9110 15.1: 200 203 204 206 300 301 308 404 405 410 414 501.
bool is_heuristically_cacheable(int status);

/// Status codes whose semantics this cache knows (for must-understand).
bool is_understood_status(int status);

/// The request's directives; without Cache-Control, "Pragma: no-cache"
/// counts as no-cache (RFC 9111 5.4).
cache_control request_directives(const request& req,
                                 const parse_limits& limits);

/// The response's directives for this (CDN) cache: CDN-Cache-Control (RFC
/// 9213) when present, else Cache-Control.
cache_control response_directives(const header_list& headers,
                                  const parse_limits& limits);

/// Why a response may not be stored, or empty if it may (RFC 9111 3).
struct storable_verdict {
  std::string reason; // empty: storable
  /// Whether the reason lies in the response and is likely to hold for the
  /// URL's next answer too (remembered as hit-for-pass).
  bool remember = false;
  bool ok() const {
    return reason.empty();
  }
};

/// Checks RFC 9111 3 (and 3.5 for Authorization) for the answer `res` to
/// `req` (whose method is the one sent to the origin).
storable_verdict check_storable(const request& req, const cache_control& rq,
                                const response& res, const cache_control& rs,
                                const vary_fields& vary, const config& cfg);

/// The headers kept with a stored response (RFC 9111 3.1): without
/// hop-by-hop and framing fields, Surrogate-Key, and fields the origin
/// named in private="..." or no-cache="..."; with a Date (the receive time)
/// if the origin sent none or an invalid one.
header_list storable_headers(const header_list& in, const cache_control& rs,
                             time_point response_time);

/// Removes hop-by-hop fields (and those named in Connection) and
/// Surrogate-Key; keeps Content-Length. For answers passed through.
header_list pass_headers(const header_list& in);

/// The request's values of `vary.names` (Accept-Encoding normalised;
/// absent fields distinct from empty ones).
std::vector<std::pair<std::string, std::string>>
vary_values_of(const request& req, const std::vector<std::string>& names,
               const parse_limits& limits);

/// Whether `stored` may be used for `req` as far as Vary goes (RFC 9111 4.1).
bool vary_matches(const stored_response& stored, const request& req,
                  const parse_limits& limits);

/// RFC 9111 4.3.4: `stored` with the header fields of the 304 `fresh`
/// applied, received at `request_time`/`response_time`.
std::shared_ptr<stored_response>
freshen(const stored_response& stored, const response& fresh,
        time_point request_time, time_point response_time,
        const config& cfg);

/// Whether the 304 `fresh` may update `stored` (RFC 9111 4.3.4 validator
/// selection): its ETag, if any, matches the stored one.
bool validators_match(const stored_response& stored, const response& fresh);

/// Whether the client's conditional request is satisfied by `stored`
/// (RFC 9110 13.1.2, 13.1.3; If-None-Match takes precedence), so a 304 is
/// due. Only for GET/HEAD and a stored 200.
bool client_condition_met(const request& req, const stored_response& stored,
                          const parse_limits& limits);

/// The origin request for a miss or revalidation: `req` as GET without the
/// client's own validators; with `validate`, the stored ones added.
request origin_request_for(const request& req, const stored_response* validate);

/// How a response left the cache, for Cache-Status and X-Cache.
struct outcome_labels {
  bool hit = false;
  std::string fwd;        // RFC 9211 fwd, empty for a hit
  int fwd_status = 0;     // 0: none
  bool stored = false;
  std::optional<int64_t> ttl_s;
  std::string detail;     // token, empty: none
  std::string x_cache;    // HIT, STALE, REVALIDATED, MISS, PASS
  bool collapsed = false;
};

/// The response for `req` served from `stored` at `now`: a 304 if the
/// client's conditional is met, with Age set and decorated.
response serve_stored(const stored_response& stored, const request& req,
                      const freshness& f, const outcome_labels& labels,
                      const config& cfg);

/// Appends this cache's Cache-Status member and sets X-Cache.
void decorate(response& res, const outcome_labels& labels, const config& cfg);

} // namespace troupe::edge::cache::detail
