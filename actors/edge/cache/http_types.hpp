// The small HTTP value types the edge cache core works on: a request as the
// cache sees it, a response with a shared body, and header-list helpers.
// Plain C++: no CAF, no I/O, no clock. The server (actors/edge/) converts
// its parsed requests and origin responses into these.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::edge::cache {

/// HTTP dates are wall-clock times. The core never reads a clock: every call
/// that needs the time takes `now` (STYLE.md, determinism).
using time_point = std::chrono::system_clock::time_point;

/// Header fields in order; names as sent (compared case-insensitively),
/// values without surrounding whitespace. Repeated names are allowed.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// A body shared between the store and every response served from it, so a
/// hit copies no body bytes. Never null in a response the core returns.
using body_ptr = std::shared_ptr<const std::string>;

/// Returns an empty shared body.
body_ptr empty_body();

/// A client request, or the request the cache wants sent to the origin.
struct request {
  /// As sent, e.g. "GET". Compared case-sensitively (RFC 9110 9.1).
  std::string method;
  /// "http" or "https": part of the cache key.
  std::string scheme = "http";
  /// The authority the request is for (the Host header, or the authority
  /// of an absolute-form target), e.g. "example.com:8080". Lowercased in
  /// the cache key.
  std::string host;
  /// The origin-form target: path and query as sent, e.g. "/a?b=1".
  std::string target;
  /// The request's header fields, hop-by-hop fields already removed.
  header_list headers;
};

/// A response from the origin, or one the cache returns for the client.
struct response {
  int status = 200;
  /// Header fields. Responses the core returns carry no Content-Length or
  /// Transfer-Encoding: the server frames them by body->size() (no body for
  /// HEAD, 1xx, 204, 304). The one exception is a HEAD the origin answered
  /// itself (a pass): its Content-Length is kept, since the body is empty.
  header_list headers;
  /// The whole body. For a HEAD request served from a stored GET it holds
  /// the stored body (so Content-Length is right); the server must not send
  /// it.
  body_ptr body = empty_body();
};

/// ASCII case-insensitive equality, for field names and tokens.
bool iequals(std::string_view a, std::string_view b);

/// The value of the first field named `name`, or nullptr.
const std::string* find_header(const header_list& headers,
                               std::string_view name);

/// Whether a field named `name` is present.
bool has_header(const header_list& headers, std::string_view name);

/// All values of the fields named `name`, joined with ", " in order (RFC
/// 9110 5.3); nullopt when there is none.
std::optional<std::string> joined_header(const header_list& headers,
                                         std::string_view name);

/// Removes every field named `name`; returns how many were removed.
size_t remove_header(header_list& headers, std::string_view name);

/// Replaces all fields named `name` with one field `name: value` (appended
/// at the end if there was none, else at the first one's place).
void set_header(header_list& headers, std::string_view name,
                std::string_view value);

} // namespace troupe::edge::cache
