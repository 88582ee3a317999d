// Edge cache core: freshness lifetime (RFC 9111 4.2.1), heuristic freshness
// (4.2.2), Age calculation (4.2.3), Expires (5.3) and storability (3, 3.1,
// 3.5), through freshness_of and the rules module.
#include "actors/edge/cache/cache.hpp"
#include "actors/edge/cache/rules.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace troupe::edge::cache;
using namespace std::chrono_literals;
using std::chrono::day;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::month;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::year;

namespace {

const time_point t0 = time_point{sys_days{year{2026} / 1 / 1}};

stored_response stored(header_list headers, int status = 200) {
  stored_response s;
  s.key = "http://a/x";
  s.status = status;
  s.headers = std::move(headers);
  s.request_time = t0;
  s.response_time = t0;
  return s;
}

std::string date_at(time_point t) {
  return format_http_date(t);
}

} // namespace

TEST_CASE("edge cache freshness: precedence s-maxage, max-age, Expires, heuristic (4.2.1)") {
  config cfg;
  auto at = [&](header_list h) { return freshness_of(stored(h), t0, cfg); };
  auto d = date_at(t0);
  CHECK(at({{"Date", d}, {"Cache-Control", "max-age=100, s-maxage=10"}}).lifetime_s == 10);
  CHECK(at({{"Date", d}, {"Cache-Control", "max-age=100"},
            {"Expires", date_at(t0 + 50s)}}).lifetime_s == 100);
  CHECK(at({{"Date", d}, {"Expires", date_at(t0 + 50s)}}).lifetime_s == 50);
  // Expires is relative to Date, not to the receive time.
  CHECK(at({{"Date", date_at(t0 - 20s)}, {"Expires", date_at(t0 + 50s)}}).lifetime_s == 70);
  // Expires before Date: 0.
  CHECK(at({{"Date", d}, {"Expires", date_at(t0 - 5s)}}).lifetime_s == 0);
  auto h = at({{"Date", d}, {"Last-Modified", date_at(t0 - 1000s)}});
  CHECK(h.heuristic);
  CHECK(h.lifetime_s == 100);
  CHECK(at({{"Date", d}}).lifetime_s == 0);
}

TEST_CASE("edge cache freshness: invalid freshness information is stale (4.2.1, 5.3)") {
  config cfg;
  auto life = [&](header_list h) { return freshness_of(stored(h), t0, cfg).lifetime_s; };
  auto d = date_at(t0);
  CHECK(life({{"Date", d}, {"Cache-Control", "max-age=abc"},
              {"Expires", date_at(t0 + 50s)}}) == 0);
  CHECK(life({{"Date", d}, {"Cache-Control", "s-maxage=-1, max-age=60"}}) == 0);
  CHECK(life({{"Date", d}, {"Expires", "0"}}) == 0);
  CHECK(life({{"Date", d}, {"Expires", "yesterday"}}) == 0);
  // Two Expires lines join to an invalid date.
  CHECK(life({{"Date", d}, {"Expires", date_at(t0 + 50s)},
              {"Expires", date_at(t0 + 60s)}}) == 0);
  // An explicit Expires, even invalid, disables the heuristic.
  CHECK(life({{"Date", d}, {"Expires", "0"},
              {"Last-Modified", date_at(t0 - 1000s)}}) == 0);
  // RFC 850 and asctime Expires are understood.
  CHECK(life({{"Date", d}, {"Expires", "Thursday, 01-Jan-26 00:01:00 GMT"}}) == 60);
  CHECK(life({{"Date", d}, {"Expires", "Thu Jan  1 00:02:00 2026"}}) == 120);
}

TEST_CASE("edge cache freshness: heuristic only for heuristically cacheable statuses, capped (4.2.2)") {
  config cfg;
  cfg.heuristic_max = 3600s;
  header_list h{{"Date", date_at(t0)}, {"Last-Modified", date_at(t0 - 1000s)}};
  CHECK(freshness_of(stored(h, 404), t0, cfg).lifetime_s == 100);
  CHECK(freshness_of(stored(h, 301), t0, cfg).lifetime_s == 100);
  CHECK(freshness_of(stored(h, 302), t0, cfg).lifetime_s == 0);
  CHECK(freshness_of(stored(h, 500), t0, cfg).lifetime_s == 0);
  header_list pub = h;
  pub.emplace_back("Cache-Control", "public");
  CHECK(freshness_of(stored(pub, 302), t0, cfg).lifetime_s == 100);
  header_list old{{"Date", date_at(t0)}, {"Last-Modified", date_at(t0 - 10 * 86400s)}};
  CHECK(freshness_of(stored(old), t0, cfg).lifetime_s == 3600);
  // Last-Modified in the future gives nothing.
  header_list future{{"Date", date_at(t0)}, {"Last-Modified", date_at(t0 + 100s)}};
  CHECK(freshness_of(stored(future), t0, cfg).lifetime_s == 0);
}

TEST_CASE("edge cache freshness: Age calculation (4.2.3)") {
  config cfg;
  SUBCASE("resident time") {
    auto s = stored({{"Date", date_at(t0)}, {"Cache-Control", "max-age=60"}});
    CHECK(freshness_of(s, t0, cfg).current_age_s == 0);
    CHECK(freshness_of(s, t0 + 25s, cfg).current_age_s == 25);
    CHECK(freshness_of(s, t0 + 25s, cfg).ttl_s() == 35);
    CHECK(freshness_of(s, t0 + 59s, cfg).fresh());
    CHECK_FALSE(freshness_of(s, t0 + 60s, cfg).fresh());
    CHECK(freshness_of(s, t0 + 70s, cfg).staleness_s() == 10);
  }
  SUBCASE("Age from upstream plus response delay") {
    auto s = stored({{"Date", date_at(t0)}, {"Age", "30"}});
    s.request_time = t0 - 2s; // the request took 2 s
    CHECK(freshness_of(s, t0, cfg).current_age_s == 32);
    CHECK(freshness_of(s, t0 + 10s, cfg).current_age_s == 42);
  }
  SUBCASE("apparent age from a Date in the past wins when larger") {
    auto s = stored({{"Date", date_at(t0 - 100s)}, {"Age", "5"}});
    CHECK(freshness_of(s, t0, cfg).current_age_s == 100);
  }
  SUBCASE("a Date in the future gives apparent age 0") {
    auto s = stored({{"Date", date_at(t0 + 100s)}});
    CHECK(freshness_of(s, t0, cfg).current_age_s == 0);
  }
  SUBCASE("an invalid Age counts as 0") {
    auto s = stored({{"Date", date_at(t0)}, {"Age", "abc"}});
    CHECK(freshness_of(s, t0, cfg).current_age_s == 0);
    auto big = stored({{"Date", date_at(t0)}, {"Age", "99999999999999"}});
    CHECK(freshness_of(big, t0, cfg).current_age_s == max_delta_seconds);
  }
  SUBCASE("soft purge: stale at once, staleness from the lifetime") {
    auto s = stored({{"Date", date_at(t0)}, {"Cache-Control", "max-age=60"}});
    s.invalidated = true;
    auto f = freshness_of(s, t0 + 10s, cfg);
    CHECK_FALSE(f.fresh());
    CHECK(f.ttl_s() == 0);
    CHECK(f.staleness_s() == 0);
  }
}

TEST_CASE("edge cache storability (RFC 9111 3, 3.5)") {
  config cfg;
  request get{"GET", "http", "a", "/x", {}};
  auto verdict = [&](const request& rq, header_list h, int status = 200,
                     std::string body = "x") {
    response r;
    r.status = status;
    r.headers = std::move(h);
    r.body = std::make_shared<const std::string>(std::move(body));
    auto rs = detail::response_directives(r.headers, cfg.limits);
    auto rqc = detail::request_directives(rq, cfg.limits);
    return detail::check_storable(rq, rqc, r, rs, parse_vary(r.headers), cfg);
  };
  CHECK(verdict(get, {{"Cache-Control", "max-age=60"}}).ok());
  CHECK(verdict(get, {}).ok()); // 200 is heuristically cacheable
  CHECK(verdict(get, {{"Cache-Control", "no-cache"}}).ok());
  CHECK(verdict(get, {{"Cache-Control", "max-age=abc"}}).ok()); // stored, stale
  CHECK(verdict(get, {{"Cache-Control", "no-store"}}).reason == "no-store");
  CHECK(verdict(get, {{"Cache-Control", "private"}}).reason == "private");
  CHECK(verdict(get, {{"Cache-Control", "private=\"x-user\", max-age=5"}}).ok());
  CHECK(verdict(get, {}, 206).reason == "partial content is not stored");
  CHECK(verdict(get, {}, 302).reason == "no explicit freshness for this status");
  CHECK(verdict(get, {{"Expires", "0"}}, 302).ok());
  CHECK(verdict(get, {{"Cache-Control", "max-age=5"}}, 599).ok());
  CHECK(verdict(get, {}, 500).reason == "no explicit freshness for this status");
  CHECK_FALSE(verdict(get, {}, 500).remember);
  CHECK(verdict(get, {{"Vary", "*"}}).reason == "vary *");
  CHECK(verdict(get, {}, 200, std::string(cfg.max_object_bytes + 1, 'x')).reason
        == "too large");
  SUBCASE("must-understand: an understood status overrides no-store") {
    CHECK(verdict(get, {{"Cache-Control", "must-understand, no-store, max-age=9"}}).ok());
    CHECK(verdict(get, {{"Cache-Control", "must-understand, no-store, max-age=9"}}, 299)
            .reason == "must-understand");
  }
  SUBCASE("request no-store") {
    request r = get;
    r.headers.emplace_back("Cache-Control", "no-store");
    CHECK(verdict(r, {{"Cache-Control", "max-age=60"}}).reason == "request no-store");
  }
  SUBCASE("Authorization needs public, must-revalidate or s-maxage (3.5)") {
    request r = get;
    r.headers.emplace_back("Authorization", "Basic eDp5");
    CHECK(verdict(r, {{"Cache-Control", "max-age=60"}}).reason == "authorization");
    CHECK(verdict(r, {{"Cache-Control", "max-age=60, public"}}).ok());
    CHECK(verdict(r, {{"Cache-Control", "max-age=60, must-revalidate"}}).ok());
    CHECK(verdict(r, {{"Cache-Control", "s-maxage=60"}}).ok());
  }
  SUBCASE("Set-Cookie: not stored unless the origin names it no-cache/private") {
    CHECK(verdict(get, {{"Set-Cookie", "a=b"}, {"Cache-Control", "max-age=60"}})
            .reason == "set-cookie");
    CHECK(verdict(get, {{"Set-Cookie", "a=b"},
                        {"Cache-Control", "max-age=60, no-cache=\"set-cookie\""}}).ok());
    CHECK(verdict(get, {{"Set-Cookie", "a=b"},
                        {"Cache-Control", "max-age=60, private=\"Set-Cookie\""}}).ok());
  }
  SUBCASE("only GET responses are stored") {
    request head = get;
    head.method = "HEAD";
    CHECK(verdict(head, {{"Cache-Control", "max-age=60"}}).reason == "method");
  }
}

TEST_CASE("edge cache stored headers (RFC 9111 3.1)") {
  auto rs = parse_cache_control("max-age=5, private=\"x-user\", no-cache=\"set-cookie\"");
  header_list in{{"Connection", "close, X-Hop"}, {"X-Hop", "1"}, {"Keep-Alive", "t"},
                 {"Transfer-Encoding", "chunked"}, {"Content-Length", "5"},
                 {"Surrogate-Key", "k1 k2"}, {"X-User", "bob"}, {"Set-Cookie", "a=b"},
                 {"ETag", "\"e\""}, {"Cache-Control", "max-age=5"}};
  auto out = detail::storable_headers(in, rs, t0);
  for (auto gone : {"connection", "x-hop", "keep-alive", "transfer-encoding",
                    "content-length", "surrogate-key", "x-user", "set-cookie"}) {
    CAPTURE(gone);
    CHECK_FALSE(has_header(out, gone));
  }
  CHECK(has_header(out, "etag"));
  // A Date is added with the receive time (RFC 9110 6.6.1).
  REQUIRE(find_header(out, "date"));
  CHECK(*find_header(out, "date") == format_http_date(t0));
  // Passing through keeps Content-Length but drops Surrogate-Key.
  auto pass = detail::pass_headers(in);
  CHECK(has_header(pass, "content-length"));
  CHECK_FALSE(has_header(pass, "surrogate-key"));
  CHECK_FALSE(has_header(pass, "x-hop"));
}
