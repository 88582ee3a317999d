// Edge cache core: stale responses (RFC 9111 4.2.4; RFC 5861
// stale-while-revalidate and stale-if-error, plus the configured grace),
// invalidation after unsafe methods (RFC 9111 4.4), purge by URL and by
// surrogate key (hard and soft), eviction, and the L2 encoding.
#include "actors/edge/cache/stored_codec.hpp"

#include "edge_cache_harness.hpp"

#include <doctest/doctest.h>

using namespace edge_cache_test;

TEST_CASE("edge cache stale: stale-while-revalidate (RFC 5861 3)") {
  harness h;
  int version = 1;
  h.origin = [&](const request&) {
    return make_response(200, {{"Cache-Control", "max-age=10, stale-while-revalidate=30"},
                               {"Date", format_http_date(h.now)}},
                         "v" + std::to_string(version));
  };
  h.get();
  version = 2;
  h.now += 20s; // 10 s stale, within 30
  // Hold the background fetch to see that only one is started.
  auto d1 = h.c.lookup(make_request("GET", "/x"), h.now);
  CHECK(d1.kind == lookup_kind::stale_while_revalidate);
  CHECK(d1.background_revalidate);
  REQUIRE(d1.client_response);
  CHECK(*d1.client_response->body == "v1");
  CHECK(header_or(*d1.client_response, "Cache-Status")
        == "troupe; hit; ttl=-10; detail=stale-while-revalidate");
  CHECK(header_or(*d1.client_response, "X-Cache") == "STALE");
  CHECK(header_or(*d1.client_response, "Age") == "20");
  auto d2 = h.c.lookup(make_request("GET", "/x"), h.now);
  CHECK(d2.kind == lookup_kind::stale_while_revalidate);
  CHECK_FALSE(d2.background_revalidate);
  CHECK_FALSE(d2.origin_request);
  // The background answer refreshes the store.
  auto bg = h.origin(*d1.origin_request);
  auto outcome = h.c.on_origin_response(make_request("GET", "/x"), d1, bg, h.now,
                                        h.now, h.now, false);
  CHECK(outcome.stored);
  CHECK_FALSE(outcome.client_response);
  auto fresh = h.get();
  CHECK(fresh.kind == lookup_kind::hit);
  CHECK(*fresh.res.body == "v2");
  // Past the window: a foreground revalidation.
  h.now += 100s;
  CHECK(h.get().kind == lookup_kind::revalidate);

  SUBCASE("a lost background revalidation is handed out again after the timeout") {
    h.now += 100s;
    auto a = h.c.lookup(make_request("GET", "/x"), h.now);
    (void) a;
    h.now += 1s;
    CHECK(h.c.lookup(make_request("GET", "/x"), h.now).kind == lookup_kind::revalidate);
  }
}

TEST_CASE("edge cache stale: a lost background revalidation is retried after the timeout") {
  config cfg;
  cfg.background_timeout = 5s;
  harness h{cfg};
  h.serve({{"Cache-Control", "max-age=10, stale-while-revalidate=100"}});
  h.get();
  h.now += 20s;
  CHECK(h.c.lookup(make_request("GET", "/x"), h.now).background_revalidate);
  CHECK_FALSE(h.c.lookup(make_request("GET", "/x"), h.now + 2s).background_revalidate);
  CHECK(h.c.lookup(make_request("GET", "/x"), h.now + 6s).background_revalidate);
}

TEST_CASE("edge cache stale: stale-if-error (RFC 5861 4)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=10, stale-if-error=60"}, {"ETag", "\"e\""}});
  h.get();
  h.now += 30s; // 20 s stale
  SUBCASE("origin unreachable") {
    h.origin = nullptr;
    auto r = h.get();
    CHECK(r.kind == lookup_kind::revalidate);
    CHECK(r.res.status == 200);
    CHECK(*r.res.body == "body");
    CHECK(header_or(r.res, "Cache-Status")
          == "troupe; fwd=stale; ttl=-20; detail=stale-if-error");
    CHECK(header_or(r.res, "X-Cache") == "STALE");
    CHECK(header_or(r.res, "Age") == "30");
    h.now += 50s; // 70 s stale: past the window
    CHECK(h.get().res.status == 503);
  }
  SUBCASE("origin answers 500, 502, 503, 504") {
    for (int status : {500, 502, 503, 504}) {
      CAPTURE(status);
      h.serve({}, "error", status);
      auto r = h.get();
      CHECK(r.res.status == 200);
      CHECK(header_or(r.res, "Cache-Status").find("fwd-status=" + std::to_string(status))
            != std::string::npos);
    }
    // Other errors are passed on.
    h.serve({}, "not found", 404);
    CHECK(h.get().res.status == 404);
  }
  SUBCASE("a request's own stale-if-error") {
    harness q;
    q.serve({{"Cache-Control", "max-age=10"}});
    q.get();
    q.now += 30s;
    q.origin = nullptr;
    CHECK(q.get().res.status == 503);
    CHECK(q.get("/x", {{"Cache-Control", "stale-if-error=30"}}).res.status == 200);
  }
}

TEST_CASE("edge cache stale: the configured grace, and what it never overrides") {
  config cfg;
  cfg.stale_if_error_grace = 120s;
  harness h{cfg};
  h.serve({{"Cache-Control", "max-age=10"}});
  h.get("/g");
  h.serve({{"Cache-Control", "max-age=10, must-revalidate"}});
  h.get("/m");
  h.now += 60s;
  h.origin = nullptr;
  auto g = h.get("/g");
  CHECK(g.res.status == 200);
  CHECK(header_or(g.res, "Cache-Status").find("detail=grace") != std::string::npos);
  // must-revalidate: a disconnected cache must answer with an error (4.2.4).
  CHECK(h.get("/m").res.status == 503);
  h.now += 100s;
  CHECK(h.get("/g").res.status == 503);
}

TEST_CASE("edge cache invalidation after unsafe methods (RFC 9111 4.4)") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}});
  for (auto t : {"/a", "/b", "/c", "/d"})
    h.get(t);
  auto post = [&](int status, header_list hl) {
    h.origin = [&, status, hl](const request&) { return make_response(status, hl, ""); };
    return h.run(make_request("POST", "/a"));
  };
  SUBCASE("a non-error answer invalidates the target, Location, Content-Location") {
    auto r = post(201, {{"Location", "/b"},
                        {"Content-Location", "http://example.com/c"}});
    CHECK(r.kind == lookup_kind::pass);
    CHECK(header_or(r.res, "Cache-Status") == "troupe; fwd=method; fwd-status=201; detail=method");
    h.serve({{"Cache-Control", "max-age=60"}});
    CHECK(h.get("/a").kind == lookup_kind::miss);
    CHECK(h.get("/b").kind == lookup_kind::miss);
    CHECK(h.get("/c").kind == lookup_kind::miss);
    CHECK(h.get("/d").kind == lookup_kind::hit);
    CHECK(h.c.stats().invalidations == 3);
  }
  SUBCASE("another origin's Location is left alone") {
    post(200, {{"Location", "http://other.example/b"}});
    h.serve({{"Cache-Control", "max-age=60"}});
    CHECK(h.get("/b").kind == lookup_kind::hit);
  }
  SUBCASE("an error answer invalidates nothing") {
    post(500, {});
    h.serve({{"Cache-Control", "max-age=60"}});
    CHECK(h.get("/a").kind == lookup_kind::hit);
  }
  SUBCASE("unknown methods count as unsafe") {
    h.origin = [](const request&) { return make_response(200, {}, ""); };
    h.run(make_request("FROB", "/d"));
    h.serve({{"Cache-Control", "max-age=60"}});
    CHECK(h.get("/d").kind == lookup_kind::miss);
  }
}

TEST_CASE("edge cache purge by URL and by surrogate key, hard and soft") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60, stale-if-error=600"},
           {"Surrogate-Key", "product-1 all"}});
  h.get("/p1");
  h.get("/p1", {{"Accept-Encoding", "gzip"}}); // same URL, no Vary: replaces
  h.serve({{"Cache-Control", "max-age=60"}, {"Surrogate-Key", "product-2 all"}});
  h.get("/p2");
  h.get("/p3");
  CHECK(h.c.stats().objects == 3);
  SUBCASE("by key") {
    CHECK(h.c.purge_key("product-1", false) == 1);
    CHECK(h.c.purge_key("product-1", false) == 0);
    CHECK(h.get("/p1").kind == lookup_kind::miss); // now tagged "product-2 all"
    CHECK(h.c.purge_key("all", false) == 3);
    CHECK(h.c.purge_key("nothing", false) == 0);
  }
  SUBCASE("by URL") {
    CHECK(h.c.purge_url("http", "EXAMPLE.COM", "/p2", false) == 1);
    CHECK(h.get("/p2").kind == lookup_kind::miss);
    CHECK(h.get("/p3").kind == lookup_kind::hit);
  }
  SUBCASE("soft: stale at once, still there for stale-if-error") {
    CHECK(h.c.purge_key("product-1", true) == 1);
    CHECK(h.c.stats().objects == 3);
    h.origin = nullptr;
    auto r = h.get("/p1");
    CHECK(r.kind == lookup_kind::revalidate);
    CHECK(r.res.status == 200);
    CHECK(header_or(r.res, "Cache-Status") == "troupe; fwd=stale; ttl=0; detail=stale-if-error");
    // Without stale-if-error a soft-purged object is not served on error.
    CHECK(h.c.purge_url("http", "example.com", "/p2", true) == 1);
    CHECK(h.get("/p2").res.status == 503);
  }
}

TEST_CASE("edge cache eviction keeps the byte budget") {
  for (auto kind : {eviction_kind::s3fifo, eviction_kind::lru}) {
    config cfg;
    cfg.max_bytes = 64 * 1024;
    cfg.shards = 1;
    cfg.eviction = kind;
    harness h{cfg};
    h.serve({{"Cache-Control", "max-age=600"}}, std::string(1000, 'x'));
    for (int i = 0; i < 500; ++i)
      h.get("/o" + std::to_string(i));
    auto st = h.c.stats();
    CHECK(st.bytes <= cfg.max_bytes);
    CHECK(st.objects > 20);
    CHECK(st.evictions == 500 - st.objects);
    // The newest object is still there.
    CHECK(h.get("/o499").kind == lookup_kind::hit);
  }
}

TEST_CASE("edge cache eviction policies: S3-FIFO keeps hot objects past a scan") {
  auto p = make_eviction_policy(eviction_kind::s3fifo, 100);
  std::vector<uint64_t> evicted;
  for (uint64_t id = 1; id <= 5; ++id) {
    p->insert(id, 10, evicted);
    p->touch(id);
  }
  // A scan of one-hit objects.
  for (uint64_t id = 100; id < 200; ++id)
    p->insert(id, 10, evicted);
  CHECK(p->bytes() <= 100);
  for (uint64_t id = 1; id <= 5; ++id) {
    CAPTURE(id);
    CHECK(std::find(evicted.begin(), evicted.end(), id) == evicted.end());
  }
  auto l = make_eviction_policy(eviction_kind::lru, 100);
  std::vector<uint64_t> l_evicted;
  for (uint64_t id = 1; id <= 5; ++id)
    l->insert(id, 10, l_evicted);
  for (uint64_t id = 100; id < 200; ++id)
    l->insert(id, 10, l_evicted);
  CHECK(std::find(l_evicted.begin(), l_evicted.end(), 1) != l_evicted.end());
  eviction_kind k;
  CHECK(parse_eviction_kind("lru", k));
  CHECK(k == eviction_kind::lru);
  CHECK_FALSE(parse_eviction_kind("fifo", k));
}

TEST_CASE("edge cache L2 encoding round trip and rejects") {
  harness h;
  h.serve({{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"},
           {"Surrogate-Key", "a b"}}, "payload");
  auto d = h.c.lookup(make_request("GET", "/l2", {{"Accept-Encoding", "gzip"}}), h.now);
  auto o = h.c.on_origin_response(make_request("GET", "/l2", {{"Accept-Encoding", "gzip"}}),
                                  d, h.origin(*d.origin_request), h.now, h.now, h.now);
  REQUIRE(o.entry);
  auto bytes = encode_stored(*o.entry);
  auto back = decode_stored(bytes, h.cfg);
  REQUIRE(back);
  CHECK(back->key == o.entry->key);
  CHECK(back->headers == o.entry->headers);
  CHECK(back->vary_values == o.entry->vary_values);
  CHECK(back->surrogate_keys == o.entry->surrogate_keys);
  CHECK(*back->body == "payload");
  CHECK(back->response_time == o.entry->response_time);
  // Into another edge's cache, then served from there.
  harness other;
  other.now = h.now + 5s;
  auto req = make_request("GET", "/l2", {{"Accept-Encoding", "gzip"}});
  CHECK_FALSE(other.c.insert(make_request("GET", "/l2"), back, other.now));
  CHECK(other.c.insert(req, back, other.now));
  auto r = other.run(req);
  CHECK(r.kind == lookup_kind::hit);
  CHECK(header_or(r.res, "Age") == "5");
  // Truncations, trailing bytes and a bad magic are refused.
  for (size_t n = 0; n < bytes.size(); n += 7)
    CHECK_FALSE(decode_stored(bytes.substr(0, n), h.cfg));
  CHECK_FALSE(decode_stored(bytes + "x", h.cfg));
  auto bad = bytes;
  bad[0] = 'X';
  CHECK_FALSE(decode_stored(bad, h.cfg));
}
