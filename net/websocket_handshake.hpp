// The WebSocket opening handshake (RFC 6455 section 4.2) on top of
// net/http.hpp: checks an upgrade request and builds the 101 answer, or the
// HTTP error that refuses it. No I/O.
#pragma once

#include "net/http.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), with SHA-1
/// and base64 from OpenSSL. For RFC 6455's example key
/// "dGhlIHNhbXBsZSBub25jZQ==" it returns "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
std::string ws_accept_key(std::string_view client_key);

/// Decides whether a browser page from `origin` may connect. The Origin
/// header's value is passed as sent ("null" included); requests without an
/// Origin header (non-browser clients) are not passed to it.
using ws_origin_policy = std::function<bool(const std::string& origin)>;

/// The same-origin rule: `origin` is "http://" + the request's Host header
/// (compared case-insensitively), or listed in `allowed` (exact origins such
/// as "http://localhost:8080", or "*" for any).
bool ws_same_origin_or_listed(const http_request& req, const std::string& origin,
                              const std::vector<std::string>& allowed);

/// Checks `req` as a WebSocket upgrade request and returns the answer:
/// - 101 with Upgrade, Connection and Sec-WebSocket-Accept when it is one;
/// - 400 when it is malformed (not GET, no "Upgrade: websocket", no
///   "Connection: upgrade" token, a Sec-WebSocket-Key that is not 16 bytes
///   of base64);
/// - 426 with "Sec-WebSocket-Version: 13" for another protocol version;
/// - 403 when the Origin header is present and `allow_origin` refuses it.
/// Subprotocols and extensions are never negotiated (none is offered back).
http_response ws_handshake(const http_request& req, const ws_origin_policy& allow_origin);

} // namespace troupe
