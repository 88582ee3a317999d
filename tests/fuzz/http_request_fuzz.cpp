// libFuzzer target for http_request_parser and http_session.
//
// Checks, for every input: the parser never crashes or leaks (ASan, UBSan);
// its outcome is the same whether the stream arrives at once or in small
// pieces; no request it returns breaks a limit; every error is one of the
// documented status codes; and a session's output is well-framed.
//
// libhttp-parser is a system library without coverage instrumentation, so
// libFuzzer alone rarely finds valid requests. The input's first byte
// therefore picks a mode: raw bytes, or a "token" mode in which each byte
// picks a fragment of HTTP syntax (methods, versions, framing headers, chunk
// sizes), so that the mutations explore request structure.
#include "net/http.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using troupe::http_limits;
using troupe::http_request;
using troupe::http_request_parser;

// Small limits, so that the fuzzer reaches every one of them.
http_limits fuzz_limits() {
  http_limits limits;
  limits.max_request_line = 64;
  limits.max_header_bytes = 128;
  limits.max_headers = 4;
  limits.max_body_bytes = 64;
  limits.max_output_bytes = 256;
  return limits;
}

// Whole requests, request parts and framing details; mutations splice them.
constexpr std::array<std::string_view, 48> fragments
  = {"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
     "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
     "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
     "5\r\nhello\r\n",
     "40\r\n",
     "0\r\n\r\n",
     "0\r\nX-T: t\r\n\r\n",
     "GET /a?b HTTP/1.0\r\n\r\n",
     "GET ",
     "HEAD ",
     "POST ",
     "PUT ",
     "DELETE ",
     "OPTIONS ",
     "PATCH ",
     "TRACE ",
     "CONNECT ",
     "BREW ",
     "/",
     "/livez",
     "?q=1",
     "http://h/p",
     "*",
     " HTTP/1.1\r\n",
     " HTTP/1.0\r\n",
     " HTTP/2.0\r\n",
     "\r\n",
     "\n",
     "Host: h\r\n",
     "Connection: close\r\n",
     "Connection: keep-alive\r\n",
     "Connection: Upgrade\r\nUpgrade: websocket\r\n",
     "Content-Length: ",
     "Transfer-Encoding: chunked\r\n",
     "Transfer-Encoding: gzip\r\n",
     "X-A: b\r\n",
     " folded\r\n",
     "0",
     "5",
     "ff",
     ";ext=1",
     "hello",
     "\t",
     ":",
     " ",
     "\x80",
     "\0",
     "\r"};

std::string expand(const uint8_t* data, size_t size) {
  if (size == 0)
    return {};
  if (data[0] % 2 == 0)
    return {reinterpret_cast<const char*>(data) + 1, size - 1};
  std::string stream;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] < fragments.size())
      stream += fragments[data[i]];
    else
      stream += static_cast<char>(data[i]);
  }
  return stream;
}

struct outcome {
  std::vector<http_request> requests;
  int code = 0;
};

// Feeds `stream` in pieces of 1..8 bytes chosen by `seed` (0: all at once).
outcome parse(std::string_view stream, uint32_t seed) {
  http_request_parser parser{fuzz_limits()};
  outcome result;
  size_t pos = 0;
  while (pos < stream.size()) {
    auto piece = seed == 0 ? stream.size() : 1 + (seed >> (pos % 29)) % 8;
    piece = std::min(piece, stream.size() - pos);
    auto status = parser.feed(stream.data() + pos, piece, result.requests);
    result.code = status.code;
    pos += piece;
  }
  return result;
}

void require(bool condition) {
  if (!condition)
    std::abort();
}

bool same(const http_request& x, const http_request& y) {
  return x.method == y.method && x.target == y.target && x.path == y.path
         && x.query == y.query && x.headers == y.headers && x.body == y.body
         && x.keep_alive == y.keep_alive && x.version_major == y.version_major
         && x.version_minor == y.version_minor;
}

void check_limits(const outcome& result) {
  auto limits = fuzz_limits();
  for (auto& req : result.requests) {
    require(req.target.size() <= limits.max_request_line);
    require(req.headers.size() <= limits.max_headers);
    require(req.body.size() <= limits.max_body_bytes);
    require(!req.path.empty());
    size_t header_bytes = 0;
    for (auto& [name, value] : req.headers)
      header_bytes += name.size() + value.size();
    require(header_bytes <= limits.max_header_bytes);
  }
  switch (result.code) {
    case 0:
    case 400:
    case 413:
    case 414:
    case 431:
    case 501:
    case 505:
      break;
    default:
      std::abort();
  }
}

// Runs a session over the stream with a consumer that drains the output only
// when the session stops reading. Each response must start with a status line.
void check_session(std::string_view stream) {
  troupe::http_session session{fuzz_limits(), [](const http_request& req) {
                                 troupe::http_response res;
                                 res.body = req.path;
                                 return res;
                               }};
  std::vector<char> out;
  size_t pos = 0;
  while (pos < stream.size() && !session.done()) {
    if (session.wants_input()) {
      auto piece = std::min<size_t>(16, stream.size() - pos);
      session.on_input(stream.data() + pos, piece, out);
      pos += piece;
    } else {
      session.on_output_pending(0, out);
    }
  }
  session.on_output_pending(0, out);
  if (!out.empty())
    require(std::string_view{out.data(), out.size()}.starts_with("HTTP/1.1 "));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto stream = expand(data, size);
  auto seed = size >= 2 ? 0x9e3779b9u * (data[size - 1] + 1u) : 1u;
  auto whole = parse(stream, 0);
  auto pieces = parse(stream, seed);
  check_limits(whole);
  require(whole.code == pieces.code);
  require(whole.requests.size() == pieces.requests.size());
  for (size_t i = 0; i < whole.requests.size(); ++i)
    require(same(whole.requests[i], pieces.requests[i]));
  check_session(stream);
  return 0;
}
