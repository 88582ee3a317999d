// An incremental parser for an origin's HTTP/1.1 response, on libhttp-parser
// (Debian's libhttp-parser 2.9.4), with limits. Chunked and close-delimited
// bodies are decoded; interim 1xx responses are skipped. Fuzzed by
// tests/fuzz/edge_origin_response_fuzz.cpp.
#pragma once

#include "actors/edge/cache/http_types.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace troupe::edge {

struct origin_parse_limits {
  /// Bytes of the status line and header section together.
  size_t max_header_bytes = 64 * 1024;
  /// Header fields.
  size_t max_headers = 200;
  /// Bytes of the decoded body.
  size_t max_body_bytes = size_t{16} << 20;
};

class origin_response_parser {
public:
  enum class state {
    incomplete, // feed more (or call finish() at EOF)
    complete,   // response() holds the whole response
    failed,     // error() says why; the connection is unusable
  };

  /// `head_request`: the response to a HEAD has no body whatever its
  /// Content-Length says (RFC 9110 9.3.2).
  origin_response_parser(origin_parse_limits limits, bool head_request);
  ~origin_response_parser();
  origin_response_parser(origin_response_parser&&) noexcept;
  origin_response_parser& operator=(origin_response_parser&&) noexcept;

  /// Consumes bytes; returns the state after them. Bytes after a complete
  /// response are not consumed (an origin must not send unsolicited data;
  /// the connection is then not reused).
  state feed(const char* data, size_t size);

  /// The peer closed: completes a close-delimited body, else fails.
  state finish();

  /// Whether the connection may carry another request after this response.
  bool keep_alive() const;

  /// Whether bytes followed the complete response.
  bool trailing_bytes() const;

  /// The parsed response; headers as sent (framing fields included).
  cache::response& response();

  const std::string& error() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::edge
