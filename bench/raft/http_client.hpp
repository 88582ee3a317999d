// Just enough HTTP/1.1 for etcd's JSON gateway: formatting a POST, reading
// one response at a time off a keep-alive connection (Content-Length or
// chunked, via libhttp-parser), and a blocking one-shot POST with a deadline
// for status polls and failover probes.
#pragma once

#include <http_parser.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace troupe::kvbench {

struct http_endpoint {
  std::string host; // a numeric IPv4 address
  uint16_t port = 0;

  std::string to_string() const;
};

/// The bytes of `POST path` with a JSON body, keep-alive.
std::string format_post(const http_endpoint& to, const std::string& path,
                        const std::string& json);

/// Parses one response; reset() before the next one on the same connection.
class response_reader {
public:
  response_reader();
  response_reader(const response_reader&) = delete;
  response_reader& operator=(const response_reader&) = delete;

  /// Feeds received bytes. Returns false on a malformed response.
  bool feed(const char* data, size_t size);

  void reset();

  bool done() const noexcept {
    return done_;
  }
  int status() const noexcept {
    return status_;
  }
  const std::string& body() const noexcept {
    return body_;
  }
  /// Whether the server keeps the connection open after this response.
  bool keep_alive() const noexcept {
    return keep_alive_;
  }

private:
  static int on_body(http_parser* p, const char* at, size_t size);
  static int on_complete(http_parser* p);

  http_parser parser_;
  http_parser_settings settings_;
  std::string body_;
  int status_ = 0;
  bool done_ = false;
  bool keep_alive_ = false;
};

struct http_reply {
  std::string error; // empty: a response arrived (any status)
  int status = 0;
  std::string body;
};

/// Connects, posts, reads one response, closes. Never takes longer than
/// `timeout` (connect included).
http_reply http_post(const http_endpoint& to, const std::string& path,
                     const std::string& json,
                     std::chrono::milliseconds timeout);

/// Opens a non-blocking TCP socket to `to` with TCP_NODELAY and starts the
/// connect; returns -1 (and sets `error`) if that fails at once.
int start_connect(const http_endpoint& to, std::string& error);

/// The revision in an etcd response body's header ("revision":"123"), or 0
/// if the body has none (an error body has none).
int64_t etcd_header_revision(const std::string& body);

} // namespace troupe::kvbench
