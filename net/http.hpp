// HTTP/1.1 for troupe's admin port, without any I/O: an incremental request
// parser (wrapping libhttp-parser), a response renderer, and http_session,
// the protocol logic of one server-side connection. http_server.hpp wraps
// http_session in a CAF broker. docs/http.md explains the limits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe {

/// Bounds on what one peer can make the server hold. Breaking a request
/// limit is answered with its status code, then the connection closes.
struct http_limits {
  // -- per request, enforced by http_request_parser --------------------------

  /// Bytes of the request line including its CRLF, plus any empty lines
  /// before it. Exceeding it: 414.
  size_t max_request_line = 8192;
  /// Bytes of the header section after the request line, including the
  /// empty line that ends it. Exceeding it: 431.
  size_t max_header_bytes = 16384;
  /// Header fields per request. Exceeding it: 431.
  size_t max_headers = 100;
  /// Bytes of the decoded body. Exceeding it: 413. A chunked body may spend
  /// up to `max_header_bytes` more bytes on the wire for chunk framing,
  /// extensions and trailers, or it is also answered with 413.
  size_t max_body_bytes = 1 << 20;
  /// Also accept the PURGE method (the edge's cache purge; docs/edge.md).
  bool allow_purge = false;

  // -- per connection, enforced by http_session and http_server --------------

  /// Unsent response bytes at which a connection stops reading and
  /// answering until the peer catches up. One response may overshoot it.
  size_t max_output_bytes = 1 << 20;
  /// Open connections per server; further ones are closed at once.
  size_t max_connections = 256;
  /// A connection without traffic in either direction for this long is
  /// closed, even if it still has unsent output.
  std::chrono::milliseconds idle_timeout{60'000};
};

/// One parsed request.
struct http_request {
  /// The method as sent, e.g. "GET".
  std::string method;
  /// The request target as sent, e.g. "/metrics?format=text".
  std::string target;
  /// The target's path, not percent-decoded, e.g. "/metrics". Absolute-form
  /// targets ("http://host/x") are reduced to their path; never empty.
  std::string path;
  /// The target's query without the '?', e.g. "format=text".
  std::string query;
  /// Header fields in the order received; names as sent, values without
  /// surrounding whitespace. Trailer fields of a chunked body are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body with any chunked framing removed.
  std::string body;
  /// Whether the connection may carry another request after this one: false
  /// for HTTP/1.0 without "Connection: keep-alive", for "Connection: close",
  /// and for upgrade requests, after which the stream is no longer HTTP.
  bool keep_alive = true;
  int version_major = 1;
  int version_minor = 1;

  /// Returns the value of the first header named `name` (compared
  /// case-insensitively), or nullptr.
  const std::string* header(std::string_view name) const;
};

/// What a handler answers.
struct http_response {
  int status = 200;
  /// Sent as Content-Type unless empty.
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Extra header fields. The renderer owns the framing: fields named
  /// Content-Length, Content-Type, Connection or Transfer-Encoding, and
  /// fields containing CR, LF or NUL, are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Renders `res` as HTTP/1.1: the status line with its reason phrase,
/// Content-Type, Content-Length, `res.headers`, then "Connection: keep-alive"
/// or "Connection: close" ("Connection: Upgrade" for 101). Without a body for `head_request` (Content-Length
/// still gives the body's size) and for 1xx, 204 and 304. A status outside
/// 100..999 is rendered as 500.
std::string render_response(const http_response& res, bool keep_alive,
                            bool head_request);

/// The parser's verdict on its input so far.
struct http_parse_status {
  /// 0 while the input is fine; otherwise the status code to answer with
  /// before closing: 400 malformed (including HTTP/1.1 without Host),
  /// 413 body too large, 414 request line too long, 431 header section too
  /// large or too many fields, 501 unknown or unsupported method or
  /// transfer coding, 505 HTTP version other than 1.x.
  int code = 0;
  /// One line for the error response's body, e.g. "request line longer
  /// than 8192 bytes".
  std::string reason;

  bool ok() const {
    return code == 0;
  }
};

/// An incremental HTTP/1.1 request parser for one connection. Bytes may
/// arrive in any split, down to one byte at a time; the outcome does not
/// depend on the split. Every limit in http_limits is checked before the
/// bytes that would break it are buffered. Supports pipelining and chunked
/// request bodies. Supported methods: GET, HEAD, POST, PUT, DELETE, OPTIONS,
/// PATCH. Move-only.
class http_request_parser {
public:
  explicit http_request_parser(http_limits limits = {});
  ~http_request_parser();
  http_request_parser(http_request_parser&&) noexcept;
  http_request_parser& operator=(http_request_parser&&) noexcept;

  /// Consumes the next `size` bytes of the stream. Appends each request they
  /// complete to `out`, in stream order. Returns an error as soon as the
  /// input breaks a rule or a limit; requests completed before the error are
  /// in `out` and should be answered first. Once done(), further bytes are
  /// ignored and the same status is returned again.
  http_parse_status feed(const char* data, size_t size,
                         std::vector<http_request>& out);

  /// Whether no further request can come: after an error, or after a
  /// request with `keep_alive == false`.
  bool done() const;

private:
  struct state;
  std::unique_ptr<state> state_;
};

/// Answers one request. Runs on the thread that drives the connection (the
/// middleman's I/O thread for http_server): must not block, must not throw.
using http_handler = std::function<http_response(const http_request&)>;

/// The protocol logic of one server-side connection, without I/O: bytes from
/// the peer go in, responses come out in request order. Requests wait
/// (parsed, not answered) while `limits.max_output_bytes` or more are
/// unsent, and wants_input() turns false so that the shell stops reading.
/// After a parse error the error response is the last output. Once done(),
/// the shell flushes the output and closes the connection.
class http_session {
public:
  http_session(http_limits limits, http_handler handler);

  /// Consumes bytes from the peer and appends responses to `out`, counting
  /// them as unsent.
  void on_input(const char* data, size_t size, std::vector<char>& out);

  /// Tells the session that `unsent_bytes` of its output are still unsent,
  /// and answers waiting requests if that leaves room.
  void on_output_pending(size_t unsent_bytes, std::vector<char>& out);

  /// Whether the shell should read more input now.
  bool wants_input() const;

  /// Whether all output is written and the connection should close after
  /// flushing it.
  bool done() const;

  /// Requests answered by the handler so far.
  uint64_t requests_answered() const {
    return requests_answered_;
  }

  /// Output bytes not yet known to be sent.
  size_t unsent_bytes() const {
    return unsent_bytes_;
  }

  /// The request that was answered with 101 Switching Protocols, or
  /// nullptr. Once set, done() is true: the shell flushes the 101 and hands
  /// the connection to the new protocol instead of closing it.
  const http_request* upgraded() const {
    return upgraded_.get();
  }

  /// The status code of the parse error answered, or 0.
  int error_status() const {
    return error_.code;
  }

private:
  void answer_waiting(std::vector<char>& out);
  void write(const std::string& bytes, std::vector<char>& out);

  http_limits limits_;
  http_handler handler_;
  http_request_parser parser_;
  std::vector<http_request> waiting_;
  http_parse_status error_;
  size_t unsent_bytes_ = 0;
  uint64_t requests_answered_ = 0;
  bool closing_ = false;
  std::unique_ptr<http_request> upgraded_;
};

} // namespace troupe
