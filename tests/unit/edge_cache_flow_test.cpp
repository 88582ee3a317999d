// Edge cache core, end to end through lookup/on_origin_response: cache key
// and Vary (RFC 9111 4.1), reuse (4), request directives (5.2.1), response
// directives (5.2.2), validation and 304 updates (4.3), clients'
// conditional requests (4.3.2), HEAD (4.3.5 / 9.3.2), Cache-Status (RFC
// 9211), hit-for-pass.
#include "edge_cache_harness.hpp"

#include <doctest/doctest.h>

using namespace edge_cache_test;

TEST_CASE("edge cache flow: miss, store, hit with Age, Cache-Status, X-Cache") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""},
           {"Surrogate-Key", "k1 k2"}, {"Content-Length", "4"}});
  auto miss = h.get();
  CHECK(miss.kind == lookup_kind::miss);
  CHECK(miss.res.status == 200);
  CHECK(*miss.res.body == "body");
  CHECK(header_or(miss.res, "Cache-Status")
        == "troupe; fwd=uri-miss; fwd-status=200; stored; ttl=60");
  CHECK(header_or(miss.res, "X-Cache") == "MISS");
  CHECK(header_or(miss.res, "Age") == "0");
  CHECK_FALSE(has_header(miss.res.headers, "surrogate-key"));
  CHECK_FALSE(has_header(miss.res.headers, "content-length"));
  h.now += 10s;
  auto hit = h.get();
  CHECK(hit.kind == lookup_kind::hit);
  CHECK(*hit.res.body == "body");
  CHECK(header_or(hit.res, "Age") == "10");
  CHECK(header_or(hit.res, "Cache-Status") == "troupe; hit; ttl=50");
  CHECK(header_or(hit.res, "X-Cache") == "HIT");
  CHECK_FALSE(has_header(hit.res.headers, "surrogate-key"));
  CHECK(h.sent.size() == 1);
  // The body is shared, not copied.
  auto again = h.get();
  CHECK(again.res.body.get() == hit.res.body.get());
  auto st = h.c.stats();
  CHECK(st.hits == 2);
  CHECK(st.misses == 1);
  CHECK(st.stores == 1);
  CHECK(st.objects == 1);
}

TEST_CASE("edge cache flow: the miss request is a GET without client validators") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""}});
  auto r = h.run(make_request("HEAD", "/x",
                              {{"If-None-Match", "\"zzz\""}, {"Accept", "text/html"}}));
  REQUIRE(h.sent.size() == 1);
  CHECK(h.sent[0].method == "GET");
  CHECK_FALSE(has_header(h.sent[0].headers, "if-none-match"));
  CHECK(has_header(h.sent[0].headers, "accept"));
  CHECK(r.res.status == 200);
  // HEAD is answered from the stored GET with its body size (not sent).
  auto head = h.run(make_request("HEAD", "/x"));
  CHECK(head.kind == lookup_kind::hit);
  CHECK(head.res.body->size() == 4);
}

TEST_CASE("edge cache flow: cache key (scheme, host case, default port, target)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}});
  h.get("/x?a=1");
  auto r = make_request("GET", "/x?a=1");
  r.host = "EXAMPLE.com:80";
  CHECK(h.run(r).kind == lookup_kind::hit);
  r.scheme = "https";
  CHECK(h.run(r).kind == lookup_kind::miss);
  CHECK(h.get("/x?a=2").kind == lookup_kind::miss);
  CHECK(h.get("/X?a=1").kind == lookup_kind::miss);
  CHECK(cache_key(make_request("GET", "")) == "http://example.com/");
}

TEST_CASE("edge cache flow: Vary (RFC 9111 4.1)") {
  harness h;
  h.origin = [&](const request& r) {
    auto* ae = find_header(r.headers, "accept-encoding");
    return make_response(200, {{"Cache-Control", "max-age=60"},
                               {"Vary", "Accept-Encoding"},
                               {"Date", format_http_date(h.now)}},
                         ae ? "enc:" + *ae : "plain");
  };
  auto a = h.get("/v", {{"Accept-Encoding", "gzip, deflate, br"}});
  CHECK(a.kind == lookup_kind::miss);
  // Normalised: another spelling of the same codings hits.
  auto b = h.get("/v", {{"Accept-Encoding", "br;q=1, gzip, deflate"}});
  CHECK(b.kind == lookup_kind::hit);
  CHECK(*b.res.body == "enc:gzip, deflate, br");
  auto c = h.get("/v");
  CHECK(c.kind == lookup_kind::miss);
  CHECK(header_or(c.res, "Cache-Status").find("fwd=vary-miss") != std::string::npos);
  CHECK(*c.res.body == "plain");
  CHECK(*h.get("/v").res.body == "plain");
  CHECK(*h.get("/v", {{"Accept-Encoding", "gzip,deflate,br"}}).res.body
        == "enc:gzip, deflate, br");
  CHECK(h.sent.size() == 2);

  SUBCASE("absent and empty values differ for other fields") {
    harness v;
    v.serve({{"Cache-Control", "max-age=60"}, {"Vary", "X-Team"}});
    v.get("/t");
    CHECK(v.get("/t").kind == lookup_kind::hit);
    CHECK(v.get("/t", {{"X-Team", ""}}).kind == lookup_kind::miss);
    CHECK(v.get("/t", {{"X-Team", "a"}}).kind == lookup_kind::miss);
    CHECK(v.get("/t", {{"x-team", "a"}}).kind == lookup_kind::hit);
  }
  SUBCASE("Vary: * is never stored") {
    harness v;
    v.serve({{"Cache-Control", "max-age=60"}, {"Vary", "*"}});
    v.get("/s");
    CHECK(v.get("/s").kind == lookup_kind::pass);
    CHECK(v.sent.size() == 2);
  }
}

TEST_CASE("edge cache flow: request directives (RFC 9111 5.2.1)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}, {"ETag", "\"v1\""},
           {"Last-Modified", format_http_date(t0 - 3600s)}});
  h.get();
  h.now += 30s;
  SUBCASE("no-cache revalidates with the stored validators") {
    auto r = h.get("/x", {{"Cache-Control", "no-cache"}});
    CHECK(r.kind == lookup_kind::revalidate);
    CHECK(header_or(h.sent.back(), "If-None-Match") == "\"v1\"");
    CHECK(header_or(h.sent.back(), "If-Modified-Since")
          == format_http_date(t0 - 3600s));
    CHECK(header_or(r.res, "Cache-Status").find("fwd=request") != std::string::npos);
  }
  SUBCASE("Pragma: no-cache without Cache-Control (5.4)") {
    CHECK(h.get("/x", {{"Pragma", "no-cache"}}).kind == lookup_kind::revalidate);
    CHECK(h.get("/x", {{"Pragma", "no-cache"}, {"Cache-Control", "max-stale"}}).kind
          == lookup_kind::hit);
  }
  SUBCASE("max-age") {
    CHECK(h.get("/x", {{"Cache-Control", "max-age=40"}}).kind == lookup_kind::hit);
    CHECK(h.get("/x", {{"Cache-Control", "max-age=20"}}).kind == lookup_kind::revalidate);
    // The revalidated response has age 0, which max-age=0 accepts.
    CHECK(h.get("/x", {{"Cache-Control", "max-age=0"}}).kind == lookup_kind::hit);
    h.now += 1s;
    CHECK(h.get("/x", {{"Cache-Control", "max-age=0"}}).kind == lookup_kind::revalidate);
  }
  SUBCASE("min-fresh") {
    CHECK(h.get("/x", {{"Cache-Control", "min-fresh=20"}}).kind == lookup_kind::hit);
    CHECK(h.get("/x", {{"Cache-Control", "min-fresh=40"}}).kind == lookup_kind::revalidate);
  }
  SUBCASE("max-stale with and without a value") {
    h.now += 60s; // 30 s stale
    CHECK(h.get("/x", {{"Cache-Control", "max-stale=40"}}).kind == lookup_kind::hit);
    auto any = h.get("/x", {{"Cache-Control", "max-stale"}});
    CHECK(any.kind == lookup_kind::hit);
    CHECK(header_or(any.res, "Cache-Status") == "troupe; hit; ttl=-30; detail=max-stale");
    CHECK(header_or(any.res, "X-Cache") == "STALE");
    CHECK(h.get("/x", {{"Cache-Control", "max-stale=10"}}).kind == lookup_kind::revalidate);
  }
  SUBCASE("only-if-cached") {
    CHECK(h.get("/x", {{"Cache-Control", "only-if-cached"}}).kind == lookup_kind::hit);
    auto none = h.get("/nothing", {{"Cache-Control", "only-if-cached"}});
    CHECK(none.kind == lookup_kind::gateway_timeout);
    CHECK(none.res.status == 504);
    h.now += 60s;
    CHECK(h.get("/x", {{"Cache-Control", "only-if-cached"}}).res.status == 504);
  }
  SUBCASE("no-store: served, but the answer is not stored") {
    auto r = h.get("/other", {{"Cache-Control", "no-store"}});
    CHECK(r.kind == lookup_kind::miss);
    CHECK(h.get("/other").kind == lookup_kind::miss);
  }
}

TEST_CASE("edge cache flow: response directives (RFC 9111 5.2.2)") {
  harness h;
  SUBCASE("no-cache: validate every time") {
    h.serve({{"Cache-Control", "no-cache, max-age=60"}, {"ETag", "\"a\""}});
    h.get();
    CHECK(h.get().kind == lookup_kind::revalidate);
  }
  SUBCASE("no-cache with field names: reused without those fields") {
    h.serve({{"Cache-Control", "no-cache=\"X-Secret\", max-age=60"}, {"X-Secret", "s"}});
    h.get();
    auto r = h.get();
    CHECK(r.kind == lookup_kind::hit);
    CHECK_FALSE(has_header(r.res.headers, "x-secret"));
  }
  SUBCASE("private and no-store pass and are remembered (hit-for-pass)") {
    h.serve({{"Cache-Control", "private, max-age=60"}});
    auto first = h.get();
    CHECK(first.kind == lookup_kind::miss);
    CHECK(header_or(first.res, "Cache-Status").find("stored") == std::string::npos);
    auto second = h.get();
    CHECK(second.kind == lookup_kind::pass);
    CHECK(header_or(second.res, "Cache-Status")
          == "troupe; fwd=bypass; fwd-status=200");
    CHECK(header_or(second.res, "X-Cache") == "PASS");
    // Once the origin allows storing, the pass stores it.
    h.serve({{"Cache-Control", "max-age=60"}});
    CHECK(h.get().kind == lookup_kind::pass);
    CHECK(h.get().kind == lookup_kind::hit);
  }
  SUBCASE("the hit-for-pass marker expires") {
    h.serve({{"Cache-Control", "no-store"}});
    h.get();
    CHECK(h.get().kind == lookup_kind::pass);
    h.now += h.cfg.hit_for_pass_ttl + 1s;
    CHECK(h.get().kind == lookup_kind::miss);
  }
  SUBCASE("must-revalidate / proxy-revalidate: never served stale") {
    for (auto cc : {"max-age=10, must-revalidate", "max-age=10, proxy-revalidate"}) {
      CAPTURE(cc);
      harness m;
      m.serve({{"Cache-Control", std::string{cc} + ", stale-while-revalidate=100"}});
      m.get();
      m.now += 20s;
      CHECK(m.get("/x", {{"Cache-Control", "max-stale"}}).kind == lookup_kind::revalidate);
      m.now += 20s;
      CHECK(m.get().kind == lookup_kind::revalidate);
    }
  }
  SUBCASE("s-maxage: no client max-stale, but the origin's own SWR holds") {
    harness m;
    m.serve({{"Cache-Control", "s-maxage=10"}});
    m.get();
    m.now += 20s;
    CHECK(m.get("/x", {{"Cache-Control", "max-stale"}}).kind == lookup_kind::revalidate);
    harness w;
    w.serve({{"Cache-Control", "s-maxage=10, stale-while-revalidate=100"}});
    w.get();
    w.now += 20s;
    CHECK(w.get().kind == lookup_kind::stale_while_revalidate);
  }
  SUBCASE("immutable: a fresh response survives a reload (RFC 8246)") {
    h.serve({{"Cache-Control", "max-age=60, immutable"}});
    h.get();
    CHECK(h.get("/x", {{"Cache-Control", "no-cache"}}).kind == lookup_kind::hit);
    h.now += 61s;
    CHECK(h.get("/x", {{"Cache-Control", "no-cache"}}).kind == lookup_kind::revalidate);
  }
  SUBCASE("CDN-Cache-Control takes precedence for this cache (RFC 9213)") {
    h.serve({{"Cache-Control", "no-store"}, {"CDN-Cache-Control", "max-age=60"}});
    h.get();
    auto r = h.get();
    CHECK(r.kind == lookup_kind::hit);
    CHECK(header_or(r.res, "Cache-Control") == "no-store");
  }
  SUBCASE("Set-Cookie responses are passed on, not stored") {
    h.serve({{"Cache-Control", "max-age=60"}, {"Set-Cookie", "id=1"}});
    auto r = h.get();
    CHECK(header_or(r.res, "Set-Cookie") == "id=1");
    CHECK(h.get().kind == lookup_kind::pass);
  }
}

TEST_CASE("edge cache flow: validation and 304 updates (RFC 9111 4.3.3, 4.3.4)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=10"}, {"ETag", "\"v1\""}, {"X-Old", "1"},
           {"X-Kept", "k"}, {"Content-Type", "text/plain"}, {"Content-Encoding", "gzip"}});
  h.get();
  h.now += 20s;
  int calls = 0;
  h.origin = [&](const request& r) {
    ++calls;
    CHECK(header_or(r, "If-None-Match") == "\"v1\"");
    return make_response(304, {{"Cache-Control", "max-age=100"}, {"ETag", "\"v1\""},
                               {"X-Old", "2"}, {"Content-Type", "text/csv"},
                               {"Content-Encoding", "br"}, {"Set-Cookie", "s=1"},
                               {"Date", format_http_date(h.now)}}, "");
  };
  auto r = h.get();
  CHECK(r.kind == lookup_kind::revalidate);
  CHECK(calls == 1);
  CHECK(r.res.status == 200);
  CHECK(*r.res.body == "body");
  CHECK(header_or(r.res, "X-Old") == "2");
  CHECK(header_or(r.res, "X-Kept") == "k");
  CHECK(header_or(r.res, "Content-Type") == "text/csv");
  // The stored body depends on Content-Encoding; a 304 never adds a cookie.
  CHECK(header_or(r.res, "Content-Encoding") == "gzip");
  CHECK_FALSE(has_header(r.res.headers, "set-cookie"));
  CHECK(header_or(r.res, "Cache-Status")
        == "troupe; fwd=stale; fwd-status=304; stored; ttl=100");
  CHECK(header_or(r.res, "X-Cache") == "REVALIDATED");
  CHECK(header_or(r.res, "Age") == "0");
  h.now += 50s;
  auto hit = h.get();
  CHECK(hit.kind == lookup_kind::hit);
  CHECK(header_or(hit.res, "Age") == "50");
  CHECK(header_or(hit.res, "X-Old") == "2");
  CHECK(h.c.stats().revalidated_304 == 1);

  SUBCASE("a 304 with another strong ETag updates nothing") {
    h.now += 100s;
    h.origin = [&](const request&) {
      return make_response(304, {{"ETag", "\"v2\""}, {"Date", format_http_date(h.now)}}, "");
    };
    auto bad = h.get();
    CHECK(bad.res.status == 502);
    CHECK(h.get().kind == lookup_kind::miss);
  }
  SUBCASE("a 200 to a revalidation replaces the stored response") {
    h.now += 100s;
    h.serve({{"Cache-Control", "max-age=100"}, {"ETag", "\"v2\""}}, "new");
    CHECK(*h.get().res.body == "new");
    CHECK(*h.get().res.body == "new");
  }
  SUBCASE("a no-store 200 to a revalidation removes the stored response") {
    h.now += 100s;
    h.serve({{"Cache-Control", "no-store"}}, "new");
    CHECK(*h.get().res.body == "new");
    CHECK(h.c.stats().objects == 0);
  }
}

TEST_CASE("edge cache flow: clients' conditional requests answered from cache (4.3.2)") {
  harness h;
  auto lm = format_http_date(t0 - 3600s);
  h.serve({{"Cache-Control", "max-age=60"}, {"ETag", "W/\"v1\""}, {"Last-Modified", lm},
           {"Content-Type", "text/plain"}, {"X-Other", "o"}});
  h.get();
  auto inm = h.get("/x", {{"If-None-Match", "\"v0\", \"v1\""}});
  CHECK(inm.kind == lookup_kind::hit);
  CHECK(inm.res.status == 304);
  CHECK(inm.res.body->empty());
  CHECK(header_or(inm.res, "ETag") == "W/\"v1\"");
  CHECK(has_header(inm.res.headers, "cache-control"));
  CHECK(has_header(inm.res.headers, "age"));
  CHECK(has_header(inm.res.headers, "cache-status"));
  CHECK_FALSE(has_header(inm.res.headers, "content-type"));
  CHECK_FALSE(has_header(inm.res.headers, "x-other"));
  CHECK(h.get("/x", {{"If-None-Match", "\"v0\""}}).res.status == 200);
  CHECK(h.get("/x", {{"If-None-Match", "*"}}).res.status == 304);
  // If-Modified-Since against Last-Modified.
  CHECK(h.get("/x", {{"If-Modified-Since", lm}}).res.status == 304);
  CHECK(h.get("/x", {{"If-Modified-Since", format_http_date(t0 - 7200s)}}).res.status == 200);
  CHECK(h.get("/x", {{"If-Modified-Since", "garbage"}}).res.status == 200);
  // If-None-Match takes precedence over If-Modified-Since.
  CHECK(h.get("/x", {{"If-None-Match", "\"v0\""}, {"If-Modified-Since", lm}}).res.status
        == 200);
  // The first miss for a conditional request is answered the same way.
  h.serve({{"Cache-Control", "max-age=60"}, {"ETag", "\"y\""}});
  auto first = h.get("/y", {{"If-None-Match", "\"y\""}});
  CHECK(first.kind == lookup_kind::miss);
  CHECK(first.res.status == 304);
  CHECK(h.get("/y").res.status == 200);
}

TEST_CASE("edge cache flow: Cache-Status keeps upstream members (RFC 9211 2)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}, {"Cache-Status", "OriginCache; hit"}});
  auto miss = h.get();
  CHECK(header_or(miss.res, "Cache-Status")
        == "OriginCache; hit, troupe; fwd=uri-miss; fwd-status=200; stored; ttl=60");
  auto hit = h.get();
  CHECK(header_or(hit.res, "Cache-Status") == "OriginCache; hit, troupe; hit; ttl=60");
  mark_collapsed(hit.res);
  CHECK(header_or(hit.res, "Cache-Status")
        == "OriginCache; hit, troupe; hit; ttl=60; collapsed");
  response own = make_response(503, {});
  decorate_uncached(own, h.cfg, "miss", "origin-unreachable");
  CHECK(header_or(own, "Cache-Status") == "troupe; fwd=miss; detail=origin-unreachable");
  CHECK(header_or(own, "X-Cache") == "MISS");
}

TEST_CASE("edge cache flow: Range requests") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}});
  // Nothing stored: passed on as it is (206 is not stored).
  auto miss = h.get("/r", {{"Range", "bytes=0-1"}});
  CHECK(miss.kind == lookup_kind::pass);
  CHECK(has_header(h.sent.back().headers, "range"));
  h.get("/r");
  // Stored: the whole representation (a server may ignore Range).
  auto hit = h.get("/r", {{"Range", "bytes=0-1"}});
  CHECK(hit.kind == lookup_kind::hit);
  CHECK(hit.res.status == 200);
}

TEST_CASE("edge cache flow: returned responses are framed by body size") {
  harness h;
  h.serve({{"Content-Length", "4"}, {"Cache-Control", "no-store"}});
  auto get = h.get("/n");
  CHECK_FALSE(has_header(get.res.headers, "content-length"));
  CHECK(*get.res.body == "body");
  // A HEAD the origin answers itself keeps its Content-Length.
  h.origin = [](const request&) {
    return make_response(200, {{"Content-Length", "1234"}}, "");
  };
  auto head = h.run(make_request("HEAD", "/n"));
  CHECK(head.kind == lookup_kind::pass);
  CHECK(header_or(head.res, "Content-Length") == "1234");
  auto post = h.run(make_request("POST", "/n"));
  CHECK_FALSE(has_header(post.res.headers, "content-length"));
}
