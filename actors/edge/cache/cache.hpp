// The HTTP cache of an edge node, as RFC 9111 (HTTP Caching), RFC 5861
// (stale-while-revalidate, stale-if-error) and RFC 9211 (Cache-Status) say,
// for a shared cache. Plain C++, no I/O: the server calls lookup() for each
// client request, does what the result says (answer, or fetch from the
// origin), and hands the origin's answer back. docs/edge-caching.md has the
// decisions; tests/unit/edge_cache_*_test.cpp test it section by section.
//
// Thread-safety: every member function may be called from any thread at
// once. The store is split into shards by key hash, each with its own lock
// and its own share of the byte budget; bodies are shared, never copied on
// a hit.
#pragma once

#include "actors/edge/cache/eviction.hpp"
#include "actors/edge/cache/http_types.hpp"
#include "actors/edge/cache/parse.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace troupe::edge::cache {

struct config {
  /// Bytes of stored bodies and headers, over all shards.
  size_t max_bytes = size_t{256} << 20;
  /// Responses with a larger body (or headers) are not stored.
  size_t max_object_bytes = size_t{8} << 20;
  /// Bytes each stored response is charged on top of its body and headers
  /// (index and bookkeeping), which also bounds the number of objects.
  size_t object_overhead_bytes = 256;
  /// Remembered uncacheable URLs (hit-for-pass markers) per shard; beyond
  /// it no more are remembered (those URLs are then coalesced as misses).
  size_t max_hit_for_pass_per_shard = 65536;
  /// Variants kept per URL (Vary); the oldest is replaced beyond it.
  size_t max_variants = 8;
  /// Surrogate keys kept per object; further ones are ignored.
  size_t max_surrogate_keys = 32;
  /// Lock shards (rounded up to a power of two, at least 1).
  size_t shards = 16;
  eviction_kind eviction = eviction_kind::s3fifo;
  /// Heuristic freshness (RFC 9111 4.2.2): this fraction of the time since
  /// Last-Modified, at most `heuristic_max`.
  double heuristic_fraction = 0.1;
  std::chrono::seconds heuristic_max{24 * 3600};
  /// When the origin fails, stale responses are served for this long past
  /// their freshness even without stale-if-error (0: only what the response
  /// allows). Never overrides must-revalidate, proxy-revalidate, no-cache.
  std::chrono::seconds stale_if_error_grace{0};
  /// An uncacheable answer is remembered for this long ("hit-for-pass"),
  /// so later requests for the URL pass without waiting on each other.
  std::chrono::seconds hit_for_pass_ttl{30};
  /// A background revalidation (stale-while-revalidate) not finished after
  /// this long may be started again by another request.
  std::chrono::seconds background_timeout{30};
  /// The cache's name in Cache-Status (RFC 9211 2).
  std::string name = "troupe";
  parse_limits limits;
};

/// What lookup() decided.
enum class lookup_kind {
  /// Serve `client_response`; nothing goes to the origin. Fresh, or stale
  /// within the request's max-stale (Cache-Status then has a negative ttl).
  hit,
  /// Serve `client_response` (stale, within stale-while-revalidate); if
  /// `background_revalidate`, also send `origin_request` to the origin in
  /// the background and give its answer to on_origin_response (or
  /// on_origin_error) with a null client response wanted.
  stale_while_revalidate,
  /// Send `origin_request` (conditional: If-None-Match / If-Modified-Since
  /// from the stored response) and give the answer to on_origin_response.
  revalidate,
  /// Nothing usable stored: send `origin_request` (the client's request
  /// without its conditionals, and GET for a HEAD, so the answer can be
  /// stored); may be coalesced with other misses for `key`.
  miss,
  /// Not cacheable (method, request directives, Range, hit-for-pass):
  /// send `origin_request` (the client's request unchanged); never
  /// coalesce. The answer still goes to on_origin_response, which
  /// invalidates after unsafe methods and decorates it.
  pass,
  /// only-if-cached and nothing usable stored: serve `client_response`
  /// (504, RFC 9111 5.2.1.7).
  gateway_timeout,
};

/// Returns "hit", "miss", ... for logs and metrics.
const char* to_string(lookup_kind kind);

/// One stored response, as held in the cache and handed to a second tier
/// (L2). Immutable once stored; a 304 makes a new one.
struct stored_response {
  /// The primary cache key (see cache_key()).
  std::string key;
  int status = 200;
  /// Stored headers: hop-by-hop, framing and Surrogate-Key fields removed.
  header_list headers;
  body_ptr body = empty_body();
  /// The request's values of the fields named by Vary (lowercased names,
  /// sorted; Accept-Encoding normalised), for matching (RFC 9111 4.1).
  std::vector<std::pair<std::string, std::string>> vary_values;
  /// Surrogate keys from the origin's Surrogate-Key field.
  std::vector<std::string> surrogate_keys;
  /// When the request was sent and the response received (RFC 9111 4.2.3).
  time_point request_time;
  time_point response_time;
  /// Set by soft purge: treated as stale from then on (but still usable for
  /// stale-if-error and revalidation).
  bool invalidated = false;
};

/// What the cache knows about one stored response at `now`: the RFC 9111
/// 4.2 quantities. Used by lookup and by tests.
struct freshness {
  /// RFC 9111 4.2.3 current_age.
  int64_t current_age_s = 0;
  /// RFC 9111 4.2.1 freshness_lifetime (0 for invalid freshness data).
  int64_t lifetime_s = 0;
  /// Whether lifetime_s came from the heuristic (4.2.2).
  bool heuristic = false;
  /// Soft-purged: stale whatever the lifetime says.
  bool invalidated = false;
  bool fresh() const {
    return !invalidated && lifetime_s > current_age_s;
  }
  /// Seconds past the end of freshness (0 while fresh or just purged).
  int64_t staleness_s() const {
    return current_age_s > lifetime_s ? current_age_s - lifetime_s : 0;
  }
  /// The Cache-Status ttl: lifetime_s - current_age_s, at most 0 when
  /// invalidated.
  int64_t ttl_s() const {
    auto ttl = lifetime_s - current_age_s;
    return invalidated && ttl > 0 ? 0 : ttl;
  }
};

/// Computes the freshness of `stored` at `now` for a shared cache.
freshness freshness_of(const stored_response& stored, time_point now,
                       const config& cfg);

/// Opaque: which stored response a revalidation is for, so a 304 can be
/// applied even if the object was evicted meanwhile.
struct pending_validation;

struct lookup_result {
  lookup_kind kind = lookup_kind::miss;
  /// The response to serve now, already decorated (Age, Cache-Status,
  /// X-Cache); a 304 if the client's own conditional matched. Set for
  /// hit, stale_while_revalidate and gateway_timeout.
  std::optional<response> client_response;
  /// The request to send to the origin. Set for stale_while_revalidate
  /// (when background_revalidate), revalidate, miss and pass.
  std::optional<request> origin_request;
  /// For stale_while_revalidate: whether this caller should start the one
  /// background revalidation for the object (others just serve stale).
  bool background_revalidate = false;
  /// The primary cache key: scheme://host/target, host lowercased. Misses
  /// with the same key may be coalesced.
  std::string key;
  /// RFC 9211 fwd value for Cache-Status when the request is forwarded:
  /// "uri-miss", "vary-miss", "stale", "request", "method", "bypass".
  std::string forward_reason;
  /// A pass because the URL's last answer was uncacheable (hit-for-pass):
  /// on_origin_response still stores the answer if it now is storable.
  bool hit_for_pass = false;
  /// Pass back to on_origin_response / on_origin_error.
  std::shared_ptr<const pending_validation> validation;
};

/// What to do with an origin's answer.
struct origin_outcome {
  /// The response for the client, decorated; empty for a background
  /// revalidation. Surrogate-Key is never in it.
  std::optional<response> client_response;
  /// Whether the answer (or, for a 304, the updated response) was stored.
  bool stored = false;
  /// Why not, for logs ("no-store", "private", "status", "too large", ...).
  std::string not_stored_reason;
  /// The stored response, for a second tier; null if not stored.
  std::shared_ptr<const stored_response> entry;
};

/// Counters since construction (monotonic) and current sizes.
struct cache_stats {
  uint64_t hits = 0;
  uint64_t stale_hits = 0; // stale-while-revalidate and stale-if-error
  uint64_t revalidations = 0;
  uint64_t revalidated_304 = 0;
  uint64_t misses = 0;
  uint64_t passes = 0;
  uint64_t stores = 0;
  uint64_t not_stored = 0;
  uint64_t evictions = 0;
  uint64_t invalidations = 0; // unsafe methods
  uint64_t purged = 0;
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

class cache {
public:
  explicit cache(config cfg = {});
  ~cache();
  cache(const cache&) = delete;
  cache& operator=(const cache&) = delete;

  /// Decides how to answer `req` at `now` (RFC 9111 4): which stored
  /// response, if any, may be used, and what to send to the origin.
  lookup_result lookup(const request& req, time_point now);

  /// Handles the origin's answer `origin` to the request that `lookup`
  /// returned (`req` is the client's original request; for a background
  /// revalidation pass `want_client_response = false`). `request_time` is
  /// when the request went to the origin, `response_time` when the answer's
  /// headers arrived, `now` when this is called. Stores the answer if
  /// storable (RFC 9111 3), applies a 304 to the stored response (4.3.4),
  /// serves stale for a 500/502/503/504 within stale-if-error (RFC 5861 4),
  /// invalidates after unsafe methods (4.4), strips Surrogate-Key, answers
  /// the client's conditional from the result, and decorates.
  origin_outcome on_origin_response(const request& req,
                                    const lookup_result& decided,
                                    response origin, time_point request_time,
                                    time_point response_time, time_point now,
                                    bool want_client_response = true);

  /// The origin could not be reached or timed out. Returns the stale
  /// response to serve (stale-if-error or the configured grace, decorated)
  /// or nullopt: then the server answers 502/503/504 itself (decorated with
  /// decorate_uncached).
  std::optional<response> on_origin_error(const request& req,
                                          const lookup_result& decided,
                                          time_point now,
                                          bool want_client_response = true);

  /// Stores a response fetched from a second tier (L2) for `req`'s key if
  /// it is still storable and matches; returns whether it was stored. The
  /// server then calls lookup() again.
  bool insert(const request& req, std::shared_ptr<const stored_response> s,
              time_point now);

  /// Removes (or, with `soft`, marks stale) every variant stored for the
  /// URL `scheme://host/target`. Returns how many responses it affected.
  size_t purge_url(std::string_view scheme, std::string_view host,
                   std::string_view target, bool soft);

  /// Removes (or marks stale) every response tagged with `surrogate_key`.
  size_t purge_key(std::string_view surrogate_key, bool soft);

  /// Removes everything; returns how many responses.
  size_t clear();

  cache_stats stats() const;

  const config& configuration() const {
    return cfg_;
  }

private:
  struct shard;
  shard& shard_for(std::string_view key);
  lookup_result use_stored(const request& req, const cache_control& rq,
                           const std::shared_ptr<const stored_response>& s,
                           uint64_t id, lookup_result& out, time_point now);
  origin_outcome answer_pass(const request& req, const lookup_result& decided,
                             response origin, bool want);
  origin_outcome apply_304(const request& req, const lookup_result& decided,
                           const response& origin, time_point request_time,
                           time_point response_time, time_point now,
                           bool want);
  origin_outcome answer_full(const request& req, const lookup_result& decided,
                             response origin, time_point request_time,
                             time_point response_time, time_point now,
                             bool want);
  config cfg_;
  std::vector<std::unique_ptr<shard>> shards_;
};

/// The primary cache key of `req`: "scheme://host/target" with scheme and
/// host lowercased.
std::string cache_key(const request& req);
/// The same for the URL scheme://host/target (purges).
std::string cache_key(std::string_view scheme, std::string_view host, std::string_view target);

/// Decorates a response the server made itself (a 502/503/504 when no
/// origin answered, a 429) with Cache-Status ("name; fwd=<fwd>;
/// detail=<detail>") and "X-Cache: MISS" (or PASS for fwd "bypass").
void decorate_uncached(response& res, const config& cfg, std::string_view fwd,
                       std::string_view detail);

/// Adds the "collapsed" parameter to a response's Cache-Status (RFC 9211
/// 2.6), for a request that waited on another's origin fetch.
void mark_collapsed(response& res);

} // namespace troupe::edge::cache
