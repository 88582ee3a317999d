// Sorted sets: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZSCORE, ZCARD, ZREM,
// ZRANK, ZRANGE by index (WITHSCORES), ZPOPMIN, ZPOPMAX. As Redis 7.0
// t_zset.c; the order is (score, member), members compared bytewise.
#include "actors/cache/engine.hpp"

#include <cmath>

namespace troupe::cache {

namespace {

uint64_t cost(std::string_view s) {
  return 2 * element_overhead + 2 * s.size();
}

struct zadd_flags {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
};

size_t parse_zadd_flags(command_ctx& c, zadd_flags& f) {
  size_t i = 2;
  for (; i < c.argc(); ++i) {
    auto a = c.arg(i);
    if (iequals(a, "NX")) f.nx = true;
    else if (iequals(a, "XX")) f.xx = true;
    else if (iequals(a, "GT")) f.gt = true;
    else if (iequals(a, "LT")) f.lt = true;
    else if (iequals(a, "CH")) f.ch = true;
    else if (iequals(a, "INCR")) f.incr = true;
    else break;
  }
  return i;
}

bool check_zadd(command_ctx& c, const zadd_flags& f, size_t first) {
  auto pairs = c.argc() - first;
  if (pairs == 0 || pairs % 2 != 0) {
    c.out.error(err::syntax);
    return false;
  }
  if (f.nx && f.xx) {
    c.out.error("ERR XX and NX options at the same time are not compatible");
    return false;
  }
  if ((f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt)) {
    c.out.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    return false;
  }
  if (f.incr && pairs > 2) {
    c.out.error("ERR INCR option supports a single increment-element pair");
    return false;
  }
  for (size_t i = first; i < c.argc(); i += 2) {
    double d = 0;
    if (!parse_double(c.arg(i), d)) {
      c.out.error(err::not_float);
      return false;
    }
  }
  return true;
}

// Adds or updates one member. Returns 1 added, 2 updated, 0 nothing, -1 NaN.
int zadd_one(entry* e, const zadd_flags& f, double score, std::string_view member,
             double& result) {
  auto& z = e->as_zset();
  std::string m{member};
  auto it = z.scores.find(m);
  if (it == z.scores.end()) {
    if (f.xx)
      return 0;
    z.scores.emplace(m, score);
    z.order.emplace(score, m);
    e->payload_bytes += cost(member);
    result = score;
    return 1;
  }
  if (f.nx)
    return 0;
  double now = f.incr ? it->second + score : score;
  if (std::isnan(now))
    return -1;
  if ((f.gt && now <= it->second) || (f.lt && now >= it->second))
    return 0;
  result = now;
  if (now == it->second)
    return 3; // unchanged
  z.order.erase({it->second, m});
  z.order.emplace(now, m);
  it->second = now;
  return 2;
}

void zadd_generic(command_ctx& c, zadd_flags f, size_t first) {
  if (!check_zadd(c, f, first))
    return;
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::zset, wrong, access::write);
  if (wrong)
    return;
  if (!e && f.xx) {
    f.incr ? c.out.null() : c.out.integer(0);
    return;
  }
  if (!e)
    e = s.create(c.arg(1), vtype::zset);
  int64_t added = 0, changed = 0;
  double result = 0;
  bool applied = false;
  for (size_t i = first; i < c.argc(); i += 2) {
    double score = 0;
    parse_double(c.arg(i), score);
    int r = zadd_one(e, f, score, c.arg(i + 1), result);
    if (r == -1) {
      s.charge(e);
      c.out.error("ERR resulting score is not a number (NaN)");
      return;
    }
    added += r == 1;
    changed += r == 1 || r == 2;
    applied |= r != 0;
  }
  if (e->as_zset().scores.empty())
    s.erase(e);
  else
    s.charge(e);
  if (f.incr)
    applied ? c.out.dbl(result) : c.out.null();
  else
    c.out.integer(f.ch ? changed : added);
}

void zadd_cmd(command_ctx& c) {
  zadd_flags f;
  auto first = parse_zadd_flags(c, f);
  zadd_generic(c, f, first);
}

void zincrby_cmd(command_ctx& c) {
  zadd_flags f;
  f.incr = true;
  zadd_generic(c, f, 2);
}

entry* read_zset(command_ctx& c, shard& s, bool& wrong) {
  return find_typed(c, s, c.arg(1), vtype::zset, wrong);
}

void zscore_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_zset(c, s, wrong);
  if (wrong)
    return;
  auto it = e ? e->as_zset().scores.find(std::string{c.arg(2)}) : decltype(e->as_zset().scores)::iterator{};
  if (e && it != e->as_zset().scores.end())
    c.out.dbl(it->second);
  else
    c.out.null();
}

void zcard_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_zset(c, s, wrong);
  if (!wrong)
    c.out.integer(e ? static_cast<int64_t>(e->as_zset().scores.size()) : 0);
}

void zrem_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::zset, wrong, access::write);
  if (wrong)
    return;
  int64_t n = 0;
  for (size_t i = 2; e && i < c.argc(); ++i) {
    auto& z = e->as_zset();
    auto it = z.scores.find(std::string{c.arg(i)});
    if (it == z.scores.end())
      continue;
    z.order.erase({it->second, it->first});
    e->payload_bytes -= cost(it->first);
    z.scores.erase(it);
    ++n;
  }
  if (e && e->as_zset().scores.empty())
    s.erase(e);
  else if (e)
    s.charge(e);
  c.out.integer(n);
}

void zrank_cmd(command_ctx& c) {
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_zset(c, s, wrong);
  if (wrong)
    return;
  if (!e) {
    c.out.null();
    return;
  }
  auto& z = e->as_zset();
  auto it = z.scores.find(std::string{c.arg(2)});
  if (it == z.scores.end()) {
    c.out.null();
    return;
  }
  auto pos = z.order.find({it->second, it->first});
  c.out.integer(static_cast<int64_t>(std::distance(z.order.begin(), pos)));
}

void reply_scored(command_ctx& c, const std::pair<double, std::string>& x, bool pairs) {
  if (pairs)
    c.out.array(2);
  c.out.bulk(x.second);
  c.out.dbl(x.first);
}

void zrange_cmd(command_ctx& c) {
  int64_t start = 0, end = 0;
  bool scores = false;
  for (size_t i = 4; i < c.argc(); ++i) {
    if (!iequals(c.arg(i), "WITHSCORES")) {
      c.out.error(err::syntax);
      return;
    }
    scores = true;
  }
  if (!parse_int(c.arg(2), start) || !parse_int(c.arg(3), end)) {
    c.out.error(err::not_integer);
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = read_zset(c, s, wrong);
  if (wrong)
    return;
  auto len = e ? static_cast<int64_t>(e->as_zset().order.size()) : 0;
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (!e || start > end || start >= len) {
    c.out.array(0);
    return;
  }
  end = std::min(end, len - 1);
  auto n = static_cast<size_t>(end - start + 1);
  bool pairs = scores && c.out.protocol() >= 3;
  c.out.array(scores && !pairs ? 2 * n : n);
  auto it = std::next(e->as_zset().order.begin(), start);
  for (size_t i = 0; i < n; ++i, ++it) {
    if (scores)
      reply_scored(c, *it, pairs);
    else
      c.out.bulk(it->second);
  }
}

void zpop_generic(command_ctx& c, bool min) {
  if (c.argc() > 3) {
    c.out.error(err::syntax);
    return;
  }
  int64_t count = 1;
  bool has_count = c.argc() == 3;
  if (has_count && (!parse_int(c.arg(2), count) || count < 0)) {
    c.out.error("ERR value is out of range, must be positive");
    return;
  }
  auto [lock, s] = c.eng.lock_key(c.arg(1));
  bool wrong = false;
  auto* e = find_typed(c, s, c.arg(1), vtype::zset, wrong, access::write);
  if (wrong)
    return;
  if (!e) {
    c.out.array(0);
    return;
  }
  auto& z = e->as_zset();
  auto n = std::min<uint64_t>(static_cast<uint64_t>(count), z.order.size());
  bool pairs = has_count && c.out.protocol() >= 3;
  c.out.array(pairs ? n : 2 * n);
  for (uint64_t i = 0; i < n; ++i) {
    auto it = min ? z.order.begin() : std::prev(z.order.end());
    reply_scored(c, *it, pairs);
    e->payload_bytes -= cost(it->second);
    z.scores.erase(it->second);
    z.order.erase(it);
  }
  if (z.order.empty())
    s.erase(e);
  else
    s.charge(e);
}

void zpopmin_cmd(command_ctx& c) { zpop_generic(c, true); }
void zpopmax_cmd(command_ctx& c) { zpop_generic(c, false); }

void add(command_table& t, std::string name, int arity, std::string flags, int first,
         int last, int step, command_handler fn) {
  t[name] = command_def{name, arity, std::move(flags), first, last, step, fn};
}

} // namespace

void register_zset_commands(command_table& t) {
  add(t, "zadd", -4, "write,denyoom,fast", 1, 1, 1, zadd_cmd);
  add(t, "zincrby", 4, "write,denyoom,fast", 1, 1, 1, zincrby_cmd);
  add(t, "zscore", 3, "readonly,fast", 1, 1, 1, zscore_cmd);
  add(t, "zcard", 2, "readonly,fast", 1, 1, 1, zcard_cmd);
  add(t, "zrem", -3, "write,fast", 1, 1, 1, zrem_cmd);
  add(t, "zrank", 3, "readonly,fast", 1, 1, 1, zrank_cmd);
  add(t, "zrange", -4, "readonly", 1, 1, 1, zrange_cmd);
  add(t, "zpopmin", -2, "write,fast", 1, 1, 1, zpopmin_cmd);
  add(t, "zpopmax", -2, "write,fast", 1, 1, 1, zpopmax_cmd);
}

} // namespace troupe::cache
