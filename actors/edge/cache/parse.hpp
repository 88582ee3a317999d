// Parsers for the header fields HTTP caching reads: Cache-Control (RFC 9111
// 5.2), HTTP dates (RFC 9110 5.6.7), delta-seconds (RFC 9111 1.2.2), field
// lists (Vary, Connection, no-cache="..."), entity tags and If-None-Match
// (RFC 9110 8.8.3, 13.1.2), Accept-Encoding normalisation and Surrogate-Key.
// Every parser has input limits (parse_limits) and never throws; inputs past
// a limit are treated as the RFC says for invalid input where it says
// something, and as documented here otherwise. Fuzzed by
// tests/fuzz/edge_cache_parse_fuzz.cpp.
#pragma once

#include "actors/edge/cache/http_types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::edge::cache {

/// Bounds on what one header field can make a parser produce.
struct parse_limits {
  /// Bytes of one (joined) field value looked at; beyond it the field is
  /// treated as absent/invalid (Cache-Control: see parse_cache_control).
  size_t max_field_bytes = 8192;
  /// Directives kept from one Cache-Control value; further ones ignored.
  size_t max_directives = 64;
  /// Members kept from a list (Vary, no-cache="...", If-None-Match,
  /// Surrogate-Key); further ones ignored (Vary: see vary_fields).
  size_t max_list_members = 64;
  /// Bytes of one list member (a field name, tag or surrogate key).
  size_t max_member_bytes = 256;
};

/// delta-seconds values are clamped to this (RFC 9111 1.2.2: 2^31).
inline constexpr int64_t max_delta_seconds = 2147483648LL;

/// Parses delta-seconds (1*DIGIT): overflow clamps to max_delta_seconds;
/// anything else (empty, sign, space, non-digit) is nullopt.
std::optional<int64_t> parse_delta_seconds(std::string_view text);

/// The directives of one Cache-Control field (all field lines joined),
/// request and response ones together. Directive names are matched
/// case-insensitively; arguments may be tokens or quoted strings.
/// Duplicates: the first occurrence of a directive with an argument counts.
/// An argument that is not valid delta-seconds marks the directive invalid
/// (`*_invalid`), which callers treat as the RFC says (an invalid max-age
/// makes the response stale).
struct cache_control {
  // -- both ---------------------------------------------------------------
  bool no_store = false;
  /// no-cache, for a response without field names (or a request).
  bool no_cache = false;
  /// Lowercased field names of a response's no-cache="a, b".
  std::vector<std::string> no_cache_fields;
  bool no_transform = false;
  std::optional<int64_t> max_age;
  bool max_age_invalid = false;

  // -- request ------------------------------------------------------------
  /// max-stale present; without a value, any staleness is acceptable.
  bool max_stale = false;
  std::optional<int64_t> max_stale_seconds;
  std::optional<int64_t> min_fresh;
  bool only_if_cached = false;

  // -- response -----------------------------------------------------------
  /// private without field names.
  bool private_all = false;
  /// Lowercased field names of private="a, b".
  std::vector<std::string> private_fields;
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  std::optional<int64_t> s_maxage;
  bool s_maxage_invalid = false;
  bool must_understand = false;
  std::optional<int64_t> stale_while_revalidate;
  std::optional<int64_t> stale_if_error;
  bool immutable = false;

  /// Whether the field was present at all (for Pragma: no-cache, which only
  /// counts without Cache-Control, RFC 9111 5.4).
  bool present = false;
  /// Whether the value was cut at a limit (too long / too many directives).
  bool truncated = false;
};

/// Parses one joined Cache-Control value. A value longer than
/// `max_field_bytes` is parsed up to the limit and marked truncated;
/// callers do not store responses whose Cache-Control was truncated.
cache_control parse_cache_control(std::string_view value,
                                  const parse_limits& limits = {});

/// Parses the Cache-Control fields of `headers` (all lines joined).
cache_control cache_control_of(const header_list& headers,
                               const parse_limits& limits = {});

/// Parses an HTTP date in any of the three formats recipients must accept
/// (RFC 9110 5.6.7): IMF-fixdate, RFC 850 (two-digit years: 70..99 are
/// 19xx, else 20xx), asctime. Surrounding whitespace is ignored; month and
/// day names are matched case-insensitively; the weekday is not checked
/// against the date. Years outside 1900..2200 are clamped to those bounds
/// (the clock's range ends in 2262). Returns nullopt for anything else, including invalid
/// calendar dates. Seconds precision.
std::optional<time_point> parse_http_date(std::string_view text);

/// Formats `t` as IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(time_point t);

/// Splits a comma-separated list (RFC 9110 5.6.1), trimming whitespace and
/// dropping empty members, up to the limits; members longer than
/// `max_member_bytes` are dropped.
std::vector<std::string> parse_list(std::string_view value,
                                    const parse_limits& limits = {});

/// The Vary of a response: lowercased field names, sorted, deduplicated.
/// `star` is set for "*" (never matches, RFC 9111 4.1). `too_many` is set
/// when the list exceeds the limits; such responses are not stored.
struct vary_fields {
  std::vector<std::string> names;
  bool star = false;
  bool too_many = false;
};
vary_fields parse_vary(const header_list& headers,
                       const parse_limits& limits = {});

/// Accept-Encoding normalised for the secondary cache key: the codings
/// this edge distinguishes (br, gzip, zstd, deflate) that the client accepts
/// with q > 0, in a fixed order ("br,gzip"); "" for none or absent ("*"
/// counts as all of them). So "gzip, deflate, br" and "br;q=1,gzip,deflate"
/// share one variant.
std::string normalize_accept_encoding(std::string_view value,
                                      const parse_limits& limits = {});

/// An entity tag (RFC 9110 8.8.3).
struct entity_tag {
  bool weak = false;
  /// The opaque-tag without quotes.
  std::string opaque;
};

/// Parses one entity-tag (W/"x" or "x"); nullopt if malformed.
std::optional<entity_tag> parse_entity_tag(std::string_view text);

/// Whether If-None-Match `value` matches the stored ETag `etag` under weak
/// comparison (RFC 9110 13.1.2): "*" matches any stored representation.
/// A malformed list matches nothing.
bool if_none_match_matches(std::string_view value, std::string_view etag,
                           const parse_limits& limits = {});

/// The keys of a Surrogate-Key field: space-separated tokens (as Fastly's
/// and Varnish's users send them), deduplicated, up to the limits.
std::vector<std::string> parse_surrogate_keys(std::string_view value,
                                              const parse_limits& limits = {});

} // namespace troupe::edge::cache
