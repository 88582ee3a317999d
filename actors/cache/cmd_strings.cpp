// String commands: SET and friends, GET, GETDEL, GETEX, MGET, MSET, MSETNX,
// SETNX, SETEX, PSETEX, INCR/DECR/INCRBY/DECRBY/INCRBYFLOAT, APPEND, STRLEN,
// GETRANGE, SETRANGE. Semantics and error texts as Redis 7.0 t_string.c.
#include "actors/cache/engine.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace troupe::cache {

namespace {

enum class expire_unit { seconds, milliseconds };

// EX/PX/EXAT/PXAT argument to an absolute time in ms, or an error reply.
bool expire_at(command_ctx& c, std::string_view text, expire_unit unit, bool absolute,
               const char* cmd, int64_t& at_ms) {
  int64_t v = 0;
  if (!parse_int(text, v)) {
    c.out.error(err::not_integer);
    return false;
  }
  auto invalid = [&] {
    c.out.error(std::string{"ERR invalid expire time in '"} + cmd + "' command");
    return false;
  };
  if (v <= 0 || (unit == expire_unit::seconds && v > LLONG_MAX / 1000))
    return invalid();
  if (unit == expire_unit::seconds)
    v *= 1000;
  if (!absolute) {
    if (v > LLONG_MAX - c.now_ms)
      return invalid();
    v += c.now_ms;
  }
  at_ms = v;
  return true;
}

// Writes a string value into `key`, replacing any type. Returns the entry.
entry* store_string(shard& s, entry* e, std::string_view key, std::string_view value) {
  if (e && e->type != vtype::string) {
    s.erase(e);
    e = nullptr;
  }
  if (!e)
    e = s.create(key, vtype::string);
  e->str.assign(value);
  return e;
}

struct set_options {
  bool nx = false, xx = false, get = false, keepttl = false;
  int64_t at_ms = 0;
  bool has_expire = false;
};

bool parse_set_options(command_ctx& c, set_options& o) {
  for (size_t i = 3; i < c.argc(); ++i) {
    auto a = c.arg(i);
    bool has_next = i + 1 < c.argc();
    if (iequals(a, "NX") && !o.xx) {
      o.nx = true;
    } else if (iequals(a, "XX") && !o.nx) {
      o.xx = true;
    } else if (iequals(a, "GET")) {
      o.get = true;
    } else if (iequals(a, "KEEPTTL") && !o.has_expire) {
      o.keepttl = true;
    } else if ((iequals(a, "EX") || iequals(a, "PX") || iequals(a, "EXAT")
                || iequals(a, "PXAT"))
               && !o.keepttl && !o.has_expire && has_next) {
      auto unit = (a[0] == 'E' || a[0] == 'e') ? expire_unit::seconds
                                               : expire_unit::milliseconds;
      if (!expire_at(c, c.arg(++i), unit, a.size() == 4, "set", o.at_ms))
        return false;
      o.has_expire = true;
    } else {
      c.out.error(err::syntax);
      return false;
    }
  }
  return true;
}

void set_cmd(command_ctx& c) {
  set_options o;
  if (!parse_set_options(c, o))
    return;
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  auto* e = s.find(c.arg(1), c.now_ms, access::write);
  if (o.get && e && e->type != vtype::string) {
    c.out.error(err::wrongtype);
    return;
  }
  std::string old;
  bool had = e != nullptr;
  if (o.get && e)
    old = e->str;
  if ((o.nx && e) || (o.xx && !e)) {
    if (o.get && had)
      c.out.bulk(old);
    else
      c.out.null();
    return;
  }
  auto keep_at = e ? e->expire_ms : 0;
  e = store_string(s, e, c.arg(1), c.arg(2));
  s.set_expire(e, o.has_expire ? o.at_ms : (o.keepttl ? keep_at : 0));
  s.charge(e);
  if (!o.get)
    c.out.ok();
  else if (had)
    c.out.bulk(old);
  else
    c.out.null();
}

void plain_set(command_ctx& c, std::string_view key, std::string_view value, int64_t at_ms) {
  auto [lock, s] = c.eng.lock_key(key);
  auto* e = store_string(s, s.find(key, c.now_ms, access::write), key, value);
  s.set_expire(e, at_ms);
  s.charge(e);
}

void setnx_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  if (s.find(c.arg(1), c.now_ms, access::write)) {
    c.out.integer(0);
    return;
  }
  auto* e = store_string(s, nullptr, c.arg(1), c.arg(2));
  s.charge(e);
  c.out.integer(1);
}

void setex_generic(command_ctx& c, expire_unit unit, const char* name) {
  int64_t at = 0;
  if (!expire_at(c, c.arg(2), unit, false, name, at))
    return;
  plain_set(c, c.arg(1), c.arg(3), at);
  c.out.ok();
}

void setex_cmd(command_ctx& c) {
  setex_generic(c, expire_unit::seconds, "setex");
}

void psetex_cmd(command_ctx& c) {
  setex_generic(c, expire_unit::milliseconds, "psetex");
}

void get_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong);
  if (wrong)
    return;
  if (e)
    c.out.bulk(e->str);
  else
    c.out.null();
}

void getdel_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong);
  if (wrong)
    return;
  if (!e) {
    c.out.null();
    return;
  }
  c.out.bulk(e->str);
  s.erase(e);
}

void getex_cmd(command_ctx& c) {
  int64_t at = 0;
  bool has_expire = false, persist = false;
  for (size_t i = 2; i < c.argc(); ++i) {
    auto a = c.arg(i);
    bool next = i + 1 < c.argc();
    if (iequals(a, "PERSIST") && !has_expire && !persist) {
      persist = true;
    } else if ((iequals(a, "EX") || iequals(a, "PX") || iequals(a, "EXAT")
                || iequals(a, "PXAT"))
               && !has_expire && !persist && next) {
      auto unit = (a[0] == 'E' || a[0] == 'e') ? expire_unit::seconds
                                               : expire_unit::milliseconds;
      if (!expire_at(c, c.arg(++i), unit, a.size() == 4, "getex", at))
        return;
      has_expire = true;
    } else {
      c.out.error(err::syntax);
      return;
    }
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong);
  if (wrong)
    return;
  if (!e) {
    c.out.null();
    return;
  }
  c.out.bulk(e->str);
  if (has_expire && at <= c.now_ms)
    s.erase(e);
  else if (has_expire)
    s.set_expire(e, at);
  else if (persist)
    s.set_expire(e, 0);
}

void mget_cmd(command_ctx& c) {
  c.out.array(c.argc() - 1);
  for (size_t i = 1; i < c.argc(); ++i) {
    auto [lock, s] = c.eng.lock_key(c.arg(i));
    auto* e = s.find(c.arg(i), c.now_ms, access::read);
    if (e && e->type == vtype::string)
      c.out.bulk(e->str);
    else
      c.out.null();
  }
}

// MSET and MSETNX hold every shard they touch, in shard order, so that the
// whole command is atomic as in Redis.
struct multi_lock {
  std::vector<std::unique_lock<std::mutex>> locks;
  std::array<shard*, engine::shard_count> shards{};
};

multi_lock lock_keys(command_ctx& c, size_t first, size_t step) {
  std::array<bool, engine::shard_count> need{};
  for (size_t i = first; i < c.argc(); i += step)
    need[engine::shard_of(c.arg(i))] = true;
  multi_lock m;
  for (size_t i = 0; i < engine::shard_count; ++i) {
    if (!need[i])
      continue;
    auto l = c.eng.lock_shard(i);
    m.shards[i] = &l.s;
    m.locks.push_back(std::move(l.lock));
  }
  return m;
}

void mset_generic(command_ctx& c, bool nx) {
  if (c.argc() % 2 == 0) {
    c.out.error(arity_error(nx ? "msetnx" : "mset"));
    return;
  }
  auto m = lock_keys(c, 1, 2);
  if (nx) {
    for (size_t i = 1; i < c.argc(); i += 2)
      if (m.shards[engine::shard_of(c.arg(i))]->find(c.arg(i), c.now_ms, access::write)) {
        c.out.integer(0);
        return;
      }
  }
  for (size_t i = 1; i < c.argc(); i += 2) {
    auto& s = *m.shards[engine::shard_of(c.arg(i))];
    auto* e = store_string(s, s.find(c.arg(i), c.now_ms, access::write), c.arg(i),
                           c.arg(i + 1));
    s.set_expire(e, 0);
    s.charge(e);
  }
  if (nx)
    c.out.integer(1);
  else
    c.out.ok();
}

void mset_cmd(command_ctx& c) {
  mset_generic(c, false);
}

void msetnx_cmd(command_ctx& c) {
  mset_generic(c, true);
}

void incr_generic(command_ctx& c, int64_t by) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong, access::write);
  if (wrong)
    return;
  int64_t v = 0;
  if (e && !parse_int(e->str, v)) {
    c.out.error(err::not_integer);
    return;
  }
  if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
    c.out.error(err::overflow);
    return;
  }
  v += by;
  if (!e)
    e = s.create(c.arg(1), vtype::string);
  e->str = std::to_string(v);
  s.charge(e);
  c.out.integer(v);
}

void incr_cmd(command_ctx& c) {
  incr_generic(c, 1);
}

void decr_cmd(command_ctx& c) {
  incr_generic(c, -1);
}

void incrby_cmd(command_ctx& c) {
  int64_t by = 0;
  if (!parse_int(c.arg(2), by)) {
    c.out.error(err::not_integer);
    return;
  }
  incr_generic(c, by);
}

void decrby_cmd(command_ctx& c) {
  int64_t by = 0;
  if (!parse_int(c.arg(2), by)) {
    c.out.error(err::not_integer);
    return;
  }
  if (by == LLONG_MIN) {
    c.out.error("ERR decrement would overflow");
    return;
  }
  incr_generic(c, -by);
}

// Redis's ld2string(LD_STR_HUMAN): %.17Lf, trailing zeros and '.' removed.
std::string human_long_double(long double v) {
  char buf[5600];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  std::string s{buf, static_cast<size_t>(std::max(n, 0))};
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0')
      s.pop_back();
    if (!s.empty() && s.back() == '.')
      s.pop_back();
  }
  if (s == "-0")
    s = "0";
  return s;
}

void incrbyfloat_cmd(command_ctx& c) {
  long double by = 0, v = 0;
  if (!parse_long_double(c.arg(2), by)) {
    c.out.error(err::not_float);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong, access::write);
  if (wrong)
    return;
  if (e && !parse_long_double(e->str, v)) {
    c.out.error(err::not_float);
    return;
  }
  v += by;
  if (std::isnan(v) || std::isinf(v)) {
    c.out.error("ERR increment would produce NaN or Infinity");
    return;
  }
  if (!e)
    e = s.create(c.arg(1), vtype::string);
  e->str = human_long_double(v);
  s.charge(e);
  c.out.bulk(e->str);
}

void append_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong, access::write);
  if (wrong)
    return;
  auto add = c.arg(2);
  if (e && static_cast<int64_t>(e->str.size() + add.size()) > c.eng.config().proto_max_bulk_len) {
    c.out.error(err::too_big);
    return;
  }
  if (!e)
    e = s.create(c.arg(1), vtype::string);
  e->str.append(add);
  s.charge(e);
  c.out.integer(static_cast<int64_t>(e->str.size()));
}

void strlen_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong);
  if (!wrong)
    c.out.integer(e ? static_cast<int64_t>(e->str.size()) : 0);
}

void getrange_cmd(command_ctx& c) {
  int64_t start = 0, end = 0;
  if (!parse_int(c.arg(2), start) || !parse_int(c.arg(3), end)) {
    c.out.error(err::not_integer);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong);
  if (wrong)
    return;
  auto len = e ? static_cast<int64_t>(e->str.size()) : 0;
  if (start < 0 && end < 0 && start > end) {
    c.out.bulk("");
    return;
  }
  if (start < 0)
    start = len + start;
  if (end < 0)
    end = len + end;
  start = std::max<int64_t>(start, 0);
  end = std::max<int64_t>(end, 0);
  end = std::min(end, len - 1);
  if (start > end || len == 0) {
    c.out.bulk("");
    return;
  }
  c.out.bulk(std::string_view{e->str}.substr(start, end - start + 1));
}

void setrange_cmd(command_ctx& c) {
  int64_t offset = 0;
  if (!parse_int(c.arg(2), offset)) {
    c.out.error(err::not_integer);
    return;
  }
  if (offset < 0) {
    c.out.error("ERR offset is out of range");
    return;
  }
  auto value = c.arg(3);
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::string, wrong, access::write);
  if (wrong)
    return;
  if (value.empty()) {
    c.out.integer(e ? static_cast<int64_t>(e->str.size()) : 0);
    return;
  }
  if (offset + static_cast<int64_t>(value.size()) > c.eng.config().proto_max_bulk_len) {
    c.out.error(err::too_big);
    return;
  }
  if (!e)
    e = s.create(c.arg(1), vtype::string);
  auto need = static_cast<size_t>(offset) + value.size();
  if (e->str.size() < need)
    e->str.resize(need, '\0');
  std::memcpy(e->str.data() + offset, value.data(), value.size());
  s.charge(e);
  c.out.integer(static_cast<int64_t>(e->str.size()));
}

void add(command_table& t, std::string name, int arity, std::string flags, int first,
         int last, int step, command_handler fn) {
  t[name] = command_def{name, arity, std::move(flags), first, last, step, fn};
}

} // namespace

void register_string_commands(command_table& t) {
  add(t, "set", -3, "write,denyoom", 1, 1, 1, set_cmd);
  add(t, "setnx", 3, "write,denyoom,fast", 1, 1, 1, setnx_cmd);
  add(t, "setex", 4, "write,denyoom", 1, 1, 1, setex_cmd);
  add(t, "psetex", 4, "write,denyoom", 1, 1, 1, psetex_cmd);
  add(t, "get", 2, "readonly,fast", 1, 1, 1, get_cmd);
  add(t, "getdel", 2, "write,fast", 1, 1, 1, getdel_cmd);
  add(t, "getex", -2, "write,fast", 1, 1, 1, getex_cmd);
  add(t, "mget", -2, "readonly,fast", 1, -1, 1, mget_cmd);
  add(t, "mset", -3, "write,denyoom", 1, -1, 2, mset_cmd);
  add(t, "msetnx", -3, "write,denyoom", 1, -1, 2, msetnx_cmd);
  add(t, "incr", 2, "write,denyoom,fast", 1, 1, 1, incr_cmd);
  add(t, "decr", 2, "write,denyoom,fast", 1, 1, 1, decr_cmd);
  add(t, "incrby", 3, "write,denyoom,fast", 1, 1, 1, incrby_cmd);
  add(t, "decrby", 3, "write,denyoom,fast", 1, 1, 1, decrby_cmd);
  add(t, "incrbyfloat", 3, "write,denyoom,fast", 1, 1, 1, incrbyfloat_cmd);
  add(t, "append", 3, "write,denyoom", 1, 1, 1, append_cmd);
  add(t, "strlen", 2, "readonly,fast", 1, 1, 1, strlen_cmd);
  add(t, "getrange", 4, "readonly", 1, 1, 1, getrange_cmd);
  add(t, "substr", 4, "readonly", 1, 1, 1, getrange_cmd);
  add(t, "setrange", 4, "write,denyoom", 1, 1, 1, setrange_cmd);
}

} // namespace troupe::cache
