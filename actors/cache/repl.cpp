#include "actors/cache/repl.hpp"

#include "actors/cache/store.hpp"
#include "net/resp.hpp"

#include <algorithm>
#include <random>

namespace troupe::cache {

namespace {

constexpr size_t block_bytes = 64 * 1024;

} // namespace

repl_backlog::repl_backlog(uint64_t limit_bytes) :
  limit_(std::max<uint64_t>(limit_bytes, block_bytes)), replid_(random_replid()) {}

void repl_backlog::restart(std::string replid) {
  std::lock_guard guard{mtx_};
  replid_ = std::move(replid);
  blocks_.clear();
  held_ = 0;
  start_ = end_;
  acks_.clear();
}

std::string repl_backlog::replid() const {
  std::lock_guard guard{mtx_};
  return replid_;
}

uint64_t repl_backlog::append(std::string_view bytes) {
  std::function<void()> wake;
  uint64_t end;
  {
    std::lock_guard guard{mtx_};
    while (!bytes.empty()) {
      if (blocks_.empty() || blocks_.back().size() >= block_bytes) {
        blocks_.emplace_back();
        blocks_.back().reserve(block_bytes);
      }
      auto& b = blocks_.back();
      auto n = std::min(bytes.size(), block_bytes - b.size());
      b.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      end_ += n;
      held_ += n;
    }
    while (held_ > limit_ && blocks_.size() > 1) {
      held_ -= blocks_.front().size();
      start_ += blocks_.front().size();
      blocks_.pop_front();
    }
    end = end_;
    if (armed_.exchange(false, std::memory_order_acq_rel))
      wake = waker_;
  }
  if (wake)
    wake();
  return end;
}

uint64_t repl_backlog::end_offset() const {
  std::lock_guard guard{mtx_};
  return end_;
}

uint64_t repl_backlog::start_offset() const {
  std::lock_guard guard{mtx_};
  return start_;
}

bool repl_backlog::read(uint64_t from, size_t max, std::string& out) const {
  std::lock_guard guard{mtx_};
  if (from < start_ || from > end_)
    return false;
  auto pos = start_;
  for (auto& b : blocks_) {
    if (out.size() >= max)
      break;
    auto b_end = pos + b.size();
    if (from < b_end) {
      auto skip = from > pos ? from - pos : 0;
      auto n = std::min<uint64_t>(b.size() - skip, max - out.size());
      out.append(b, skip, n);
      from += n;
    }
    pos = b_end;
  }
  return true;
}

void repl_backlog::ack(const std::string& replica, uint64_t offset, int64_t now_ms) {
  std::lock_guard guard{mtx_};
  auto& a = acks_[replica];
  a.offset = std::max(a.offset, std::min(offset, end_));
  a.seen_ms = now_ms;
}

size_t repl_backlog::acked(uint64_t offset, int64_t now_ms, int64_t fresh_ms) const {
  std::lock_guard guard{mtx_};
  size_t n = 0;
  for (auto& [name, a] : acks_)
    if (a.offset >= offset && now_ms - a.seen_ms <= fresh_ms)
      ++n;
  return n;
}

std::map<std::string, uint64_t> repl_backlog::replica_offsets() const {
  std::lock_guard guard{mtx_};
  std::map<std::string, uint64_t> out;
  for (auto& [name, a] : acks_)
    out[name] = a.offset;
  return out;
}

bool repl_backlog::streaming(const std::string& replica, int64_t now_ms,
                             int64_t fresh_ms) const {
  std::lock_guard guard{mtx_};
  auto i = acks_.find(replica);
  return i != acks_.end() && now_ms - i->second.seen_ms <= fresh_ms;
}

void repl_backlog::forget(const std::string& replica) {
  std::lock_guard guard{mtx_};
  acks_.erase(replica);
}

void repl_backlog::set_waker(std::function<void()> fn) {
  std::lock_guard guard{mtx_};
  waker_ = std::move(fn);
  if (!waker_)
    armed_ = false;
}

// -- encoding ---------------------------------------------------------------------

void encode_command(std::string& out, std::span<const std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (auto a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a);
    out += "\r\n";
  }
}

void encode_command(std::string& out, std::initializer_list<std::string_view> args) {
  encode_command(out, std::span<const std::string_view>{args.begin(), args.size()});
}

namespace {

// Containers go out in commands of at most this many elements, so that no
// single command of a dump is unbounded.
constexpr size_t chunk = 512;

template <class Range, class Add>
void encode_chunks(std::string& out, std::string_view cmd, std::string_view key,
                   const Range& items, Add add) {
  std::vector<std::string> owned;
  std::vector<std::string_view> args;
  auto flush = [&] {
    if (args.size() > 2)
      encode_command(out, args);
    args.assign({cmd, key});
    owned.clear();
  };
  flush();
  owned.reserve(chunk * 2);
  size_t n = 0;
  for (auto& item : items) {
    add(args, owned, item);
    if (++n % chunk == 0)
      flush();
  }
  flush();
}

} // namespace

void encode_entry(std::string& out, const entry& e) {
  switch (e.type) {
    case vtype::string:
      encode_command(out, {"SET", e.key, e.str});
      break;
    case vtype::list:
      encode_chunks(out, "RPUSH", e.key, std::get<list_value>(*e.obj),
                    [](auto& args, auto&, const std::string& v) { args.push_back(v); });
      break;
    case vtype::hash:
      encode_chunks(out, "HSET", e.key, std::get<hash_value>(*e.obj),
                    [](auto& args, auto&, const auto& kv) {
                      args.push_back(kv.first);
                      args.push_back(kv.second);
                    });
      break;
    case vtype::set:
      encode_chunks(out, "SADD", e.key, std::get<set_value>(*e.obj),
                    [](auto& args, auto&, const std::string& v) { args.push_back(v); });
      break;
    case vtype::zset:
      encode_chunks(out, "ZADD", e.key, std::get<zset_value>(*e.obj).scores,
                    [](auto& args, auto& owned, const auto& kv) {
                      owned.push_back(resp::format_double(kv.second));
                      args.push_back(owned.back());
                      args.push_back(kv.first);
                    });
      break;
  }
  if (e.expire_ms > 0) {
    auto at = std::to_string(e.expire_ms);
    encode_command(out, {"PEXPIREAT", e.key, at});
  }
}

std::string random_replid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char hex[] = "0123456789abcdef";
  std::string id(40, '0');
  for (auto& c : id)
    c = hex[rng() % 16];
  return id;
}

} // namespace troupe::cache
