#include "actors/cache/engine.hpp"

#include "actors/cache/slot.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace troupe::cache {

// -- helpers shared by the command files --------------------------------------

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  if (s.size() > 1 && s[0] == '0')
    return false;
  if (s.size() >= 2 && s[0] == '-' && s[1] == '0')
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool parse_long_double(std::string_view s, long double& out) {
  if (s.empty() || s.size() > 5000 || std::isspace(static_cast<unsigned char>(s[0])))
    return false;
  std::string tmp{s};
  char* end = nullptr;
  errno = 0;
  out = std::strtold(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size() || std::isnan(out))
    return false;
  // As Redis's string2ld: out-of-range values (ERANGE) are rejected;
  // "inf" itself parses (the command then refuses an infinite result).
  return errno != ERANGE;
}

bool parse_double(std::string_view s, double& out) {
  long double v = 0;
  if (!parse_long_double(s, v))
    return false;
  out = static_cast<double>(v);
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

namespace {

char fold(char c, bool nocase) {
  return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// One bracket expression at p[0] == '['; advances p past it.
bool match_bracket(std::string_view& p, char c, bool nocase) {
  p.remove_prefix(1);
  bool negate = !p.empty() && p[0] == '^';
  if (negate)
    p.remove_prefix(1);
  bool match = false;
  while (!p.empty() && p[0] != ']') {
    if (p[0] == '\\' && p.size() >= 2) {
      p.remove_prefix(1);
      match |= fold(p[0], nocase) == fold(c, nocase);
    } else if (p.size() >= 3 && p[1] == '-') {
      char lo = fold(p[0], nocase), hi = fold(p[2], nocase);
      if (lo > hi)
        std::swap(lo, hi);
      char x = fold(c, nocase);
      match |= x >= lo && x <= hi;
      p.remove_prefix(2);
    } else {
      match |= fold(p[0], nocase) == fold(c, nocase);
    }
    p.remove_prefix(1);
  }
  if (!p.empty())
    p.remove_prefix(1); // ']'
  return negate ? !match : match;
}

bool glob(std::string_view p, std::string_view s, bool nocase, int depth) {
  if (depth > 1000)
    return false; // Redis bounds the recursion too
  while (!p.empty()) {
    switch (p[0]) {
      case '*':
        while (p.size() > 1 && p[1] == '*')
          p.remove_prefix(1);
        if (p.size() == 1)
          return true;
        for (size_t i = 0; i <= s.size(); ++i)
          if (glob(p.substr(1), s.substr(i), nocase, depth + 1))
            return true;
        return false;
      case '?':
        if (s.empty())
          return false;
        s.remove_prefix(1);
        p.remove_prefix(1);
        break;
      case '[':
        if (s.empty() || !match_bracket(p, s[0], nocase))
          return false;
        s.remove_prefix(1);
        break;
      case '\\':
        if (p.size() >= 2)
          p.remove_prefix(1);
        [[fallthrough]];
      default:
        if (s.empty() || fold(p[0], nocase) != fold(s[0], nocase))
          return false;
        s.remove_prefix(1);
        p.remove_prefix(1);
    }
  }
  return s.empty();
}

std::string unknown_command_error(std::span<const std::string_view> args) {
  std::string rest;
  for (size_t i = 1; i < args.size() && rest.size() < 128; ++i) {
    rest += "'";
    rest.append(args[i].substr(0, 128 - rest.size()));
    rest += "' ";
  }
  return "ERR unknown command '" + std::string{args[0].substr(0, 128)}
         + "', with args beginning with: " + rest;
}

} // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool nocase) {
  return glob(pattern, text, nocase, 0);
}

std::string arity_error(std::string_view name) {
  return "ERR wrong number of arguments for '" + std::string{name} + "' command";
}

entry* find_typed(command_ctx& c, shard& s, std::string_view key, vtype t,
                  bool& wrong, access a) {
  wrong = false;
  auto* e = s.find(key, c.now_ms, a);
  if (e && e->type != t) {
    wrong = true;
    c.out.error(err::wrongtype);
    return nullptr;
  }
  return e;
}

// -- engine ---------------------------------------------------------------------

engine::engine(engine_config cfg, std::function<int64_t()> now_ms) :
  cfg_(std::move(cfg)), clock_(std::move(now_ms)) {
  if (!clock_)
    clock_ = [] {
      using namespace std::chrono;
      return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    };
  started_ms_ = clock_();
  for (auto& sh : shards_)
    sh.s.set_budget(cfg_.max_memory_bytes / shard_count);
  register_string_commands(table_);
  register_key_commands(table_);
  register_type_commands(table_);
  register_server_commands(table_);
  for (auto& [name, def] : table_)
    def.write = def.flags.find("write") != std::string::npos;
  if (cfg_.repl_backlog_bytes > 0)
    backlog_ = std::make_unique<repl_backlog>(cfg_.repl_backlog_bytes);
}

const command_def* engine::find_command(std::string_view name) const {
  char low[32];
  auto n = name.size();
  if (n >= sizeof(low))
    return nullptr;
  for (size_t i = 0; i < n; ++i)
    low[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  auto it = table_.find(std::string{low, n});
  return it == table_.end() ? nullptr : &it->second;
}

void engine::set_recording(bool on) {
  if (on && !backlog_)
    return;
  std::lock_guard guard{write_mtx_};
  for (auto& sh : shards_) {
    std::lock_guard shard_guard{sh.mtx};
    sh.s.set_evict_log(on ? &evicted_ : nullptr);
  }
  evicted_.clear();
  recording_.store(on, std::memory_order_release);
}

namespace {

// Writes whose effect depends on the clock of the node that ran them: the
// replica gets the absolute expiry after them (PEXPIREAT), as Redis
// propagates them.
bool relative_expiry(std::string_view name) {
  return name == "set" || name == "setex" || name == "psetex" || name == "expire"
         || name == "pexpire" || name == "getex";
}

} // namespace

void engine::record(const command_def& def, std::span<const std::string_view> args,
                    client_state& client, int64_t now_ms) {
  std::string cmd;
  if (def.name == "spop") {
    // Random members: send the set as it is now.
    encode_command(cmd, {"DEL", args[1]});
    auto [lock, s] = lock_key(args[1]);
    if (auto* e = s.find(args[1], now_ms, access::write))
      encode_entry(cmd, *e);
  } else {
    encode_command(cmd, args);
    if (relative_expiry(def.name)) {
      auto [lock, s] = lock_key(args[1]);
      auto* e = s.find(args[1], now_ms, access::write);
      if (e && e->expire_ms > 0) {
        auto at = std::to_string(e->expire_ms);
        encode_command(cmd, {"PEXPIREAT", args[1], at});
      }
    }
  }
  take_evicted(cmd);
  client.last_write = this;
  client.last_write_offset = backlog_->append(cmd);
  client.last_write_forwarded = false;
}

void engine::take_evicted(std::string& out) {
  for (auto& key : evicted_)
    encode_command(out, {"DEL", key});
  evicted_.clear();
}

void engine::apply(std::span<const std::string_view> args) {
  auto* def = find_command(args[0]);
  if (!def || !def->accepts(args.size()))
    return;
  client_state client;
  std::string sink;
  resp::reply_writer out{sink};
  command_ctx ctx{*this, client, out, args, clock_()};
  std::lock_guard guard{write_mtx_}; // as execute(): never beside set_recording()
  def->fn(ctx);
}

uint64_t engine::dump(std::string& out) {
  std::lock_guard guard{write_mtx_};
  encode_command(out, {"FLUSHALL"});
  auto now = clock_();
  for (size_t i = 0; i < shard_count; ++i) {
    auto [lock, s] = lock_shard(i);
    uint64_t cursor = 0;
    do {
      cursor = s.scan(cursor, now, [&](entry& e) { encode_entry(out, e); });
    } while (cursor != 0);
  }
  return backlog_ ? backlog_->end_offset() : 0;
}

void engine::clear() {
  std::lock_guard guard{write_mtx_};
  for (size_t i = 0; i < shard_count; ++i) {
    auto [lock, s] = lock_shard(i);
    s.clear();
  }
}

size_t engine::shard_of(std::string_view key) {
  return key_slot(key) % shard_count;
}

engine::locked engine::lock_key(std::string_view key) {
  return lock_shard(shard_of(key));
}

engine::locked engine::lock_shard(size_t i) {
  auto& sh = shards_[i];
  return {std::unique_lock<std::mutex>{sh.mtx}, sh.s};
}

void engine::execute(std::span<const std::string_view> args, client_state& client,
                     resp::reply_writer& out) {
  execute(find_command(args[0]), args, client, out);
}

void engine::execute(const command_def* def, std::span<const std::string_view> args,
                     client_state& client, resp::reply_writer& out) {
  counters_.total_commands.fetch_add(1, std::memory_order_relaxed);
  if (!def) {
    out.error(unknown_command_error(args));
    return;
  }
  if (!def->accepts(args.size())) {
    out.error(arity_error(def->name));
    return;
  }
  command_ctx ctx{*this, client, out, args, clock_()};
  // A shard's engine (one with a backlog) serialises every write, recorded
  // or not, so that a write never races set_recording() over the eviction
  // log; a standalone engine's writes meet only on the lock shards.
  if (!def->write || !backlog_) {
    def->fn(ctx);
    return;
  }
  std::lock_guard guard{write_mtx_};
  if (!recording()) {
    def->fn(ctx);
    return;
  }
  auto& buf = out.buffer();
  auto before = buf.size();
  def->fn(ctx);
  if (buf.size() > before && buf[before] == '-') {
    // A failed write is not recorded, but what it evicted is.
    std::string dels;
    take_evicted(dels);
    if (!dels.empty())
      backlog_->append(dels);
    return;
  }
  record(*def, args, client, ctx.now_ms);
}

size_t engine::active_expire(size_t i, int64_t budget_us) {
  using namespace std::chrono;
  auto start = steady_clock::now();
  size_t total = 0;
  while (true) {
    auto [lock, s] = lock_shard(i);
    if (s.volatile_count() == 0)
      return total;
    auto deleted = s.expire_sample(clock_(), 20);
    total += deleted;
    lock.unlock();
    if (deleted <= 5)
      return total;
    if (duration_cast<microseconds>(steady_clock::now() - start).count() > budget_us)
      return total;
  }
}

keyspace_totals engine::totals() {
  keyspace_totals t;
  for (size_t i = 0; i < shard_count; ++i) {
    auto [lock, s] = lock_shard(i);
    t.keys += s.size();
    t.expires += s.volatile_count();
    t.used_bytes += s.used_bytes();
    t.hits += s.stats().hits;
    t.misses += s.stats().misses;
    t.expired += s.stats().expired;
    t.evicted += s.stats().evicted;
  }
  return t;
}

void engine::reset_stats() {
  for (size_t i = 0; i < shard_count; ++i) {
    auto [lock, s] = lock_shard(i);
    s.reset_stats();
  }
  counters_.total_commands = 0;
  counters_.total_connections = 0;
  counters_.rejected_connections = 0;
}

} // namespace troupe::cache
