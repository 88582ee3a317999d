// Key commands: DEL, UNLINK, EXISTS, TOUCH, EXPIRE/PEXPIRE/EXPIREAT/
// PEXPIREAT (NX/XX/GT/LT), TTL/PTTL, EXPIRETIME/PEXPIRETIME, PERSIST, TYPE,
// SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB. As Redis 7.0 db.c and
// expire.c.
#include "actors/cache/engine.hpp"

#include <charconv>
#include <climits>

namespace troupe::cache {

namespace {

void del_cmd(command_ctx& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.argc(); ++i) {
    auto [lock, s] = c.eng.lock_key(c.arg(i));
    n += s.erase(c.arg(i), c.now_ms) ? 1 : 0;
  }
  c.out.integer(n);
}

void exists_cmd(command_ctx& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.argc(); ++i) {
    auto [lock, s] = c.eng.lock_key(c.arg(i));
    n += s.find(c.arg(i), c.now_ms, access::write) ? 1 : 0;
  }
  c.out.integer(n);
}

struct expire_flags {
  bool nx = false, xx = false, gt = false, lt = false;
};

bool parse_expire_flags(command_ctx& c, expire_flags& f) {
  for (size_t i = 3; i < c.argc(); ++i) {
    auto a = c.arg(i);
    if (iequals(a, "NX"))
      f.nx = true;
    else if (iequals(a, "XX"))
      f.xx = true;
    else if (iequals(a, "GT"))
      f.gt = true;
    else if (iequals(a, "LT"))
      f.lt = true;
    else {
      c.out.error("ERR Unsupported option " + std::string{a});
      return false;
    }
  }
  if (f.nx && (f.xx || f.gt || f.lt)) {
    c.out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if (f.gt && f.lt) {
    c.out.error("ERR GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

void expire_generic(command_ctx& c, bool seconds, bool absolute, const char* name) {
  expire_flags f;
  if (!parse_expire_flags(c, f))
    return;
  int64_t when = 0;
  if (!parse_int(c.arg(2), when)) {
    c.out.error(err::not_integer);
    return;
  }
  auto invalid = [&] {
    c.out.error(std::string{"ERR invalid expire time in '"} + name + "' command");
  };
  if (seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
      return invalid();
    when *= 1000;
  }
  if (!absolute) {
    if (when > LLONG_MAX - c.now_ms)
      return invalid();
    when += c.now_ms;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = s.find(c.arg(1), c.now_ms, access::write);
  if (!e) {
    c.out.integer(0);
    return;
  }
  int64_t current = e->expire_ms == 0 ? -1 : e->expire_ms;
  if ((f.nx && current != -1) || (f.xx && current == -1)
      || (f.gt && (current == -1 || when <= current))
      || (f.lt && current != -1 && when >= current)) {
    c.out.integer(0);
    return;
  }
  if (when <= c.now_ms)
    s.erase(e);
  else
    s.set_expire(e, when);
  c.out.integer(1);
}

void expire_cmd(command_ctx& c) {
  expire_generic(c, true, false, "expire");
}
void pexpire_cmd(command_ctx& c) {
  expire_generic(c, false, false, "pexpire");
}
void expireat_cmd(command_ctx& c) {
  expire_generic(c, true, true, "expireat");
}
void pexpireat_cmd(command_ctx& c) {
  expire_generic(c, false, true, "pexpireat");
}

// kind: 0 TTL, 1 PTTL, 2 EXPIRETIME, 3 PEXPIRETIME
void ttl_generic(command_ctx& c, int kind) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = s.find(c.arg(1), c.now_ms, access::write);
  if (!e) {
    c.out.integer(-2);
    return;
  }
  if (e->expire_ms == 0) {
    c.out.integer(-1);
    return;
  }
  auto left = std::max<int64_t>(0, e->expire_ms - c.now_ms);
  switch (kind) {
    case 0: c.out.integer((left + 500) / 1000); break;
    case 1: c.out.integer(left); break;
    case 2: c.out.integer(e->expire_ms / 1000); break;
    default: c.out.integer(e->expire_ms);
  }
}

void ttl_cmd(command_ctx& c) {
  ttl_generic(c, 0);
}
void pttl_cmd(command_ctx& c) {
  ttl_generic(c, 1);
}
void expiretime_cmd(command_ctx& c) {
  ttl_generic(c, 2);
}
void pexpiretime_cmd(command_ctx& c) {
  ttl_generic(c, 3);
}

void persist_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = s.find(c.arg(1), c.now_ms, access::write);
  if (!e || e->expire_ms == 0) {
    c.out.integer(0);
    return;
  }
  s.set_expire(e, 0);
  c.out.integer(1);
}

void type_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = s.find(c.arg(1), c.now_ms, access::write);
  c.out.simple(e ? type_name(e->type) : "none");
}

struct scan_options {
  int64_t count = 10;
  std::string_view match;
  bool has_match = false;
  std::string_view type;
  bool has_type = false;
};

bool parse_scan_options(command_ctx& c, size_t first, scan_options& o) {
  for (size_t i = first; i < c.argc(); i += 2) {
    auto a = c.arg(i);
    if (i + 1 >= c.argc()) {
      c.out.error(err::syntax);
      return false;
    }
    if (iequals(a, "COUNT")) {
      if (!parse_int(c.arg(i + 1), o.count)) {
        c.out.error(err::not_integer);
        return false;
      }
      if (o.count < 1) {
        c.out.error(err::syntax);
        return false;
      }
    } else if (iequals(a, "MATCH")) {
      o.match = c.arg(i + 1);
      o.has_match = !(o.match.size() == 1 && o.match[0] == '*');
    } else if (iequals(a, "TYPE")) {
      o.type = c.arg(i + 1);
      o.has_type = true;
    } else {
      c.out.error(err::syntax);
      return false;
    }
  }
  return true;
}

// The cursor: the shard's own cursor shifted left by 4, the shard in the
// low 4 bits (engine::shard_count == 16).
void scan_cmd(command_ctx& c) {
  uint64_t cursor = 0;
  auto text = c.arg(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cursor);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
    c.out.error("ERR invalid cursor");
    return;
  }
  scan_options o;
  if (!parse_scan_options(c, 2, o))
    return;
  std::vector<std::string> keys;
  size_t sh = cursor & (engine::shard_count - 1);
  uint64_t inner = cursor >> 4;
  auto budget = static_cast<int64_t>(std::min<int64_t>(o.count, INT64_MAX / 10) * 10);
  while (sh < engine::shard_count && static_cast<int64_t>(keys.size()) < o.count
         && budget-- > 0) {
    auto [lock, s] = c.eng.lock_shard(sh);
    inner = s.scan(inner, c.now_ms, [&](entry& e) {
      if (o.has_type && !iequals(o.type, type_name(e.type)))
        return;
      if (o.has_match && !glob_match(o.match, e.key))
        return;
      keys.push_back(e.key);
    });
    if (inner == 0)
      ++sh;
  }
  uint64_t next = sh >= engine::shard_count ? 0 : (inner << 4) | sh;
  c.out.array(2);
  c.out.bulk(std::to_string(next));
  c.out.array(keys.size());
  for (auto& k : keys)
    c.out.bulk(k);
}

void keys_cmd(command_ctx& c) {
  std::vector<std::string> keys;
  auto pattern = c.arg(1);
  bool all = pattern == "*";
  for (size_t sh = 0; sh < engine::shard_count; ++sh) {
    auto [lock, s] = c.eng.lock_shard(sh);
    uint64_t cur = 0;
    do {
      cur = s.scan(cur, c.now_ms, [&](entry& e) {
        if (all || glob_match(pattern, e.key))
          keys.push_back(e.key);
      });
    } while (cur != 0);
  }
  c.out.array(keys.size());
  for (auto& k : keys)
    c.out.bulk(k);
}

void randomkey_cmd(command_ctx& c) {
  auto start = static_cast<size_t>(c.now_ms) % engine::shard_count;
  for (size_t k = 0; k < engine::shard_count; ++k) {
    auto [lock, s] = c.eng.lock_shard((start + k) % engine::shard_count);
    if (auto* e = s.random_entry(c.now_ms)) {
      c.out.bulk(e->key);
      return;
    }
  }
  c.out.null();
}

void dbsize_cmd(command_ctx& c) {
  c.out.integer(static_cast<int64_t>(c.eng.totals().keys));
}

void flushall_cmd(command_ctx& c) {
  if (c.argc() > 2 || (c.argc() == 2 && !iequals(c.arg(1), "ASYNC") && !iequals(c.arg(1), "SYNC"))) {
    c.out.error(err::syntax);
    return;
  }
  for (size_t sh = 0; sh < engine::shard_count; ++sh) {
    auto [lock, s] = c.eng.lock_shard(sh);
    s.clear();
  }
  c.out.ok();
}

void add(command_table& t, std::string name, int arity, std::string flags, int first,
         int last, int step, command_handler fn) {
  t[name] = command_def{name, arity, std::move(flags), first, last, step, fn};
}

} // namespace

void register_key_commands(command_table& t) {
  add(t, "del", -2, "write", 1, -1, 1, del_cmd);
  add(t, "unlink", -2, "write,fast", 1, -1, 1, del_cmd);
  add(t, "exists", -2, "readonly,fast", 1, -1, 1, exists_cmd);
  add(t, "touch", -2, "readonly,fast", 1, -1, 1, exists_cmd);
  add(t, "expire", -3, "write,fast", 1, 1, 1, expire_cmd);
  add(t, "pexpire", -3, "write,fast", 1, 1, 1, pexpire_cmd);
  add(t, "expireat", -3, "write,fast", 1, 1, 1, expireat_cmd);
  add(t, "pexpireat", -3, "write,fast", 1, 1, 1, pexpireat_cmd);
  add(t, "ttl", 2, "readonly,fast", 1, 1, 1, ttl_cmd);
  add(t, "pttl", 2, "readonly,fast", 1, 1, 1, pttl_cmd);
  add(t, "expiretime", 2, "readonly,fast", 1, 1, 1, expiretime_cmd);
  add(t, "pexpiretime", 2, "readonly,fast", 1, 1, 1, pexpiretime_cmd);
  add(t, "persist", 2, "write,fast", 1, 1, 1, persist_cmd);
  add(t, "type", 2, "readonly,fast", 1, 1, 1, type_cmd);
  add(t, "scan", -2, "readonly", 0, 0, 0, scan_cmd);
  add(t, "keys", 2, "readonly", 0, 0, 0, keys_cmd);
  add(t, "randomkey", 1, "readonly", 0, 0, 0, randomkey_cmd);
  add(t, "dbsize", 1, "readonly,fast", 0, 0, 0, dbsize_cmd);
  add(t, "flushall", -1, "write", 0, 0, 0, flushall_cmd);
  add(t, "flushdb", -1, "write", 0, 0, 0, flushall_cmd);
}

} // namespace troupe::cache
