// The edge's HTTP/1.1 message handling around the cache core: turning a
// parsed client request into the cache's view, the proxy header rules
// (hop-by-hop fields, Via, X-Forwarded-For; traceparent passes untouched as
// an end-to-end field) and rendering origin requests and client responses.
// Pure functions, no I/O. docs/edge.md lists the rules.
#pragma once

#include "actors/edge/cache/http_types.hpp"
#include "net/http.hpp"

#include <string>
#include <string_view>

namespace troupe::edge {

/// Removes the hop-by-hop fields (RFC 9110 7.6.1): Connection and every
/// field it names, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Transfer-Encoding and Upgrade. Content-Length is framing and removed too:
/// the renderers set their own.
void strip_hop_by_hop(cache::header_list& headers);

/// The cache's view of a client request: method, host (Host header, or the
/// authority of an absolute-form target), origin-form target, and the header
/// fields without hop-by-hop ones.
cache::request to_cache_request(const http_request& req);

/// Adds the forwarding fields a proxy sends upstream: "Via: 1.1 <via_name>"
/// appended to any Via, and the client's address appended to
/// X-Forwarded-For (RFC 7239 section 4's de-facto predecessor).
void add_forwarding(cache::header_list& headers, std::string_view client_ip,
                    std::string_view via_name);

/// Renders `req` for the origin: request line, fields, "Connection:
/// keep-alive" and Content-Length when there is a body (or the method is one
/// that carries one). Host is taken from req.host when no Host field is set.
std::string render_origin_request(const cache::request& req,
                                  std::string_view body);

/// Renders the status line and header section of a response to a client,
/// framed by Content-Length = `body_size` (omitted for 1xx, 204 and 304).
/// Fields named Content-Length, Transfer-Encoding or Connection in `res` are
/// dropped, as are fields holding CR, LF or NUL; "Via: 1.1 <via_name>" is
/// appended; "Connection: keep-alive" or "close" ends the head. With
/// `keep_content_length` (a HEAD answered by the origin), the origin's
/// Content-Length is kept instead.
std::string render_client_head(const cache::response& res, size_t body_size,
                               bool keep_alive, std::string_view via_name,
                               bool keep_content_length = false);

/// Whether a response with `status` carries no body on the wire.
bool bodyless_status(int status);

/// Whether `method` is idempotent (RFC 9110 9.2.2): a failed attempt may be
/// retried on another origin.
bool idempotent_method(std::string_view method);

/// A small response made by the edge itself (errors, purge answers).
cache::response simple_response(int status, std::string_view text);

} // namespace troupe::edge
