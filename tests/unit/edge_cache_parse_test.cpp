// Edge cache core: header parsers (RFC 9111 5.2 Cache-Control, 1.2.2
// delta-seconds; RFC 9110 5.6.7 dates, 5.6.1 lists, 8.8.3 entity tags,
// 13.1.2 If-None-Match; Accept-Encoding normalisation; Surrogate-Key).
#include "actors/edge/cache/parse.hpp"

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

time_point utc(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
  return time_point{sys_days{year{y} / month{m} / day{d}} + hours{hh}
                    + minutes{mm} + seconds{ss}};
}

} // namespace

TEST_CASE("edge cache parse: delta-seconds (RFC 9111 1.2.2)") {
  CHECK(parse_delta_seconds("0") == 0);
  CHECK(parse_delta_seconds("0010") == 10);
  CHECK(parse_delta_seconds("3600") == 3600);
  // Overflow clamps to 2^31.
  CHECK(parse_delta_seconds("99999999999999999999999") == max_delta_seconds);
  CHECK(parse_delta_seconds("2147483649") == max_delta_seconds);
  CHECK_FALSE(parse_delta_seconds(""));
  CHECK_FALSE(parse_delta_seconds("-1"));
  CHECK_FALSE(parse_delta_seconds("+1"));
  CHECK_FALSE(parse_delta_seconds("1.5"));
  CHECK_FALSE(parse_delta_seconds(" 1"));
  CHECK_FALSE(parse_delta_seconds("1a"));
}

TEST_CASE("edge cache parse: Cache-Control directives (RFC 9111 5.2)") {
  auto cc = parse_cache_control(
    "public, max-age=60, s-maxage=30, must-revalidate, proxy-revalidate, "
    "no-transform, immutable, stale-while-revalidate=5, stale-if-error=99, "
    "must-understand");
  CHECK(cc.public_);
  CHECK(cc.max_age == 60);
  CHECK(cc.s_maxage == 30);
  CHECK(cc.must_revalidate);
  CHECK(cc.proxy_revalidate);
  CHECK(cc.no_transform);
  CHECK(cc.immutable);
  CHECK(cc.stale_while_revalidate == 5);
  CHECK(cc.stale_if_error == 99);
  CHECK(cc.must_understand);
  CHECK_FALSE(cc.no_store);
  CHECK_FALSE(cc.no_cache);

  SUBCASE("names are case-insensitive, arguments may be quoted") {
    auto c = parse_cache_control("MAX-AGE=\"120\", No-Store");
    CHECK(c.max_age == 120);
    CHECK(c.no_store);
  }
  SUBCASE("request directives") {
    auto c = parse_cache_control(
      "no-cache, max-stale, min-fresh=10, only-if-cached, max-age=0");
    CHECK(c.no_cache);
    CHECK(c.max_stale);
    CHECK_FALSE(c.max_stale_seconds);
    CHECK(c.min_fresh == 10);
    CHECK(c.only_if_cached);
    CHECK(c.max_age == 0);
    auto d = parse_cache_control("max-stale=30");
    CHECK(d.max_stale);
    CHECK(d.max_stale_seconds == 30);
  }
  SUBCASE("no-cache and private with field names") {
    auto c = parse_cache_control("no-cache=\"Set-Cookie, X-Foo\", private=x-bar");
    CHECK_FALSE(c.no_cache);
    CHECK(c.no_cache_fields == std::vector<std::string>{"set-cookie", "x-foo"});
    CHECK_FALSE(c.private_all);
    CHECK(c.private_fields == std::vector<std::string>{"x-bar"});
    CHECK(parse_cache_control("private").private_all);
    CHECK(parse_cache_control("no-cache").no_cache);
  }
  SUBCASE("invalid max-age is flagged (the response is then stale)") {
    for (auto v : {"max-age=abc", "max-age=-1", "max-age=1.5", "max-age",
                   "max-age=", "max-age =5", "max-age=5 x"}) {
      CAPTURE(v);
      auto c = parse_cache_control(v);
      CHECK(c.max_age_invalid);
      CHECK_FALSE(c.max_age);
    }
    CHECK(parse_cache_control("s-maxage=x").s_maxage_invalid);
  }
  SUBCASE("duplicate directives: the first occurrence counts") {
    auto c = parse_cache_control("max-age=10, max-age=20");
    CHECK(c.max_age == 10);
    auto d = parse_cache_control("max-age=10, max-age=x");
    CHECK(d.max_age == 10);
    CHECK_FALSE(d.max_age_invalid);
  }
  SUBCASE("empty members, whitespace, unknown directives") {
    auto c = parse_cache_control(" , ,max-age=5 ,, foo=\"a,b\", bar ,no-store");
    CHECK(c.max_age == 5);
    CHECK(c.no_store);
  }
  SUBCASE("a comma inside a quoted argument does not split") {
    auto c = parse_cache_control("foo=\"max-age=1, no-store\", max-age=7");
    CHECK_FALSE(c.no_store);
    CHECK(c.max_age == 7);
  }
  SUBCASE("limits") {
    parse_limits small;
    small.max_directives = 3;
    auto c = parse_cache_control("a, b, c, no-store", small);
    CHECK(c.truncated);
    CHECK_FALSE(c.no_store);
    std::string huge(10000, 'x');
    CHECK(parse_cache_control(huge).truncated);
  }
  SUBCASE("all field lines are joined") {
    header_list h{{"Cache-Control", "max-age=5"}, {"cache-control", "no-store"}};
    auto c = cache_control_of(h);
    CHECK(c.present);
    CHECK(c.max_age == 5);
    CHECK(c.no_store);
    CHECK_FALSE(cache_control_of({}).present);
  }
}

TEST_CASE("edge cache parse: HTTP dates, three formats (RFC 9110 5.6.7)") {
  auto t = utc(1994, 11, 6, 8, 49, 37);
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == t);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == t);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == t);
  CHECK(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT ") == t);
  CHECK(parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT")
        == utc(2026, 1, 1, 0, 0, 0));
  CHECK(parse_http_date("Mon Nov 16 08:49:37 1994")
        == utc(1994, 11, 16, 8, 49, 37));
  CHECK(format_http_date(t) == "Sun, 06 Nov 1994 08:49:37 GMT");
  // Beyond the clock's range: clamped, still far in the future or past.
  CHECK(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT") == utc(2200, 1, 1, 0, 0, 0));
  CHECK(parse_http_date("Mon, 01 Jan 1001 00:00:00 GMT") == utc(1900, 1, 1, 0, 0, 0));
  CHECK(format_http_date(utc(2026, 12, 1, 23, 5, 9))
        == "Tue, 01 Dec 2026 23:05:09 GMT");
  for (auto bad :
       {"", "0", "-1", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
        "1994-11-06T08:49:37Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_http_date(bad));
  }
}

TEST_CASE("edge cache parse: lists and Vary (RFC 9110 5.6.1, RFC 9111 4.1)") {
  CHECK(parse_list(" a, ,b ,c,") == std::vector<std::string>{"a", "b", "c"});
  header_list h{{"Vary", "Accept-Encoding, User-Agent"}, {"vary", "accept-encoding"}};
  auto v = parse_vary(h);
  CHECK(v.names == std::vector<std::string>{"accept-encoding", "user-agent"});
  CHECK_FALSE(v.star);
  CHECK(parse_vary({{"Vary", "*"}}).star);
  CHECK(parse_vary({{"Vary", "Origin, *"}}).star);
  parse_limits small;
  small.max_list_members = 2;
  CHECK(parse_vary({{"Vary", "a, b, c"}}, small).too_many);
  CHECK(parse_vary({}).names.empty());
}

TEST_CASE("edge cache parse: Accept-Encoding normalisation") {
  CHECK(normalize_accept_encoding("gzip, deflate, br") == "br,gzip,deflate");
  CHECK(normalize_accept_encoding("br;q=1.0, gzip;q=0.8, deflate")
        == "br,gzip,deflate");
  CHECK(normalize_accept_encoding("GZIP") == "gzip");
  CHECK(normalize_accept_encoding("x-gzip") == "gzip");
  CHECK(normalize_accept_encoding("gzip;q=0, br") == "br");
  CHECK(normalize_accept_encoding("gzip;q=0.000") == "");
  CHECK(normalize_accept_encoding("identity") == "");
  CHECK(normalize_accept_encoding("") == "");
  CHECK(normalize_accept_encoding("*") == "br,gzip,zstd,deflate");
  CHECK(normalize_accept_encoding("*, br;q=0") == "gzip,zstd,deflate");
}

TEST_CASE("edge cache parse: entity tags and If-None-Match (RFC 9110 8.8.3, 13.1.2)") {
  auto t = parse_entity_tag("W/\"abc\"");
  REQUIRE(t);
  CHECK(t->weak);
  CHECK(t->opaque == "abc");
  CHECK(parse_entity_tag("\"\"")->opaque == "");
  CHECK_FALSE(parse_entity_tag("abc"));
  CHECK_FALSE(parse_entity_tag("\"abc"));
  CHECK_FALSE(parse_entity_tag("\"a\"b"));
  // Weak comparison either way.
  CHECK(if_none_match_matches("\"abc\"", "\"abc\""));
  CHECK(if_none_match_matches("W/\"abc\"", "\"abc\""));
  CHECK(if_none_match_matches("\"abc\"", "W/\"abc\""));
  CHECK(if_none_match_matches("\"x\", \"a,b\" , \"abc\"", "\"abc\""));
  CHECK(if_none_match_matches("\"a,b\"", "\"a,b\""));
  CHECK(if_none_match_matches("*", "\"abc\""));
  CHECK_FALSE(if_none_match_matches("\"abd\"", "\"abc\""));
  CHECK_FALSE(if_none_match_matches("abc", "\"abc\""));
  CHECK_FALSE(if_none_match_matches("\"abc\"", "garbage"));
}

TEST_CASE("edge cache parse: Surrogate-Key") {
  CHECK(parse_surrogate_keys("a b  c a\tb")
        == std::vector<std::string>{"a", "b", "c"});
  CHECK(parse_surrogate_keys("").empty());
  parse_limits small;
  small.max_list_members = 2;
  small.max_member_bytes = 3;
  CHECK(parse_surrogate_keys("a toolong b c", small)
        == std::vector<std::string>{"a", "b"});
}

// A seeded, bounded stand-in for the libFuzzer target (which needs clang and
// runs outside `make test`): random field values built from the grammar's
// pieces must keep the parsers' invariants.
TEST_CASE("edge cache parse: random inputs keep the invariants") {
  static const char* pieces[] = {
    "max-age", "=", "\"", ",", " ", "no-cache", "private", "s-maxage", "60",
    "-1", "W/", "*", ";q=0", "gzip", "br", "Sun, 06 Nov 1994 08:49:37 GMT",
    "\\", "99999999999999999999", "\t", "x", "must-revalidate", "stale-if-error"};
  uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(state >> 33);
  };
  for (int i = 0; i < 5000; ++i) {
    std::string in;
    auto n = next() % 12;
    for (size_t k = 0; k < n; ++k)
      in += pieces[next() % std::size(pieces)];
    if (!in.empty() && next() % 4 == 0)
      in[next() % in.size()] ^= 0x40;
    CAPTURE(in);
    auto cc = parse_cache_control(in);
    if (cc.max_age)
      CHECK(*cc.max_age <= max_delta_seconds);
    CHECK(normalize_accept_encoding(in).size() <= std::string("br,gzip,zstd,deflate").size());
    for (auto& m : parse_list(in))
      CHECK_FALSE(m.empty());
    if (auto t = parse_http_date(in))
      CHECK(parse_http_date(format_http_date(*t)) == t);
    (void) if_none_match_matches(in, "\"x\"");
    (void) parse_surrogate_keys(in);
  }
}
