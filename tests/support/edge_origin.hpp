// Test helpers for the edge role: the programmable test origin
// (tests/origin/test_origin.py) as a child process, and a raw HTTP/1.1
// client that shows exactly what the edge sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace troupe::test {

/// The test origin on `host`. Its port stays the same across stop/start.
class test_origin {
public:
  explicit test_origin(std::string host = "127.0.0.1");
  ~test_origin();
  test_origin(const test_origin&) = delete;
  test_origin& operator=(const test_origin&) = delete;

  /// Kills the origin (SIGKILL): connections reset, the port refuses.
  void stop();
  /// Starts it again on the same port; waits until it answers.
  bool start();

  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }
  /// http://HOST:PORT
  std::string url() const;

  /// POSTs a route spec (JSON, see test_origin.py). False if not accepted.
  bool route(const std::string& json);
  /// Requests the origin saw for `path`; -1 if it did not answer.
  int count(const std::string& path);
  /// The last request to `path` as JSON ({"method", "headers", ...}).
  std::string last(const std::string& path);
  bool reset();

private:
  std::string host_;
  uint16_t port_ = 0;
  int pid_ = -1;
  std::string dir_;
};

struct http_reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The first header named `name` (case-insensitive), or nullptr.
  const std::string* header(const std::string& name) const;
};

/// Writes `bytes` to host:port, then reads until the peer closes or
/// `timeout` passes. Returns everything read ("" if it could not connect).
std::string raw_exchange(const std::string& host, uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// Splits a byte stream of HTTP/1.1 responses (Content-Length or chunked
/// framed; `head_responses` lists which of them answer a HEAD).
std::vector<http_reply> parse_replies(const std::string& stream,
                                      const std::vector<bool>& head_responses = {});

/// One request with "Connection: close"; nullopt when no response came.
std::optional<http_reply> http_call(const std::string& host, uint16_t port,
                                    const std::string& method, const std::string& target,
                                    const std::vector<std::string>& extra_headers = {},
                                    const std::string& body = {},
                                    std::chrono::milliseconds timeout = std::chrono::seconds{5});

} // namespace troupe::test
