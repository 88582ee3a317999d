#include "load.hpp"

#include <algorithm>
#include <cstdio>

namespace troupe::kvbench {

double load_result::per_second() const {
  return seconds > 0 ? static_cast<double>(ok) / seconds : 0;
}

double load_result::quantile_ms(double q) const {
  if (latencies_us.empty())
    return 0;
  auto sorted = latencies_us;
  auto rank = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(rank),
                   sorted.end());
  return sorted[rank] / 1000.0;
}

key_source::key_source(const load_shape& shape, uint32_t client) :
  key_space_(std::max(1u, shape.key_space)), value_bytes_(shape.value_bytes),
  client_(client),
  // splitmix64-style seeding: distinct clients start at distinct states.
  state_(shape.seed * 0x9E3779B97F4A7C15ull + client + 1) {}

std::string key_source::next_key() {
  // xorshift64*: cheap, deterministic, good enough to spread keys.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  auto x = state_ * 0x2545F4914F6CDD1Dull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench/%03u",
                static_cast<unsigned>(x % key_space_));
  return buf;
}

std::string key_source::value_for(uint64_t op) const {
  char head[48];
  auto n = std::snprintf(head, sizeof head, "c%u-op%llu-", client_,
                         static_cast<unsigned long long>(op));
  std::string value(value_bytes_, 'v');
  std::copy_n(head, std::min<size_t>(static_cast<size_t>(n), value.size()),
              value.begin());
  return value;
}

void merge(load_result& into, load_result&& part) {
  into.ok += part.ok;
  into.errors += part.errors;
  into.ok_total += part.ok_total;
  if (part.first_revision > 0
      && (into.first_revision == 0
          || part.first_revision < into.first_revision))
    into.first_revision = part.first_revision;
  into.last_revision = std::max(into.last_revision, part.last_revision);
  if (into.first_error.empty())
    into.first_error = std::move(part.first_error);
  into.latencies_us.insert(into.latencies_us.end(), part.latencies_us.begin(),
                           part.latencies_us.end());
}

std::string base64(const std::string& bytes) {
  static constexpr char digits[]
      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    auto v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0})
      out += digits[(v >> shift) & 63];
  }
  auto rest = bytes.size() - i;
  if (rest > 0) {
    auto v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += rest == 2 ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void record_ok(load_result& r, const window& w, bench_clock::time_point start,
               bench_clock::time_point done, int64_t revision) {
  ++r.ok_total;
  if (r.first_revision == 0 || revision < r.first_revision)
    r.first_revision = revision;
  r.last_revision = std::max(r.last_revision, revision);
  if (!w.contains(start, done))
    return;
  ++r.ok;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - start);
  r.latencies_us.push_back(static_cast<uint32_t>(
      std::min<int64_t>(us.count(), int64_t{UINT32_MAX})));
}

void record_error(load_result& r, const std::string& what) {
  ++r.errors;
  if (r.first_error.empty())
    r.first_error = what;
}

} // namespace troupe::kvbench
