// The L2 encoding of a stored response (docs/edge-caching.md, "L2 format").
#include "actors/edge/cache/stored_codec.hpp"

#include <chrono>
#include <cstring>

namespace troupe::edge::cache {

namespace {

constexpr std::string_view magic{"TEC1"};
constexpr uint32_t max_headers = 256;
constexpr uint32_t max_key_bytes = 16384;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_i64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

int64_t to_ms(time_point t) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

struct reader {
  std::string_view in;
  bool ok = true;

  bool take(size_t n, std::string_view& out) {
    if (!ok || in.size() < n)
      return ok = false;
    out = in.substr(0, n);
    in.remove_prefix(n);
    return true;
  }
  uint64_t le(size_t n) {
    std::string_view b;
    if (!take(n, b))
      return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= uint64_t{static_cast<unsigned char>(b[i])} << (8 * i);
    return v;
  }
  uint32_t u32() {
    return static_cast<uint32_t>(le(4));
  }
  int64_t i64() {
    return static_cast<int64_t>(le(8));
  }
  std::string str(size_t limit) {
    auto n = u32();
    if (n > limit)
      ok = false;
    std::string_view b;
    if (!take(n, b))
      return {};
    return std::string{b};
  }
};

// Times beyond about 126 years from 1970 are refused: system_clock counts
// nanoseconds in 64 bits, and no stored response is that old or new.
constexpr int64_t max_abs_ms = 4'000'000'000'000;

time_point from_ms(int64_t ms) {
  return time_point{std::chrono::duration_cast<time_point::duration>(
    std::chrono::milliseconds{ms})};
}

} // namespace

std::string encode_stored(const stored_response& s) {
  std::string out{magic};
  out.push_back(s.invalidated ? 1 : 0);
  put_u32(out, static_cast<uint32_t>(s.status));
  put_i64(out, to_ms(s.request_time));
  put_i64(out, to_ms(s.response_time));
  put_str(out, s.key);
  put_u32(out, static_cast<uint32_t>(s.headers.size()));
  for (auto& [k, v] : s.headers) {
    put_str(out, k);
    put_str(out, v);
  }
  put_u32(out, static_cast<uint32_t>(s.vary_values.size()));
  for (auto& [k, v] : s.vary_values) {
    put_str(out, k);
    put_str(out, v);
  }
  put_u32(out, static_cast<uint32_t>(s.surrogate_keys.size()));
  for (auto& k : s.surrogate_keys)
    put_str(out, k);
  put_str(out, s.body ? *s.body : std::string{});
  return out;
}

std::shared_ptr<const stored_response> decode_stored(std::string_view bytes,
                                                     const config& cfg) {
  reader r{bytes};
  std::string_view m;
  if (!r.take(magic.size(), m) || m != magic)
    return nullptr;
  auto s = std::make_shared<stored_response>();
  auto flags = r.le(1);
  s->invalidated = (flags & 1) != 0;
  auto status = r.u32();
  auto request_ms = r.i64();
  auto response_ms = r.i64();
  if (request_ms > max_abs_ms || request_ms < -max_abs_ms
      || response_ms > max_abs_ms || response_ms < -max_abs_ms)
    return nullptr;
  s->request_time = from_ms(request_ms);
  s->response_time = from_ms(response_ms);
  s->key = r.str(max_key_bytes);
  auto n_headers = r.u32();
  size_t header_bytes = 0;
  if (flags > 1 || status < 200 || status > 999 || n_headers > max_headers)
    return nullptr;
  s->status = static_cast<int>(status);
  for (uint32_t i = 0; i < n_headers && r.ok; ++i) {
    auto k = r.str(cfg.limits.max_field_bytes);
    auto v = r.str(cfg.limits.max_field_bytes);
    header_bytes += k.size() + v.size();
    if (k.empty() || header_bytes > cfg.max_object_bytes)
      return nullptr;
    s->headers.emplace_back(std::move(k), std::move(v));
  }
  auto n_vary = r.u32();
  if (n_vary > cfg.limits.max_list_members)
    return nullptr;
  for (uint32_t i = 0; i < n_vary && r.ok; ++i) {
    auto k = r.str(cfg.limits.max_member_bytes);
    auto v = r.str(cfg.limits.max_field_bytes);
    s->vary_values.emplace_back(std::move(k), std::move(v));
  }
  auto n_keys = r.u32();
  if (n_keys > cfg.max_surrogate_keys)
    return nullptr;
  for (uint32_t i = 0; i < n_keys && r.ok; ++i)
    s->surrogate_keys.push_back(r.str(cfg.limits.max_member_bytes));
  auto body = r.str(cfg.max_object_bytes);
  if (!r.ok || !r.in.empty() || s->key.empty())
    return nullptr;
  s->body = std::make_shared<const std::string>(std::move(body));
  return s;
}

} // namespace troupe::edge::cache
