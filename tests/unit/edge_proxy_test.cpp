// The edge's server-side cores without sockets: circuit breaker, origin
// choice, rate limiter, coalescer, origin response parser, proxy header
// rules, purge URL parsing, events (docs/edge.md).
#include "actors/edge/breaker.hpp"
#include "actors/edge/coalescer.hpp"
#include "actors/edge/edge_role.hpp"
#include "actors/edge/events.hpp"
#include "actors/edge/http_wire.hpp"
#include "actors/edge/origin_parser.hpp"
#include "actors/edge/origin_set.hpp"
#include "actors/edge/rate_limiter.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace troupe;
using namespace troupe::edge;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST_CASE("edge breaker: closed -> open after N failures -> half-open -> closed or open") {
  breaker b{3, 100ms};
  auto t = steady::time_point{} + 1s;
  CHECK(b.state(t) == breaker_state::closed);
  b.on_failure(t);
  b.on_failure(t);
  CHECK(b.state(t) == breaker_state::closed);
  b.on_success(t); // resets the count
  b.on_failure(t);
  b.on_failure(t);
  CHECK(b.state(t) == breaker_state::closed);
  b.on_failure(t);
  CHECK(b.state(t) == breaker_state::open);
  CHECK(!b.try_acquire(t + 50ms));
  CHECK(b.state(t + 100ms) == breaker_state::half_open);
  CHECK(b.try_acquire(t + 100ms));  // the one trial
  CHECK(!b.try_acquire(t + 101ms)); // no second trial while it runs
  b.on_failure(t + 110ms);
  CHECK(b.state(t + 110ms) == breaker_state::open);
  CHECK(b.times_opened() == 2);
  CHECK(b.try_acquire(t + 210ms));
  b.on_success(t + 215ms);
  CHECK(b.state(t + 215ms) == breaker_state::closed);
}

TEST_CASE("edge breaker: a lost half-open trial is given again after open_for") {
  breaker b{1, 100ms};
  auto t = steady::time_point{} + 1s;
  b.on_failure(t);
  CHECK(b.try_acquire(t + 100ms));
  CHECK(!b.try_acquire(t + 150ms));
  CHECK(b.try_acquire(t + 201ms));
}

TEST_CASE("edge origin_set: power of two choices prefers the faster origin, skips open ones") {
  origin_set set{{{"a", 1}, {"b", 2}}, 1, 1s};
  auto t = steady::now();
  set.on_start(0);
  set.on_finish(0, true, 0.050, t);
  set.on_start(1);
  set.on_finish(1, true, 0.001, t);
  std::minstd_rand rng{7};
  int fast = 0;
  for (int i = 0; i < 100; ++i)
    fast += set.pick(0, rng, t) == std::optional<size_t>{1};
  CHECK(fast == 100); // with two origins both are always compared
  CHECK(set.pick(uint64_t{1} << 1, rng, t) == std::optional<size_t>{0}); // b tried already
  set.on_start(1);
  set.on_finish(1, false, 0, t); // threshold 1: b opens
  for (int i = 0; i < 20; ++i)
    CHECK(set.pick(0, rng, t) == std::optional<size_t>{0});
  set.on_start(0);
  set.on_finish(0, false, 0, t);
  CHECK(!set.pick(0, rng, t));
  CHECK(!set.any_available(t));
  auto views = set.views(t);
  CHECK(views[1].state == breaker_state::open);
  CHECK(views[1].failures == 1);
}

TEST_CASE("edge rate limiter: burst, refill, Retry-After, bounded table") {
  rate_limiter rl{2, 4, 32};
  auto t = steady::time_point{} + 10s;
  for (int i = 0; i < 4; ++i)
    CHECK(rl.check("10.0.0.1", t).allowed);
  auto no = rl.check("10.0.0.1", t);
  CHECK(!no.allowed);
  CHECK(no.retry_after_s == 1);
  CHECK(rl.check("10.0.0.2", t).allowed); // another client has its own bucket
  CHECK(rl.check("10.0.0.1", t + 500ms).allowed); // 1 token refilled
  CHECK(!rl.check("10.0.0.1", t + 500ms).allowed);
  for (int i = 0; i < 1000; ++i)
    rl.check("c" + std::to_string(i), t);
  CHECK(rl.tracked() <= 32);
  CHECK(rl.untracked() > 0);
  rate_limiter off{0, 0};
  CHECK(off.check("x", t).allowed);
}

TEST_CASE("edge coalescer: one leader per key, bounded waiters") {
  coalescer c{2, 2};
  int called = 0;
  auto w = [&] { ++called; };
  CHECK(c.join("k", w) == coalescer::role::leader);
  CHECK(c.join("k", w) == coalescer::role::follower);
  CHECK(c.join("k", w) == coalescer::role::follower);
  CHECK(c.join("k", w) == coalescer::role::overflow);
  CHECK(c.join("j", w) == coalescer::role::leader);
  CHECK(c.join("i", w) == coalescer::role::overflow); // max keys
  for (auto& f : c.release("k"))
    f();
  CHECK(called == 2);
  CHECK(c.join("k", w) == coalescer::role::leader);
}

namespace {

origin_response_parser::state feed_split(origin_response_parser& p, const std::string& s,
                                         size_t step) {
  auto st = origin_response_parser::state::incomplete;
  for (size_t i = 0; i < s.size(); i += step)
    st = p.feed(s.data() + i, std::min(step, s.size() - i));
  return st;
}

} // namespace

TEST_CASE("edge origin parser: content-length, chunked, close-delimited, 1xx, HEAD, limits") {
  using st = origin_response_parser::state;
  for (size_t step : {1, 3, 1000}) {
    origin_response_parser p{{}, false};
    CHECK(feed_split(p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello", step)
          == st::complete);
    CHECK(p.response().status == 200);
    CHECK(*p.response().body == "hello");
    CHECK(p.response().headers[1].second == "b");
    CHECK(p.keep_alive());
  }
  origin_response_parser c{{}, false};
  CHECK(feed_split(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: "
                      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 2)
        == st::complete);
  CHECK(c.response().status == 201);
  CHECK(*c.response().body == "abcde");
  origin_response_parser eof{{}, false};
  std::string until_close = "HTTP/1.0 200 OK\r\n\r\nuntil close";
  CHECK(eof.feed(until_close.data(), until_close.size()) == st::incomplete);
  CHECK(eof.finish() == st::complete);
  CHECK(*eof.response().body == "until close");
  CHECK(!eof.keep_alive());
  origin_response_parser head{{}, true};
  std::string head_only = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
  CHECK(head.feed(head_only.data(), head_only.size()) == st::complete);
  CHECK(head.response().body->empty());
  origin_parse_limits small;
  small.max_body_bytes = 4;
  origin_response_parser big{small, false};
  std::string too_big = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  CHECK(big.feed(too_big.data(), too_big.size()) == st::failed);
  CHECK(big.error().find("exceeds") != std::string::npos);
  origin_response_parser bad{{}, false};
  CHECK(bad.feed("SMTP ready\r\n", 12) == st::failed); // 12 bytes
  origin_response_parser cut{{}, false};
  std::string cut_short = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
  cut.feed(cut_short.data(), cut_short.size());
  CHECK(cut.finish() == st::failed);
}

TEST_CASE("edge proxy headers: hop-by-hop fields stripped, Via and X-Forwarded-For appended") {
  cache::header_list h{{"Connection", "keep-alive, X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "5"},
                       {"TE", "trailers"}, {"Upgrade", "h2c"}, {"Transfer-Encoding", "chunked"},
                       {"traceparent", "00-ab-cd-01"}, {"Via", "1.0 old"},
                       {"X-Forwarded-For", "1.2.3.4"}};
  strip_hop_by_hop(h);
  add_forwarding(h, "10.0.0.9", "n1");
  CHECK(h.size() == 3);
  CHECK(*cache::find_header(h, "traceparent") == "00-ab-cd-01");
  CHECK(*cache::find_header(h, "via") == "1.0 old, 1.1 n1");
  CHECK(*cache::find_header(h, "x-forwarded-for") == "1.2.3.4, 10.0.0.9");
  cache::request r{"GET", "http", "example.com", "/a?b=1", h};
  auto bytes = render_origin_request(r, "");
  CHECK(bytes.starts_with("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n"));
  CHECK(bytes.ends_with("Connection: keep-alive\r\n\r\n"));
  cache::response res;
  res.headers = {{"Content-Length", "3"}, {"Connection", "close"}, {"X-Bad", "a\r\nInjected: 1"},
                 {"Age", "4"}};
  auto head = render_client_head(res, 10, true, "n1");
  CHECK(head.find("Content-Length: 10\r\n") != std::string::npos);
  CHECK(head.find("Content-Length: 3") == std::string::npos);
  CHECK(head.find("Injected") == std::string::npos);
  CHECK(head.find("Age: 4\r\n") != std::string::npos);
  CHECK(head.ends_with("Via: 1.1 n1\r\nConnection: keep-alive\r\n\r\n"));
  res.status = 304;
  CHECK(render_client_head(res, 10, false, "n1").find("Content-Length") == std::string::npos);
}

TEST_CASE("edge purge URLs") {
  auto t = parse_purge_url("http://Site.test:8080/a/b?x=1#frag");
  REQUIRE(t);
  CHECK(t->scheme == "http");
  CHECK(t->host == "Site.test:8080");
  CHECK(t->target == "/a/b?x=1");
  CHECK(parse_purge_url("http://h")->target == "/");
  CHECK(parse_purge_url("http://h?q")->target == "/?q");
  CHECK(!parse_purge_url("/just/a/path"));
  CHECK(!parse_purge_url("ftp://h/x"));
  CHECK(!parse_purge_url("http:///x"));
}

TEST_CASE("edge events: batches are offered when full and dropped without a sink") {
  auto counters = std::make_shared<event_counters>();
  event_batcher b{std::make_shared<no_analytics_sink>(), counters};
  for (size_t i = 0; i < event_batcher::batch_size + 10; ++i)
    b.add(edge_event{});
  CHECK(counters->produced == event_batcher::batch_size + 10);
  CHECK(counters->dropped == event_batcher::batch_size);
  b.flush();
  CHECK(counters->dropped == event_batcher::batch_size + 10);
  CHECK(fnv1a("") == 1469598103934665603ull);
}
