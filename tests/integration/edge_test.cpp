// The edge role with real troupe-node processes in front of the test origin
// (tests/origin/test_origin.py): the headers curl sees, purge by surrogate
// key through troupectl on a 2-edge cluster, origin outage (stale-if-error,
// 503 within 100 ms), coalescing of 100 concurrent misses, the circuit
// breaker, rate limiting, and the HTTP/1.1 rules (docs/edge.md).
#include "tests/support/edge_origin.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <thread>

using namespace troupe::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<node_process> start_edge(const std::string& id, const std::string& host,
                                         const test_origin& origin,
                                         std::vector<std::string> extra = {},
                                         std::vector<std::string> seeds = {}) {
  std::vector<std::string> args{"--origin", origin.url(), "--edge-threads", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  node_options opts{id, host, std::move(seeds), args};
  opts.role = "edge";
  auto n = std::make_unique<node_process>(opts);
  INFO(id << " log:\n" << n->log());
  REQUIRE(n->wait_ready());
  return n;
}

// curl -si, as a user would look at the headers.
http_reply curl(const node_process& n, const std::string& path,
                const std::vector<std::string>& headers = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-si", "--max-time", "5"};
  for (auto& h : headers) {
    argv.push_back("-H");
    argv.push_back(h);
  }
  argv.push_back("http://" + n.host() + ":" + std::to_string(n.http_port()) + path);
  auto res = run_command(argv, 10s);
  auto replies = parse_replies(res.out);
  REQUIRE_MESSAGE(!replies.empty(), "curl printed: " << res.out << res.err);
  return replies.front();
}

// protobuf's JSON mapping writes 64-bit integers as strings.
int64_t num(const json& j) {
  return j.is_string() ? std::stoll(j.get<std::string>()) : j.get<int64_t>();
}

std::string header_or(const http_reply& r, const std::string& name) {
  auto* v = r.header(name);
  return v ? *v : std::string{"<none>"};
}

json origins_json(node_process& n) {
  auto res = troupectl({"--endpoint", n.cluster_address(), "edge", "origins", "-o", "json"});
  REQUIRE_MESSAGE(res.exit_code == 0, res.err);
  return json::parse(res.out);
}

std::string breaker_of(node_process& n) {
  return origins_json(n)["edges"][0]["origins"][0]["breaker"];
}

} // namespace

TEST_CASE("edge: a 2-edge cluster shows Age, Cache-Status, X-Cache, purge by key via "
          "troupectl removes the object on both edges") {
  test_origin origin;
  REQUIRE(origin.route(R"({"path": "/obj", "headers": {"Cache-Control": "max-age=300",
                          "Surrogate-Key": "tag-a tag-b"}, "body": "hello edge"})"));
  auto e1 = start_edge("e1", "127.0.0.21", origin);
  auto e2 = start_edge("e2", "127.0.0.22", origin, {}, {e1->cluster_address()});
  REQUIRE(eventually([&] {
    auto res = troupectl({"--endpoint", e1->cluster_address(), "edge", "stats", "-o", "json"});
    return res.exit_code == 0 && json::parse(res.out)["edges"].size() == 2;
  }));
  std::vector<std::string> site{"Host: site.test", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
  for (auto* e : {e1.get(), e2.get()}) {
    auto miss = curl(*e, "/obj", site);
    CHECK(miss.status == 200);
    CHECK(miss.body == "hello edge");
    CHECK(header_or(miss, "X-Cache") == "MISS");
    CHECK(miss.header("Surrogate-Key") == nullptr);
    auto hit = curl(*e, "/obj", site);
    INFO("Cache-Status: " << header_or(hit, "Cache-Status"));
    CHECK(hit.status == 200);
    CHECK(hit.body == "hello edge");
    CHECK(header_or(hit, "X-Cache") == "HIT");
    CHECK(hit.header("Age") != nullptr);
    CHECK(header_or(hit, "Cache-Status").find("hit") != std::string::npos);
    CHECK(header_or(hit, "Via").find("1.1 " + e->node_id()) != std::string::npos);
  }
  CHECK(origin.count("/obj") == 2); // one miss per edge
  auto seen = json::parse(origin.last("/obj"));
  std::map<std::string, std::string> h;
  for (auto& kv : seen["headers"])
    h[kv[0].get<std::string>()] = kv[1].get<std::string>();
  CHECK(h["Via"].find("1.1 e") != std::string::npos);
  CHECK(h["X-Forwarded-For"] == "127.0.0.1");
  CHECK(h["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

  auto purge = troupectl({"--endpoint", e1->cluster_address(), "edge", "purge", "--key", "tag-b",
                          "-o", "json"});
  INFO(purge.out << purge.err);
  REQUIRE(purge.exit_code == 0);
  auto report = json::parse(purge.out);
  REQUIRE(report["edges"].size() == 2);
  for (auto& e : report["edges"])
    CHECK(num(e["removed"]) == 1);
  auto table = troupectl({"--endpoint", e2->cluster_address(), "edge", "purge", "--key", "tag-b"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("REMOVED") != std::string::npos);
  for (auto* e : {e1.get(), e2.get()})
    CHECK(header_or(curl(*e, "/obj", site), "X-Cache") == "MISS");
  CHECK(origin.count("/obj") == 4);
}

TEST_CASE("edge: with the origin stopped, cached objects are served stale and uncached ones "
          "get 503 within 100 ms") {
  test_origin origin;
  REQUIRE(origin.route(R"({"path": "/s", "headers": {"Cache-Control": "max-age=1, stale-if-error=600"},
                          "body": "still here"})"));
  auto e = start_edge("e1", "127.0.0.23", origin, {"--edge-health-interval-ms", "0"});
  auto port = e->http_port();
  auto first = http_call(e->host(), port, "GET", "/s");
  REQUIRE(first);
  CHECK(first->status == 200);
  std::this_thread::sleep_for(2100ms); // now stale
  origin.stop();
  auto stale = http_call(e->host(), port, "GET", "/s");
  REQUIRE(stale);
  CHECK(stale->status == 200);
  CHECK(stale->body == "still here");
  INFO("Cache-Status: " << header_or(*stale, "Cache-Status"));
  CHECK(header_or(*stale, "Cache-Status").find("detail=stale-if-error") != std::string::npos);
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = http_call(e->host(), port, "GET", "/never-cached-" + std::to_string(i));
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 100);
  }
}

TEST_CASE("edge: 100 concurrent misses for one URL cause 1 origin fetch") {
  test_origin origin;
  REQUIRE(origin.route(R"({"path": "/hot", "delay_ms": 400,
                          "headers": {"Cache-Control": "max-age=60"}, "body_size": 2048})"));
  auto e = start_edge("e1", "127.0.0.24", origin);
  std::atomic<int> ok{0}, collapsed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i)
    clients.emplace_back([&] {
      auto r = http_call(e->host(), e->http_port(), "GET", "/hot", {}, {}, 10s);
      if (r && r->status == 200 && r->body.size() == 2048)
        ++ok;
      if (r && header_or(*r, "Cache-Status").find("collapsed") != std::string::npos)
        ++collapsed;
    });
  for (auto& t : clients)
    t.join();
  CHECK(ok == 100);
  CHECK(origin.count("/hot") == 1);
  MESSAGE(collapsed.load() << " of 100 answers were marked collapsed");
}

TEST_CASE("edge: an origin's circuit breaker opens, turns half-open, and closes") {
  test_origin origin;
  auto e = start_edge("e1", "127.0.0.25", origin,
                      {"--edge-breaker-failures", "2", "--edge-breaker-open-ms", "600",
                       "--edge-health-interval-ms", "0"});
  auto get = [&](const std::string& p) { return http_call(e->host(), e->http_port(), "GET", p); };
  REQUIRE(get("/a")->status == 200);
  CHECK(breaker_of(*e) == "closed");
  origin.stop();
  CHECK(get("/b")->status == 503); // connection refused: origin unavailable
  CHECK(get("/c")->status == 503);
  CHECK(breaker_of(*e) == "open");
  auto tried = num(origins_json(*e)["edges"][0]["origins"][0]["requests"]);
  auto fast = get("/d");
  REQUIRE(fast);
  CHECK(fast->status == 503);
  CHECK(num(origins_json(*e)["edges"][0]["origins"][0]["requests"]) == tried); // not tried
  std::this_thread::sleep_for(700ms);
  CHECK(breaker_of(*e) == "half_open");
  REQUIRE(origin.start());
  CHECK(get("/e")->status == 200); // the half-open trial succeeds
  CHECK(breaker_of(*e) == "closed");
  CHECK(num(origins_json(*e)["edges"][0]["origins"][0]["times_opened"]) == 1);
}

TEST_CASE("edge: a client over its rate gets 429 with Retry-After") {
  test_origin origin;
  auto e = start_edge("e1", "127.0.0.26", origin,
                      {"--edge-rate-limit", "2", "--edge-rate-burst", "5"});
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 12; ++i) {
    auto r = http_call(e->host(), e->http_port(), "GET", "/r");
    REQUIRE(r);
    if (r->status == 200)
      ++ok;
    if (r->status == 429) {
      ++limited;
      retry_after = header_or(*r, "Retry-After");
    }
  }
  CHECK(ok >= 5);
  CHECK(ok <= 7); // the burst plus what refilled while the loop ran
  CHECK(limited == 12 - ok);
  CHECK(retry_after == "1");
}

TEST_CASE("edge: HTTP/1.1: pipelining in order, HEAD, chunked both ways, hop-by-hop fields, "
          "limits and PURGE") {
  test_origin origin;
  REQUIRE(origin.route(R"({"path": "/chunked", "chunked": true, "body_size": 3000,
                          "headers": {"Cache-Control": "max-age=60"}})"));
  REQUIRE(origin.route(R"({"path": "/post", "headers": {"Cache-Control": "no-store"}, "body": "posted"})"));
  auto e = start_edge("e1", "127.0.0.27", origin, {"--edge-purge-token", "s3cret"});
  auto host = e->host();
  auto port = e->http_port();
  SUBCASE("pipelined requests are answered in order") {
    std::string reqs;
    for (auto p : {"/p1", "/p2", "/p3"})
      reqs += std::string{"GET "} + p + " HTTP/1.1\r\nHost: t\r\n\r\n";
    reqs += "HEAD /p1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    auto replies = parse_replies(raw_exchange(host, port, reqs), {false, false, false, true});
    REQUIRE(replies.size() == 4);
    CHECK(replies[0].body == "origin /p1");
    CHECK(replies[1].body == "origin /p2");
    CHECK(replies[2].body == "origin /p3");
    CHECK(replies[3].status == 200);
    CHECK(header_or(replies[3], "Content-Length") == "10");
    CHECK(replies[3].body.empty());
  }
  SUBCASE("a chunked origin answer is decoded; a chunked request body is forwarded") {
    auto r = http_call(host, port, "GET", "/chunked");
    REQUIRE(r);
    CHECK(r->body.size() == 3000);
    auto stream = raw_exchange(host, port,
                               "POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                               "Connection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n\r\n"
                               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto replies = parse_replies(stream);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].body == "posted");
    auto seen = json::parse(origin.last("/post"));
    CHECK(seen["body_size"] == 11);
    for (auto& kv : seen["headers"]) {
      CHECK(kv[0] != "X-Hop");
      CHECK(kv[0] != "Keep-Alive");
      CHECK(kv[0] != "Transfer-Encoding");
    }
  }
  SUBCASE("limits and malformed requests get their status codes") {
    auto status = [&](const std::string& bytes) {
      auto replies = parse_replies(raw_exchange(host, port, bytes));
      return replies.empty() ? 0 : replies.front().status;
    };
    CHECK(status("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n") == 414);
    CHECK(status("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n")
          == 431);
    CHECK(status("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n") == 413);
    CHECK(status("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n") == 501);
    CHECK(status("GET / HTTP/2.0\r\nHost: t\r\n\r\n") == 505);
    CHECK(status("\x01\x02garbage\r\n\r\n") == 400);
  }
  SUBCASE("PURGE needs the purge token") {
    REQUIRE(http_call(host, port, "GET", "/x")->status == 200);
    CHECK(http_call(host, port, "PURGE", "/x")->status == 403);
    CHECK(http_call(host, port, "PURGE", "/x", {"X-Purge-Token: wrong"})->status == 403);
    auto ok = http_call(host, port, "PURGE", "/x", {"X-Purge-Token: s3cret"});
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body.find("\"purged\":1") != std::string::npos);
  }
}
