// Tests for net/http (parser, renderer, session) and net/http_server.
#include "net/errors.hpp"
#include "net/http.hpp"
#include "net/http_server.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

using namespace troupe;

namespace {

struct parse_result {
  std::vector<http_request> requests;
  http_parse_status status;
};

// Feeds `input` in pieces of `piece` bytes (0: all at once).
parse_result parse(std::string_view input, size_t piece = 0,
                   http_limits limits = {}) {
  http_request_parser parser{limits};
  parse_result result;
  if (piece == 0)
    piece = input.size();
  for (size_t pos = 0; pos < input.size() && result.status.ok(); pos += piece) {
    auto n = std::min(piece, input.size() - pos);
    result.status = parser.feed(input.data() + pos, n, result.requests);
  }
  return result;
}

// The status code for `input`, which must be the same fed at once and fed
// byte by byte.
int status_of(std::string_view input, http_limits limits = {}) {
  auto whole = parse(input, 0, limits).status.code;
  auto trickled = parse(input, 1, limits).status.code;
  CHECK_MESSAGE(whole == trickled, "split changed the outcome for: ", input);
  return whole;
}

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string{target} + " HTTP/1.1\r\nHost: test\r\n"
         + std::string{extra} + "\r\n";
}

} // namespace

// -- parser ------------------------------------------------------------------

TEST_CASE("http parser: a simple GET") {
  auto res = parse("GET /metrics?format=text HTTP/1.1\r\nHost: node1\r\n"
                   "X-Padded:   spaced value  \r\nX-Empty:\r\n\r\n");
  REQUIRE(res.status.ok());
  REQUIRE(res.requests.size() == 1);
  auto& req = res.requests[0];
  CHECK(req.method == "GET");
  CHECK(req.target == "/metrics?format=text");
  CHECK(req.path == "/metrics");
  CHECK(req.query == "format=text");
  CHECK(req.version_major == 1);
  CHECK(req.version_minor == 1);
  CHECK(req.keep_alive);
  CHECK(req.body.empty());
  REQUIRE(req.headers.size() == 3);
  REQUIRE(req.header("HOST") != nullptr);
  CHECK(*req.header("host") == "node1");
  CHECK(*req.header("x-padded") == "spaced value");
  REQUIRE(req.header("X-Empty") != nullptr);
  CHECK(req.header("X-Empty")->empty());
  CHECK(req.header("missing") == nullptr);
}

TEST_CASE("http parser: targets in absolute and asterisk form") {
  auto res = parse("GET http://node1:7480/readyz?verbose HTTP/1.1\r\nHost: "
                   "node1\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: node1\r\n\r\n"
                   "GET http://node1 HTTP/1.1\r\nHost: node1\r\n\r\n");
  REQUIRE(res.status.ok());
  REQUIRE(res.requests.size() == 3);
  CHECK(res.requests[0].path == "/readyz");
  CHECK(res.requests[0].query == "verbose");
  CHECK(res.requests[1].path == "*");
  CHECK(res.requests[2].path == "/");
}

TEST_CASE("http parser: pipelined requests come out in order") {
  auto input = get("/a")
               + "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 "\r\nhello"
               + get("/c");
  for (size_t piece : {size_t{0}, size_t{1}, size_t{7}}) {
    CAPTURE(piece);
    auto res = parse(input, piece);
    REQUIRE(res.status.ok());
    REQUIRE(res.requests.size() == 3);
    CHECK(res.requests[0].path == "/a");
    CHECK(res.requests[1].method == "POST");
    CHECK(res.requests[1].body == "hello");
    CHECK(res.requests[2].path == "/c");
  }
}

TEST_CASE("http parser: chunked bodies are decoded, trailers dropped") {
  std::string input = "POST /ingest HTTP/1.1\r\nHost: t\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
                      "X-Trailer: t\r\n\r\n"
                      + get("/next");
  for (size_t piece : {size_t{0}, size_t{1}, size_t{3}}) {
    CAPTURE(piece);
    auto res = parse(input, piece);
    REQUIRE(res.status.ok());
    REQUIRE(res.requests.size() == 2);
    CHECK(res.requests[0].body == "hello world");
    CHECK(res.requests[0].header("x-trailer") == nullptr);
    CHECK(res.requests[1].path == "/next");
  }
}

TEST_CASE("http parser: keep-alive follows the version and Connection") {
  auto keep_alive = [](std::string_view input) {
    auto res = parse(input);
    REQUIRE(res.status.ok());
    REQUIRE(res.requests.size() == 1);
    return res.requests[0].keep_alive;
  };
  CHECK(keep_alive("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  CHECK_FALSE(
    keep_alive("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(keep_alive("GET / HTTP/1.0\r\n\r\n"));
  CHECK(keep_alive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK_FALSE(
    keep_alive("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
               "Upgrade: websocket\r\n\r\n"));
}

TEST_CASE("http parser: nothing is parsed after the last request") {
  http_request_parser parser;
  std::vector<http_request> out;
  std::string input = "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                      "GET /b HTTP/1.1\r\nHost: t\r\n\r\n";
  CHECK(parser.feed(input.data(), input.size(), out).ok());
  CHECK(out.size() == 1);
  CHECK(parser.done());
  CHECK(parser.feed("garbage", 7, out).ok());
  CHECK(out.size() == 1);
}

TEST_CASE("http parser: 400 for malformed requests") {
  CHECK(status_of("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400); // no Host
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
  CHECK(status_of("\x16\x03\x01\x02\x00") == 400); // a TLS hello
  CHECK(status_of("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n")
        == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                  "Content-Length: 2\r\n\r\n")
        == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                  "\r\n\r\nzz\r\n")
        == 400);
}

TEST_CASE("http parser: requests before an error are still returned") {
  auto res = parse(get("/ok") + "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 1);
  CHECK(res.status.code == 400);
  REQUIRE(res.requests.size() == 1);
  CHECK(res.requests[0].path == "/ok");
}

TEST_CASE("http parser: 413 for bodies over max_body_bytes") {
  http_limits limits;
  limits.max_body_bytes = 10;
  // Rejected from the header alone, before any body byte arrives.
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n",
                  limits)
        == 413);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
                  "0123456789",
                  limits)
        == 0);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                  "\r\n\r\n6\r\n012345\r\n5\r\n",
                  limits)
        == 413);
  // Chunk framing counts against max_body_bytes + max_header_bytes.
  limits.max_header_bytes = 64;
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                  "\r\n\r\n1;"
                    + std::string(100, 'x') + "\r\n",
                  limits)
        == 413);
}

TEST_CASE("http parser: 414 for request lines over max_request_line") {
  http_limits limits;
  limits.max_request_line = 64;
  auto line_of = [](size_t size) { // "GET /xx...x HTTP/1.1\r\n" of `size` bytes
    return "GET /" + std::string(size - 16, 'x') + " HTTP/1.1\r\n";
  };
  CHECK(line_of(64).size() == 64);
  CHECK(status_of(line_of(64) + "Host: t\r\n\r\n", limits) == 0);
  CHECK(status_of(line_of(65) + "Host: t\r\n\r\n", limits) == 414);
  // Without a line end the limit still holds.
  CHECK(status_of("GET /" + std::string(1000, 'x'), limits) == 414);
  // Empty lines before the request count too.
  // (append(), not operator+: GCC 12 warns falsely on string&& + literal.)
  CHECK(status_of(std::string(64, '\n').append("GET"), limits) == 414);
  // The default limit is 8 KiB.
  CHECK(status_of("GET /" + std::string(9000, 'x') + " HTTP/1.1\r\n") == 414);
}

TEST_CASE("http parser: 431 for header sections over the limits") {
  http_limits limits;
  limits.max_header_bytes = 64;
  limits.max_headers = 3;
  std::string fields = "Host: t\r\nA: 1\r\nB: 2\r\n";
  CHECK(status_of("GET / HTTP/1.1\r\n" + fields + "\r\n", limits) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\n" + fields + "C: 3\r\n\r\n", limits)
        == 431);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: t\r\nBig: " + std::string(60, 'v')
                    + "\r\n\r\n",
                  limits)
        == 431);
  // A header that never ends still hits the limit.
  CHECK(status_of("GET / HTTP/1.1\r\nBig: " + std::string(1000, 'v'), limits)
        == 431);
}

TEST_CASE("http parser: 501 for unknown methods and transfer codings") {
  CHECK(status_of("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
  CHECK(status_of("get / HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
  CHECK(status_of("TRACE / HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
  CHECK(status_of("CONNECT node1:443 HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, "
                  "chunked\r\n\r\n")
        == 501);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip"
                  "\r\n\r\n")
        == 501);
  for (auto method :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
    CHECK(status_of(std::string{method} + " / HTTP/1.1\r\nHost: t\r\n\r\n")
          == 0);
}

TEST_CASE("http parser: 505 for versions other than 1.x") {
  CHECK(status_of("GET / HTTP/2.0\r\nHost: t\r\n\r\n") == 505);
  CHECK(status_of("GET / HTTP/0.9\r\n\r\n") == 505);
  CHECK(status_of("GET /\r\n\r\n") == 505); // HTTP/0.9 style, no version
}

// -- renderer ----------------------------------------------------------------

TEST_CASE("http render_response: framing, HEAD and bodyless statuses") {
  http_response res;
  res.body = "ok\n";
  res.headers = {{"Cache-Control", "no-store"},
                 {"Content-Length", "99"},
                 {"X-Bad", "a\r\nInjected: yes"}};
  CHECK(render_response(res, true, false)
        == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Length: 3\r\nCache-Control: no-store\r\n"
           "Connection: keep-alive\r\n\r\nok\n");
  CHECK(render_response(res, false, true)
        == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Length: 3\r\nCache-Control: no-store\r\n"
           "Connection: close\r\n\r\n");
  http_response empty;
  empty.status = 204;
  empty.body = "ignored";
  CHECK(render_response(empty, true, false)
        == "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  http_response odd;
  odd.status = 42;
  CHECK(render_response(odd, true, false).starts_with("HTTP/1.1 500 "));
  odd.status = 299;
  CHECK(render_response(odd, true, false).starts_with("HTTP/1.1 299 \r\n"));
}

// -- session -----------------------------------------------------------------

namespace {

http_response echo_path(const http_request& req) {
  http_response res;
  res.body = req.path;
  return res;
}

std::string text(const std::vector<char>& out) {
  return {out.begin(), out.end()};
}

} // namespace

TEST_CASE("http session: answers in order, then the error, then closes") {
  http_session session{http_limits{}, echo_path};
  std::vector<char> out;
  auto input = get("/a") + get("/b") + "BREW / HTTP/1.1\r\n";
  session.on_input(input.data(), input.size(), out);
  auto written = text(out);
  auto a = written.find("\r\n\r\n/a");
  auto b = written.find("\r\n\r\n/b");
  auto error = written.find("HTTP/1.1 501 Not Implemented");
  CHECK(a < b);
  CHECK(b < error);
  CHECK(error != std::string::npos);
  CHECK(
    written.ends_with("Connection: close\r\n\r\nunknown method; "
                      "supported: GET HEAD POST PUT DELETE OPTIONS PATCH\n"));
  CHECK(session.done());
  CHECK(session.requests_answered() == 2);
  CHECK(session.error_status() == 501);
}

TEST_CASE("http session: HEAD gets headers only, Connection: close ends it") {
  http_session session{http_limits{}, echo_path};
  std::vector<char> out;
  auto input = std::string{"HEAD /head HTTP/1.1\r\nHost: t\r\nConnection: close"
                           "\r\n\r\n"};
  session.on_input(input.data(), input.size(), out);
  CHECK(text(out)
        == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Length: 5\r\nConnection: close\r\n\r\n");
  CHECK(session.done());
}

TEST_CASE("http session: unsent output holds back answers and input") {
  http_limits limits;
  limits.max_output_bytes = 150; // a response takes 105 bytes
  http_session session{limits, echo_path};
  std::vector<char> out;
  auto input = get("/1") + get("/2") + get("/3");
  session.on_input(input.data(), input.size(), out);
  CHECK(session.requests_answered() == 2); // the second one overshoots
  CHECK_FALSE(session.wants_input());
  session.on_output_pending(150, out); // still over the limit
  CHECK(session.requests_answered() == 2);
  session.on_output_pending(0, out);
  CHECK(session.requests_answered() == 3);
  CHECK(session.wants_input());
  CHECK_FALSE(session.done());
}

// -- server ------------------------------------------------------------------

namespace {

// Returns a port that was free a moment ago.
uint16_t free_port() {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A blocking client socket with a 5 s receive timeout, or -1.
int connect_to(uint16_t port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until `count` complete responses (with Content-Length) arrived, EOF,
// or the timeout. Returns everything read.
std::string read_responses(int fd, size_t count) {
  std::string data;
  auto complete = [&] {
    size_t pos = 0;
    for (size_t i = 0; i < count; ++i) {
      auto head_end = data.find("\r\n\r\n", pos);
      if (head_end == std::string::npos)
        return false;
      auto length_at = data.find("Content-Length: ", pos);
      size_t length = 0;
      if (length_at != std::string::npos && length_at < head_end)
        length = std::stoul(data.substr(length_at + 16));
      pos = head_end + 4 + length;
      if (pos > data.size())
        return false;
    }
    return true;
  };
  char buf[4096];
  while (!complete()) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

// Whether the peer closed: recv returns 0 (or a reset) within the timeout.
bool closed_by_peer(int fd) {
  char buf[4096];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      return true;
    if (n < 0)
      return false; // timeout
  }
}

size_t open_fds() {
  auto entries = std::filesystem::directory_iterator{"/proc/self/fd"};
  return static_cast<size_t>(std::distance(begin(entries), end(entries)));
}

struct server_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor server;
  uint16_t port = 0;
  std::shared_ptr<http_server_stats> stats
    = std::make_shared<http_server_stats>();

  explicit server_fixture(http_limits limits = {}) {
    cfg.load<caf::io::middleman>();
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    auto handler = [](const http_request& req) {
      http_response res;
      if (req.path == "/livez") {
        res.body = "ok\n";
      } else if (req.path == "/big") {
        res.body = std::string(256 * 1024, 'b');
      } else {
        res.status = 404;
        res.body = "not found: " + req.path + "\n";
      }
      return res;
    };
    for (int attempt = 0; attempt < 5 && !server; ++attempt) {
      port = free_port();
      auto spawned = spawn_http_server(*sys, "127.0.0.1", port, handler, limits,
                                       stats);
      if (spawned)
        server = *spawned;
    }
    REQUIRE(server);
  }

  ~server_fixture() {
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("http server: answers, pipelines, HEAD, keep-alive") {
  server_fixture fix;
  auto fd = connect_to(fix.port);
  REQUIRE(fd >= 0);
  send_all(fd, get("/livez"));
  auto first = read_responses(fd, 1);
  CHECK(first.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(first.ends_with("Connection: keep-alive\r\n\r\nok\n"));
  // Same connection, three pipelined requests in one write.
  send_all(fd, get("/nope") + "HEAD /livez HTTP/1.1\r\nHost: t\r\n\r\n"
                 + get("/livez"));
  auto three = read_responses(fd, 3);
  auto not_found = three.find("HTTP/1.1 404 Not Found");
  auto head = three.find("HTTP/1.1 200 OK", not_found);
  auto get_again = three.find("HTTP/1.1 200 OK", head + 1);
  CHECK(not_found == 0);
  REQUIRE(head != std::string::npos);
  REQUIRE(get_again != std::string::npos);
  // The HEAD answer carries no body: the next status line follows directly.
  CHECK(three.substr(get_again - 4, 4) == "\r\n\r\n");
  CHECK(three.ends_with("ok\n"));
  ::close(fd);
  CHECK(fix.stats->requests_answered == 4);
}

TEST_CASE("http server: a client that half-closes still gets its answer") {
  server_fixture fix;
  auto fd = connect_to(fix.port);
  REQUIRE(fd >= 0);
  send_all(fd, get("/livez") + get("/livez"));
  ::shutdown(fd, SHUT_WR);
  auto both = read_responses(fd, 2);
  CHECK(both.starts_with("HTTP/1.1 200 OK"));
  CHECK(both.find("HTTP/1.1 200 OK", 1) != std::string::npos);
  ::close(fd);
}

TEST_CASE("http server: 431 and 414 are answered, then the connection closes") {
  http_limits limits;
  limits.max_header_bytes = 1024;
  limits.max_request_line = 256;
  server_fixture fix{limits};
  auto fd = connect_to(fix.port);
  REQUIRE(fd >= 0);
  send_all(fd, get("/livez", "X-Big: " + std::string(2000, 'x') + "\r\n"));
  auto response = read_responses(fd, 1);
  CHECK(
    response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  CHECK(response.find("Connection: close\r\n") != std::string::npos);
  CHECK(closed_by_peer(fd));
  ::close(fd);
  fd = connect_to(fix.port);
  REQUIRE(fd >= 0);
  send_all(fd, get("/" + std::string(300, 'x')));
  CHECK(read_responses(fd, 1).starts_with("HTTP/1.1 414 URI Too Long\r\n"));
  CHECK(closed_by_peer(fd));
  ::close(fd);
}

TEST_CASE("http server: a busy port or a bad address is a clear error") {
  server_fixture fix;
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto handler = [](const http_request&) { return http_response{}; };
  auto second = spawn_http_server(sys, "127.0.0.1", fix.port, handler);
  REQUIRE_FALSE(second);
  CHECK(is(second.error(), errc::invalid_argument));
  CHECK(describe(second.error())
        == "invalid_argument: cannot listen on 127.0.0.1:"
             + std::to_string(fix.port)
             + ": address in use; stop the other process or choose another "
               "port");
  auto empty = spawn_http_server(sys, "", 0, handler);
  REQUIRE_FALSE(empty);
  CHECK(describe(empty.error()).find("cannot listen on :0: no host given")
        != std::string::npos);
  auto foreign = spawn_http_server(sys, "192.0.2.1", 0, handler);
  REQUIRE_FALSE(foreign);
  CHECK(describe(foreign.error()).find("address not available")
        != std::string::npos);
}

TEST_CASE("http server: nodes on different loopback hosts share a port") {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto handler = [](const http_request&) { return http_response{}; };
  auto port = free_port();
  auto node2 = spawn_http_server(sys, "127.0.0.2", port, handler);
  auto node3 = spawn_http_server(sys, "127.0.0.3", port, handler);
  CHECK(node2);
  CHECK(node3);
  for (auto& server : {node2, node3})
    if (server)
      caf::anon_send_exit(*server, caf::exit_reason::user_shutdown);
}

TEST_CASE("http server: max_connections, idle timeout, shutdown") {
  http_limits limits;
  limits.max_connections = 1;
  limits.idle_timeout = std::chrono::milliseconds{300};
  server_fixture fix{limits};
  auto first = connect_to(fix.port);
  REQUIRE(first >= 0);
  send_all(first, get("/livez"));
  CHECK(read_responses(first, 1).starts_with("HTTP/1.1 200 OK"));
  // The second connection is accepted by the kernel, then closed at once.
  auto second = connect_to(fix.port);
  REQUIRE(second >= 0);
  CHECK(closed_by_peer(second));
  ::close(second);
  CHECK(fix.stats->connections_rejected == 1);
  // The first one idles out.
  auto started = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(first));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{3});
  ::close(first);
  CHECK(fix.stats->connections_timed_out == 1);
  // An exit closes the listener and the open connections.
  auto third = connect_to(fix.port);
  REQUIRE(third >= 0);
  send_all(third, get("/livez"));
  CHECK(read_responses(third, 1).starts_with("HTTP/1.1 200 OK"));
  caf::anon_send_exit(fix.server, caf::exit_reason::user_shutdown);
  CHECK(closed_by_peer(third));
  ::close(third);
  int refused = -1;
  for (int i = 0; i < 50; ++i) {
    refused = connect_to(fix.port);
    if (refused < 0)
      break;
    ::close(refused);
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  CHECK(refused < 0);
}

TEST_CASE("http server: a peer that stops reading is cut off when idle") {
  http_limits limits;
  limits.max_output_bytes = 64 * 1024;
  limits.idle_timeout = std::chrono::milliseconds{300};
  server_fixture fix{limits};
  auto fds_before = open_fds();
  auto fd = connect_to(fix.port);
  REQUIRE(fd >= 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  std::string burst;
  for (int i = 0; i < 64; ++i) // 16 MiB of answers, never read
    burst += get("/big");
  send_all(fd, burst);
  for (int i = 0; i < 100 && fix.stats->connections_timed_out == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  CHECK(fix.stats->output_stalls >= 1);
  CHECK(fix.stats->connections_timed_out == 1);
  CHECK(fix.stats->connections_open == 0);
  CHECK(fix.stats->requests_answered < 64);
  // The server lets go of its socket although the peer still has not read
  // (the peer's own socket is the one extra descriptor).
  for (int i = 0; i < 100 && open_fds() > fds_before + 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  CHECK(open_fds() == fds_before + 1);
  CHECK(closed_by_peer(fd));
  ::close(fd);
}
