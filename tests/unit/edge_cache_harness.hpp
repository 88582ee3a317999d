// Test harness for the edge cache core: a cache, a controllable clock and
// an origin given as a function. Not a test file itself.
#pragma once

#include "actors/edge/cache/cache.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace edge_cache_test {

using namespace troupe::edge::cache;
using namespace std::chrono_literals;

inline const time_point t0
  = time_point{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};

inline request make_request(std::string method, std::string target,
                            header_list h = {}) {
  return request{std::move(method), "http", "example.com", std::move(target),
                 std::move(h)};
}

inline response make_response(int status, header_list h,
                              std::string body = "body") {
  response r;
  r.status = status;
  r.headers = std::move(h);
  r.body = std::make_shared<const std::string>(std::move(body));
  return r;
}

inline std::string header_or(const response& r, std::string_view name,
                             std::string dflt = "<none>") {
  auto* v = find_header(r.headers, name);
  return v ? *v : dflt;
}

inline std::string header_or(const request& r, std::string_view name,
                             std::string dflt = "<none>") {
  auto* v = find_header(r.headers, name);
  return v ? *v : dflt;
}

struct harness {
  config cfg;
  cache c;
  time_point now = t0;
  /// Requests the origin saw, in order.
  std::vector<request> sent;
  /// Answers the origin with this; a null function means "unreachable".
  std::function<response(const request&)> origin;

  explicit harness(config cfg_in = {}) : cfg(cfg_in), c(cfg_in) {
  }

  struct result {
    lookup_kind kind;
    response res;
    bool background = false;
  };

  /// One client request: lookup, then the origin if the decision says so
  /// (foreground only; background revalidations run at once, after the
  /// stale answer, like a server would).
  result run(const request& r) {
    auto d = c.lookup(r, now);
    result out{d.kind, {}};
    if (d.client_response) {
      out.res = *d.client_response;
      if (d.kind == lookup_kind::stale_while_revalidate
          && d.background_revalidate) {
        out.background = true;
        fetch(r, d, false);
      }
      return out;
    }
    auto res = fetch(r, d, true);
    if (!res) {
      out.res = make_response(503, {}, "no origin");
      decorate_uncached(out.res, cfg, d.forward_reason, "origin-unreachable");
    } else {
      out.res = *res;
    }
    return out;
  }

  std::optional<response> fetch(const request& r, const lookup_result& d,
                                bool want) {
    sent.push_back(*d.origin_request);
    if (!origin)
      return c.on_origin_error(r, d, now, want);
    auto o = origin(*d.origin_request);
    auto outcome = c.on_origin_response(r, d, o, now, now, now, want);
    return outcome.client_response;
  }

  result get(std::string target = "/x", header_list h = {}) {
    return run(make_request("GET", std::move(target), std::move(h)));
  }

  /// An origin that answers 200 with `h` (plus Date = now) and counts.
  void serve(header_list h, std::string body = "body", int status = 200) {
    origin = [this, h, body, status](const request&) {
      auto hh = h;
      hh.emplace_back("Date", format_http_date(now));
      return make_response(status, hh, body);
    };
  }
};

} // namespace edge_cache_test
