// Lists, hashes, sets and sorted sets: enough for redis-benchmark's default
// suite and common use (docs/cache.md lists them). As Redis 7.0 t_list.c,
// t_hash.c, t_set.c, t_zset.c; an aggregate left empty is deleted.
#include "actors/cache/engine.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace troupe::cache {

namespace {

uint64_t cost(std::string_view s) {
  return element_overhead + s.size();
}

// The entry of type `t` at the key, created if missing; null on WRONGTYPE.
entry* writable(command_ctx& c, shard& s, vtype t) {
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), t, wrong, access::write);
  if (wrong)
    return nullptr;
  return e ? e : s.create(c.arg(1), t);
}

// Deletes an emptied aggregate, or recharges it.
void settle(shard& s, entry* e, bool empty) {
  if (empty)
    s.erase(e);
  else
    s.charge(e);
}

// Redis's index range normalisation for LRANGE/ZRANGE: [start, end] in
// [0, len), or start > end for an empty range.
bool normalize_range(int64_t& start, int64_t& end, int64_t len) {
  if (start < 0)
    start += len;
  if (end < 0)
    end += len;
  if (start < 0)
    start = 0;
  if (start > end || start >= len)
    return false;
  if (end >= len)
    end = len - 1;
  return true;
}

// -- lists ----------------------------------------------------------------------

void push_generic(command_ctx& c, bool left, bool only_existing) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::list, wrong, access::write);
  if (wrong)
    return;
  if (!e && only_existing) {
    c.out.integer(0);
    return;
  }
  if (!e)
    e = s.create(c.arg(1), vtype::list);
  auto& l = e->as_list();
  for (size_t i = 2; i < c.argc(); ++i) {
    if (left)
      l.emplace_front(c.arg(i));
    else
      l.emplace_back(c.arg(i));
    e->payload_bytes += cost(c.arg(i));
  }
  s.charge(e);
  c.out.integer(static_cast<int64_t>(l.size()));
}

void lpush_cmd(command_ctx& c) { push_generic(c, true, false); }
void rpush_cmd(command_ctx& c) { push_generic(c, false, false); }
void lpushx_cmd(command_ctx& c) { push_generic(c, true, true); }
void rpushx_cmd(command_ctx& c) { push_generic(c, false, true); }

bool parse_count(command_ctx& c, size_t i, int64_t& count) {
  if (!parse_int(c.arg(i), count) || count < 0) {
    c.out.error("ERR value is out of range, must be positive");
    return false;
  }
  return true;
}

void pop_generic(command_ctx& c, bool left) {
  if (c.argc() > 3) {
    c.out.error(arity_error(left ? "lpop" : "rpop"));
    return;
  }
  bool has_count = c.argc() == 3;
  int64_t count = 1;
  if (has_count && !parse_count(c, 2, count))
    return;
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::list, wrong, access::write);
  if (wrong)
    return;
  if (!e) {
    has_count ? c.out.null_array() : c.out.null();
    return;
  }
  auto& l = e->as_list();
  auto n = std::min<uint64_t>(static_cast<uint64_t>(count), l.size());
  if (has_count)
    c.out.array(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto& v = left ? l.front() : l.back();
    c.out.bulk(v);
    e->payload_bytes -= cost(v);
    left ? l.pop_front() : l.pop_back();
  }
  settle(s, e, l.empty());
}

void lpop_cmd(command_ctx& c) { pop_generic(c, true); }
void rpop_cmd(command_ctx& c) { pop_generic(c, false); }

void llen_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::list, wrong);
  if (!wrong)
    c.out.integer(e ? static_cast<int64_t>(e->as_list().size()) : 0);
}

void lrange_cmd(command_ctx& c) {
  int64_t start = 0, end = 0;
  if (!parse_int(c.arg(2), start) || !parse_int(c.arg(3), end)) {
    c.out.error(err::not_integer);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::list, wrong);
  if (wrong)
    return;
  if (!e || !normalize_range(start, end, static_cast<int64_t>(e->as_list().size()))) {
    c.out.array(0);
    return;
  }
  auto& l = e->as_list();
  c.out.array(static_cast<size_t>(end - start + 1));
  for (auto i = start; i <= end; ++i)
    c.out.bulk(l[static_cast<size_t>(i)]);
}

void lindex_cmd(command_ctx& c) {
  int64_t index = 0;
  if (!parse_int(c.arg(2), index)) {
    c.out.error(err::not_integer);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::list, wrong);
  if (wrong)
    return;
  auto len = e ? static_cast<int64_t>(e->as_list().size()) : 0;
  if (index < 0)
    index += len;
  if (!e || index < 0 || index >= len)
    c.out.null();
  else
    c.out.bulk(e->as_list()[static_cast<size_t>(index)]);
}

// -- hashes ----------------------------------------------------------------------

void hset_generic(command_ctx& c, bool reply_ok, const char* name) {
  if (c.argc() % 2 != 0) {
    c.out.error(arity_error(name));
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = writable(c, s, vtype::hash);
  if (!e)
    return;
  auto& h = e->as_hash();
  int64_t created = 0;
  for (size_t i = 2; i + 1 < c.argc(); i += 2) {
    auto [it, fresh] = h.try_emplace(std::string{c.arg(i)});
    if (fresh) {
      ++created;
      e->payload_bytes += cost(c.arg(i));
    } else {
      e->payload_bytes -= it->second.size();
    }
    it->second.assign(c.arg(i + 1));
    e->payload_bytes += it->second.size();
  }
  s.charge(e);
  reply_ok ? c.out.ok() : c.out.integer(created);
}

void hset_cmd(command_ctx& c) { hset_generic(c, false, "hset"); }
void hmset_cmd(command_ctx& c) { hset_generic(c, true, "hmset"); }

void hsetnx_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = writable(c, s, vtype::hash);
  if (!e)
    return;
  auto [it, fresh] = e->as_hash().try_emplace(std::string{c.arg(2)}, c.arg(3));
  if (fresh)
    e->payload_bytes += cost(c.arg(2)) + c.arg(3).size();
  s.charge(e);
  c.out.integer(fresh ? 1 : 0);
}

// A read-only hash lookup; null when missing or WRONGTYPE (then replied).
entry* read_hash(command_ctx& c, shard& s, bool& wrong) {
  return find_typed(c, s, c.arg(1), vtype::hash, wrong);
}

void hget_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (wrong)
    return;
  if (!e) {
    c.out.null();
    return;
  }
  auto it = e->as_hash().find(std::string{c.arg(2)});
  it == e->as_hash().end() ? c.out.null() : c.out.bulk(it->second);
}

void hmget_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (wrong)
    return;
  c.out.array(c.argc() - 2);
  for (size_t i = 2; i < c.argc(); ++i) {
    auto it = e ? e->as_hash().find(std::string{c.arg(i)}) : hash_value::iterator{};
    if (e && it != e->as_hash().end())
      c.out.bulk(it->second);
    else
      c.out.null();
  }
}

void hdel_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::hash, wrong, access::write);
  if (wrong)
    return;
  int64_t n = 0;
  for (size_t i = 2; e && i < c.argc(); ++i) {
    auto it = e->as_hash().find(std::string{c.arg(i)});
    if (it == e->as_hash().end())
      continue;
    e->payload_bytes -= cost(it->first) + it->second.size();
    e->as_hash().erase(it);
    ++n;
  }
  if (e)
    settle(s, e, e->as_hash().empty());
  c.out.integer(n);
}

void hlen_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (!wrong)
    c.out.integer(e ? static_cast<int64_t>(e->as_hash().size()) : 0);
}

void hexists_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (!wrong)
    c.out.integer(e && e->as_hash().count(std::string{c.arg(2)}) ? 1 : 0);
}

void hstrlen_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (wrong)
    return;
  auto it = e ? e->as_hash().find(std::string{c.arg(2)}) : hash_value::iterator{};
  c.out.integer(e && it != e->as_hash().end() ? static_cast<int64_t>(it->second.size()) : 0);
}

// what: 0 all (map), 1 keys, 2 values
void hgetall_generic(command_ctx& c, int what) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_hash(c, s, wrong);
  if (wrong)
    return;
  size_t n = e ? e->as_hash().size() : 0;
  what == 0 ? c.out.map(n) : c.out.array(n);
  if (!e)
    return;
  for (auto& [k, v] : e->as_hash()) {
    if (what != 2)
      c.out.bulk(k);
    if (what != 1)
      c.out.bulk(v);
  }
}

void hgetall_cmd(command_ctx& c) { hgetall_generic(c, 0); }
void hkeys_cmd(command_ctx& c) { hgetall_generic(c, 1); }
void hvals_cmd(command_ctx& c) { hgetall_generic(c, 2); }

void hincrby_cmd(command_ctx& c) {
  int64_t by = 0, v = 0;
  if (!parse_int(c.arg(3), by)) {
    c.out.error(err::not_integer);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = writable(c, s, vtype::hash);
  if (!e)
    return;
  auto [it, fresh] = e->as_hash().try_emplace(std::string{c.arg(2)}, "0");
  if (!parse_int(it->second, v)) {
    c.out.error("ERR hash value is not an integer");
    return;
  }
  if ((by < 0 && v < 0 && by < INT64_MIN - v) || (by > 0 && v > 0 && by > INT64_MAX - v)) {
    if (fresh)
      e->as_hash().erase(it);
    settle(s, e, e->as_hash().empty());
    c.out.error(err::overflow);
    return;
  }
  if (fresh)
    e->payload_bytes += cost(c.arg(2));
  e->payload_bytes -= it->second.size();
  it->second = std::to_string(v + by);
  e->payload_bytes += it->second.size();
  s.charge(e);
  c.out.integer(v + by);
}

// -- sets -------------------------------------------------------------------------

void sadd_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = writable(c, s, vtype::set);
  if (!e)
    return;
  int64_t n = 0;
  for (size_t i = 2; i < c.argc(); ++i)
    if (e->as_set().emplace(c.arg(i)).second) {
      ++n;
      e->payload_bytes += cost(c.arg(i));
    }
  s.charge(e);
  c.out.integer(n);
}

void srem_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::set, wrong, access::write);
  if (wrong)
    return;
  int64_t n = 0;
  for (size_t i = 2; e && i < c.argc(); ++i)
    if (e->as_set().erase(std::string{c.arg(i)})) {
      ++n;
      e->payload_bytes -= cost(c.arg(i));
    }
  if (e)
    settle(s, e, e->as_set().empty());
  c.out.integer(n);
}

void scard_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::set, wrong);
  if (!wrong)
    c.out.integer(e ? static_cast<int64_t>(e->as_set().size()) : 0);
}

void sismember_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::set, wrong);
  if (!wrong)
    c.out.integer(e && e->as_set().count(std::string{c.arg(2)}) ? 1 : 0);
}

void smembers_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::set, wrong);
  if (wrong)
    return;
  c.out.set(e ? e->as_set().size() : 0);
  if (e)
    for (auto& m : e->as_set())
      c.out.bulk(m);
}

// A uniformly chosen bucket, then the first member in it; good enough for
// SPOP's "random" and O(1) on average.
set_value::iterator random_member(set_value& set, uint64_t seed) {
  auto buckets = set.bucket_count();
  for (size_t tries = 0; tries < 64; ++tries) {
    auto b = (seed + tries * 0x9e3779b97f4a7c15ULL) % buckets;
    if (set.bucket_size(b) > 0)
      return set.find(*set.begin(b));
  }
  return set.begin();
}

void spop_cmd(command_ctx& c) {
  if (c.argc() > 3) {
    c.out.error(err::syntax);
    return;
  }
  bool has_count = c.argc() == 3;
  int64_t count = 1;
  if (has_count && !parse_count(c, 2, count))
    return;
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::set, wrong, access::write);
  if (wrong)
    return;
  if (!e) {
    has_count ? c.out.set(0) : c.out.null();
    return;
  }
  auto& set = e->as_set();
  auto n = std::min<uint64_t>(static_cast<uint64_t>(count), set.size());
  if (has_count)
    c.out.set(n);
  static thread_local uint64_t seed = 88172645463325252ULL;
  for (uint64_t i = 0; i < n; ++i) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    auto it = random_member(set, seed);
    c.out.bulk(*it);
    e->payload_bytes -= cost(*it);
    set.erase(it);
  }
  settle(s, e, set.empty());
}

void add(command_table& t, std::string name, int arity, std::string flags, int first,
         int last, int step, command_handler fn) {
  t[name] = command_def{name, arity, std::move(flags), first, last, step, fn};
}

} // namespace

void register_zset_commands(command_table& t);

void register_type_commands(command_table& t) {
  add(t, "lpush", -3, "write,denyoom,fast", 1, 1, 1, lpush_cmd);
  add(t, "rpush", -3, "write,denyoom,fast", 1, 1, 1, rpush_cmd);
  add(t, "lpushx", -3, "write,denyoom,fast", 1, 1, 1, lpushx_cmd);
  add(t, "rpushx", -3, "write,denyoom,fast", 1, 1, 1, rpushx_cmd);
  add(t, "lpop", -2, "write,fast", 1, 1, 1, lpop_cmd);
  add(t, "rpop", -2, "write,fast", 1, 1, 1, rpop_cmd);
  add(t, "llen", 2, "readonly,fast", 1, 1, 1, llen_cmd);
  add(t, "lrange", 4, "readonly", 1, 1, 1, lrange_cmd);
  add(t, "lindex", 3, "readonly", 1, 1, 1, lindex_cmd);
  add(t, "hset", -4, "write,denyoom,fast", 1, 1, 1, hset_cmd);
  add(t, "hmset", -4, "write,denyoom,fast", 1, 1, 1, hmset_cmd);
  add(t, "hsetnx", 4, "write,denyoom,fast", 1, 1, 1, hsetnx_cmd);
  add(t, "hget", 3, "readonly,fast", 1, 1, 1, hget_cmd);
  add(t, "hmget", -3, "readonly,fast", 1, 1, 1, hmget_cmd);
  add(t, "hdel", -3, "write,fast", 1, 1, 1, hdel_cmd);
  add(t, "hlen", 2, "readonly,fast", 1, 1, 1, hlen_cmd);
  add(t, "hexists", 3, "readonly,fast", 1, 1, 1, hexists_cmd);
  add(t, "hstrlen", 3, "readonly,fast", 1, 1, 1, hstrlen_cmd);
  add(t, "hgetall", 2, "readonly", 1, 1, 1, hgetall_cmd);
  add(t, "hkeys", 2, "readonly", 1, 1, 1, hkeys_cmd);
  add(t, "hvals", 2, "readonly", 1, 1, 1, hvals_cmd);
  add(t, "hincrby", 4, "write,denyoom,fast", 1, 1, 1, hincrby_cmd);
  add(t, "sadd", -3, "write,denyoom,fast", 1, 1, 1, sadd_cmd);
  add(t, "srem", -3, "write,fast", 1, 1, 1, srem_cmd);
  add(t, "scard", 2, "readonly,fast", 1, 1, 1, scard_cmd);
  add(t, "sismember", 3, "readonly,fast", 1, 1, 1, sismember_cmd);
  add(t, "smembers", 2, "readonly", 1, 1, 1, smembers_cmd);
  add(t, "spop", -2, "write,fast", 1, 1, 1, spop_cmd);
  register_zset_commands(t);
}

} // namespace troupe::cache
