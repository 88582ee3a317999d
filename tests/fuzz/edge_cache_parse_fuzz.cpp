// libFuzzer target for the edge cache core's parsers (actors/edge/cache/
// parse.hpp, stored_codec.hpp) and for the cache's decisions on arbitrary
// request and response headers. Checks, besides memory safety:
// - format_http_date(parse_http_date(x)) parses back to the same time;
// - decode_stored(x), when it accepts, re-encodes to exactly x;
// - every response the cache returns carries Cache-Status and X-Cache and
//   never Surrogate-Key; the byte budget holds.
#include "actors/edge/cache/cache.hpp"
#include "actors/edge/cache/parse.hpp"
#include "actors/edge/cache/stored_codec.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace troupe::edge::cache;

namespace {

void check(bool ok) {
  if (!ok)
    std::abort();
}

// "name: value" lines; at most 32 fields.
header_list fields_of(std::string_view text) {
  header_list out;
  while (!text.empty() && out.size() < 32) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    out.emplace_back(std::string{line.substr(0, colon)}, std::string{value});
  }
  return out;
}

void check_decorated(const response& r) {
  check(has_header(r.headers, "cache-status"));
  check(has_header(r.headers, "x-cache"));
  check(!has_header(r.headers, "surrogate-key"));
}

void parsers(std::string_view in) {
  parse_limits limits;
  (void) parse_cache_control(in, limits);
  (void) parse_delta_seconds(in);
  (void) parse_list(in, limits);
  (void) normalize_accept_encoding(in, limits);
  (void) parse_entity_tag(in);
  (void) if_none_match_matches(in, "\"x\"", limits);
  (void) parse_surrogate_keys(in, limits);
  header_list vary{{"Vary", std::string{in}}};
  (void) parse_vary(vary, limits);
  if (auto t = parse_http_date(in)) {
    auto back = parse_http_date(format_http_date(*t));
    check(back && *back == *t);
  }
  config cfg;
  cfg.max_object_bytes = 1 << 16;
  if (auto s = decode_stored(in, cfg))
    check(encode_stored(*s) == in);
}

// Request fields, then "\n\n", response fields, then "\n\n", a status
// digit and a method selector: one miss, the origin's answer, one more
// lookup a minute later, and a revalidation answered with 304.
void flow(std::string_view in) {
  auto sep = in.find("\n\n");
  if (sep == std::string_view::npos)
    return;
  auto req_text = in.substr(0, sep);
  auto rest = in.substr(sep + 2);
  auto sep2 = rest.find("\n\n");
  auto res_text = rest.substr(0, sep2);
  std::string_view tail = sep2 == std::string_view::npos ? "" : rest.substr(sep2 + 2);
  static const int statuses[] = {200, 203, 204, 206, 301, 302, 304, 404, 500, 503};
  static const char* methods[] = {"GET", "HEAD", "POST", "DELETE"};
  int status = statuses[tail.empty() ? 0 : static_cast<unsigned char>(tail[0]) % 10];
  const char* method
    = methods[tail.size() < 2 ? 0 : static_cast<unsigned char>(tail[1]) % 4];
  config cfg;
  cfg.max_bytes = 1 << 14;
  cfg.shards = 1;
  cache c{cfg};
  request req{method, "http", "h", "/p", fields_of(req_text)};
  response origin{status, fields_of(res_text),
                  std::make_shared<const std::string>(res_text)};
  auto now = time_point{std::chrono::seconds{1'700'000'000}};
  for (int round = 0; round < 3; ++round) {
    auto d = c.lookup(req, now);
    if (d.client_response)
      check_decorated(*d.client_response);
    if (d.origin_request) {
      auto answer = origin;
      if (round == 2)
        answer.status = 304;
      auto o = c.on_origin_response(req, d, answer, now, now, now);
      if (o.client_response)
        check_decorated(*o.client_response);
      if (auto s = c.on_origin_error(req, d, now))
        check_decorated(*s);
    }
    check(c.stats().bytes <= cfg.max_bytes);
    now += std::chrono::seconds{60};
  }
  c.purge_key("k", true);
  c.purge_url("http", "h", "/p", false);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16)
    return 0;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  parsers(in);
  flow(in);
  return 0;
}
