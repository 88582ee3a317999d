// Tests for the cache core (actors/cache): slots, the keyspace shard (SCAN
// across resizes, expiry, eviction) and commands through the engine, with
// the replies compared byte for byte with what Redis 7.0 sends.
#include "actors/cache/engine.hpp"
#include "actors/cache/slot.hpp"
#include "actors/cache/store.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using namespace troupe::cache;

namespace {

struct fixture {
  int64_t now = 1'700'000'000'000;
  engine eng;
  client_state client;
  explicit fixture(uint64_t max_memory = 0) :
    eng(make_config(max_memory), [this] { return now; }) {}
  static engine_config make_config(uint64_t max_memory) {
    engine_config c;
    c.max_memory_bytes = max_memory;
    return c;
  }
  std::string run(std::vector<std::string> args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    troupe::resp::reply_writer w{out, client.protocol};
    eng.execute(views, client, w);
    return out;
  }
};

} // namespace

TEST_CASE("cache: key slots match Redis Cluster") {
  CHECK_EQ(crc16("123456789"), 0x31C3); // CRC16/XMODEM check value
  CHECK_EQ(key_slot("foo"), 12182);     // redis-cli CLUSTER KEYSLOT foo
  CHECK_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  CHECK_EQ(key_slot("foo{}{bar}"), key_slot("foo{}{bar}")); // empty tag: whole key
  CHECK_NE(key_slot("foo{}{bar}"), key_slot("bar"));
  CHECK_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
}

TEST_CASE("cache: strings, SET options and errors") {
  fixture f;
  CHECK_EQ(f.run({"SET", "k", "v"}), "+OK\r\n");
  CHECK_EQ(f.run({"GET", "k"}), "$1\r\nv\r\n");
  CHECK_EQ(f.run({"SET", "k", "w", "NX"}), "$-1\r\n");
  CHECK_EQ(f.run({"SET", "k", "w", "XX", "GET"}), "$1\r\nv\r\n");
  CHECK_EQ(f.run({"SET", "n", "w", "XX"}), "$-1\r\n");
  CHECK_EQ(f.run({"SET", "k", "v", "NX", "XX"}), "-ERR syntax error\r\n");
  CHECK_EQ(f.run({"SET", "k", "v", "EX", "0"}),
           "-ERR invalid expire time in 'set' command\r\n");
  CHECK_EQ(f.run({"SET", "k", "v", "EX", "x"}),
           "-ERR value is not an integer or out of range\r\n");
  CHECK_EQ(f.run({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  CHECK_EQ(f.run({"FOO", "a", "b"}),
           "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  CHECK_EQ(f.run({"INCR", "c"}), ":1\r\n");
  CHECK_EQ(f.run({"INCRBY", "c", "41"}), ":42\r\n");
  CHECK_EQ(f.run({"DECRBY", "c", "2"}), ":40\r\n");
  CHECK_EQ(f.run({"INCR", "k"}), "-ERR value is not an integer or out of range\r\n");
  CHECK_EQ(f.run({"SET", "big", "9223372036854775807"}), "+OK\r\n");
  CHECK_EQ(f.run({"INCR", "big"}), "-ERR increment or decrement would overflow\r\n");
  CHECK_EQ(f.run({"SET", "fl", "10.50"}), "+OK\r\n");
  CHECK_EQ(f.run({"INCRBYFLOAT", "fl", "0.1"}), "$4\r\n10.6\r\n");
  CHECK_EQ(f.run({"SET", "fl2", "5.0e3"}), "+OK\r\n"); // the example in Redis's docs
  CHECK_EQ(f.run({"INCRBYFLOAT", "fl2", "2.0e2"}), "$4\r\n5200\r\n");
  CHECK_EQ(f.run({"APPEND", "k", "xyz"}), ":4\r\n");
  CHECK_EQ(f.run({"STRLEN", "k"}), ":4\r\n");
  CHECK_EQ(f.run({"GETRANGE", "k", "1", "-1"}), "$3\r\nxyz\r\n");
  CHECK_EQ(f.run({"GETRANGE", "k", "-1", "-5"}), "$0\r\n\r\n");
  CHECK_EQ(f.run({"SETRANGE", "sr", "3", "ab"}), ":5\r\n");
  CHECK_EQ(f.run({"GET", "sr"}), std::string{"$5\r\n\0\0\0ab\r\n", 11});
  CHECK_EQ(f.run({"SETRANGE", "sr", "-1", "ab"}), "-ERR offset is out of range\r\n");
  CHECK_EQ(f.run({"MSET", "a", "1", "b", "2"}), "+OK\r\n");
  CHECK_EQ(f.run({"MSET", "a", "1", "b"}),
           "-ERR wrong number of arguments for 'mset' command\r\n");
  CHECK_EQ(f.run({"MGET", "a", "nope", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  CHECK_EQ(f.run({"GETDEL", "a"}), "$1\r\n1\r\n");
  CHECK_EQ(f.run({"EXISTS", "a", "b", "b"}), ":2\r\n");
}

TEST_CASE("cache: WRONGTYPE on every type") {
  fixture f;
  f.run({"LPUSH", "l", "x"});
  auto wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
  CHECK_EQ(f.run({"GET", "l"}), wrong);
  CHECK_EQ(f.run({"SADD", "l", "x"}), wrong);
  CHECK_EQ(f.run({"HSET", "l", "f", "v"}), wrong);
  CHECK_EQ(f.run({"ZADD", "l", "1", "m"}), wrong);
  CHECK_EQ(f.run({"SET", "l", "v"}), "+OK\r\n"); // SET replaces any type
  CHECK_EQ(f.run({"TYPE", "l"}), "+string\r\n");
  CHECK_EQ(f.run({"TYPE", "none"}), "+none\r\n");
}

TEST_CASE("cache: TTLs, lazy expiry and EXPIRE options") {
  fixture f;
  f.run({"SET", "k", "v", "PX", "1500"});
  CHECK_EQ(f.run({"PTTL", "k"}), ":1500\r\n");
  CHECK_EQ(f.run({"TTL", "k"}), ":2\r\n");
  CHECK_EQ(f.run({"TTL", "nope"}), ":-2\r\n");
  f.run({"SET", "p", "v"});
  CHECK_EQ(f.run({"TTL", "p"}), ":-1\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "100", "XX"}), ":0\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "100", "NX"}), ":1\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "50", "GT"}), ":0\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "50", "LT"}), ":1\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "50", "NX", "XX"}),
           "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "50", "FOO"}), "-ERR Unsupported option FOO\r\n");
  CHECK_EQ(f.run({"PERSIST", "p"}), ":1\r\n");
  CHECK_EQ(f.run({"SET", "k", "w", "KEEPTTL"}), "+OK\r\n");
  CHECK_EQ(f.run({"PTTL", "k"}), ":1500\r\n");
  f.now += 1500;
  CHECK_EQ(f.run({"GET", "k"}), "$-1\r\n");
  CHECK_EQ(f.run({"DBSIZE"}), ":1\r\n");
  CHECK_EQ(f.run({"EXPIRE", "p", "-1"}), ":1\r\n"); // a past time deletes
  CHECK_EQ(f.run({"EXISTS", "p"}), ":0\r\n");
  f.run({"SET", "g", "v"});
  CHECK_EQ(f.run({"GETEX", "g", "EX", "10"}), "$1\r\nv\r\n");
  CHECK_EQ(f.run({"TTL", "g"}), ":10\r\n");
  CHECK_EQ(f.run({"GETEX", "g", "PERSIST"}), "$1\r\nv\r\n");
  CHECK_EQ(f.run({"TTL", "g"}), ":-1\r\n");
}

TEST_CASE("cache: active expiry deletes keys nobody reads") {
  fixture f;
  for (int i = 0; i < 1000; ++i)
    f.run({"SET", "k" + std::to_string(i), "v", "PX", "10"});
  f.now += 20;
  for (size_t s = 0; s < engine::shard_count; ++s)
    for (int round = 0; round < 50; ++round)
      f.eng.active_expire(s, 100000);
  CHECK_EQ(f.eng.totals().keys, 0u);
  CHECK_EQ(f.eng.totals().expired, 1000u);
}

TEST_CASE("cache: SCAN returns every key exactly as the contract says, across resizes") {
  fixture f;
  for (int i = 0; i < 500; ++i)
    f.run({"SET", "key:" + std::to_string(i), "v"});
  std::set<std::string> seen;
  std::string cursor = "0";
  int added = 0;
  do {
    auto& eng = f.eng;
    std::vector<std::string> args{"SCAN", cursor, "COUNT", "7"};
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    troupe::resp::reply_writer w{out};
    eng.execute(views, f.client, w);
    // Parse "*2\r\n$N\r\n<cursor>\r\n*M\r\n($L\r\n<key>\r\n)*"
    size_t p = out.find('\n', out.find('$')) + 1;
    cursor = out.substr(p, out.find('\r', p) - p);
    p = out.find('*', p);
    p = out.find('\n', p) + 1;
    while (p < out.size()) {
      p = out.find('\n', p) + 1;
      auto e = out.find('\r', p);
      seen.insert(out.substr(p, e - p));
      p = e + 2;
    }
    // Grow the table while scanning: the old keys must still all appear.
    for (int k = 0; k < 20 && added < 2000; ++k, ++added)
      f.run({"SET", "new:" + std::to_string(added), "v"});
  } while (cursor != "0");
  for (int i = 0; i < 500; ++i)
    CHECK(seen.count("key:" + std::to_string(i)) == 1);
  CHECK_EQ(f.run({"SCAN", "x"}), "-ERR invalid cursor\r\n");
  CHECK_EQ(f.run({"SCAN", "0", "COUNT", "0"}), "-ERR syntax error\r\n");
}

TEST_CASE("cache: SCAN MATCH and TYPE filter") {
  fixture f;
  f.run({"SET", "user:1", "a"});
  f.run({"SET", "user:2", "b"});
  f.run({"LPUSH", "user:3", "c"});
  f.run({"SET", "other", "d"});
  CHECK_EQ(f.run({"KEYS", "user:[12]"}).substr(0, 4), "*2\r\n");
  auto out = f.run({"SCAN", "0", "MATCH", "user:*", "TYPE", "list", "COUNT", "1000"});
  CHECK_EQ(out, "*2\r\n$1\r\n0\r\n*1\r\n$6\r\nuser:3\r\n");
}

TEST_CASE("cache: lists, hashes, sets and sorted sets") {
  fixture f;
  CHECK_EQ(f.run({"RPUSH", "l", "a", "b", "c"}), ":3\r\n");
  CHECK_EQ(f.run({"LPUSH", "l", "z"}), ":4\r\n");
  CHECK_EQ(f.run({"LRANGE", "l", "0", "-1"}),
           "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
  CHECK_EQ(f.run({"LPOP", "l"}), "$1\r\nz\r\n");
  CHECK_EQ(f.run({"RPOP", "l", "2"}), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
  CHECK_EQ(f.run({"RPOP", "l", "5"}), "*1\r\n$1\r\na\r\n");
  CHECK_EQ(f.run({"EXISTS", "l"}), ":0\r\n"); // an emptied list is deleted
  CHECK_EQ(f.run({"LPOP", "l", "1"}), "*-1\r\n");
  CHECK_EQ(f.run({"HSET", "h", "f", "1", "g", "2"}), ":2\r\n");
  CHECK_EQ(f.run({"HSET", "h", "f"}), "-ERR wrong number of arguments for 'hset' command\r\n");
  CHECK_EQ(f.run({"HGET", "h", "g"}), "$1\r\n2\r\n");
  CHECK_EQ(f.run({"HINCRBY", "h", "f", "5"}), ":6\r\n");
  CHECK_EQ(f.run({"HDEL", "h", "f", "nope"}), ":1\r\n");
  CHECK_EQ(f.run({"HGETALL", "h"}), "*2\r\n$1\r\ng\r\n$1\r\n2\r\n");
  CHECK_EQ(f.run({"SADD", "s", "a", "b", "a"}), ":2\r\n");
  CHECK_EQ(f.run({"SCARD", "s"}), ":2\r\n");
  CHECK_EQ(f.run({"SPOP", "s", "5"}).substr(0, 4), "*2\r\n");
  CHECK_EQ(f.run({"EXISTS", "s"}), ":0\r\n");
  CHECK_EQ(f.run({"ZADD", "z", "2", "b", "1", "a"}), ":2\r\n");
  CHECK_EQ(f.run({"ZADD", "z", "NX", "XX", "1", "a"}),
           "-ERR XX and NX options at the same time are not compatible\r\n");
  CHECK_EQ(f.run({"ZADD", "z", "x", "a"}), "-ERR value is not a valid float\r\n");
  CHECK_EQ(f.run({"ZADD", "z", "INCR", "2.5", "a"}), "$3\r\n3.5\r\n");
  CHECK_EQ(f.run({"ZRANGE", "z", "0", "-1", "WITHSCORES"}),
           "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$3\r\n3.5\r\n");
  CHECK_EQ(f.run({"ZPOPMIN", "z"}), "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
  CHECK_EQ(f.run({"ZCARD", "z"}), ":1\r\n");
}

TEST_CASE("cache: server commands") {
  fixture f;
  CHECK_EQ(f.run({"PING"}), "+PONG\r\n");
  CHECK_EQ(f.run({"PING", "hi"}), "$2\r\nhi\r\n");
  CHECK_EQ(f.run({"SELECT", "0"}), "+OK\r\n");
  CHECK_EQ(f.run({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
  CHECK_EQ(f.run({"CONFIG", "GET", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  CHECK_EQ(f.run({"CONFIG", "GET", "appendonly"}), "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  CHECK_EQ(f.run({"CONFIG", "FOO"}), "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n");
  CHECK_EQ(f.run({"CLUSTER", "KEYSLOT", "foo"}), ":12182\r\n");
  CHECK_EQ(f.run({"CLIENT", "SETNAME", "me"}), "+OK\r\n");
  CHECK_EQ(f.run({"CLIENT", "GETNAME"}), "$2\r\nme\r\n");
  CHECK_EQ(f.run({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  CHECK(f.run({"HELLO", "3"}).starts_with("%7\r\n"));
  CHECK_EQ(f.client.protocol, 3);
  CHECK_EQ(f.run({"GET", "missing"}), "_\r\n");
  CHECK_EQ(f.run({"QUIT"}), "+OK\r\n");
  CHECK(f.client.close_after_reply);
  f.run({"GET", "missing"});
  auto info = f.run({"INFO", "stats"});
  CHECK(info.find("keyspace_misses:2") != std::string::npos);
}

TEST_CASE("cache: eviction keeps memory under the limit and frequent keys in") {
  fixture f{1 << 20}; // 1 MiB over 16 shards
  std::string value(100, 'x');
  for (int i = 0; i < 50; ++i)
    f.run({"SET", "hot:" + std::to_string(i), value});
  for (int i = 0; i < 20000; ++i) {
    f.run({"SET", "cold:" + std::to_string(i), value});
    f.run({"GET", "hot:" + std::to_string(i % 50)});
  }
  auto t = f.eng.totals();
  CHECK(t.used_bytes <= (1u << 20));
  CHECK(t.evicted > 10000);
  int hot = 0;
  for (int i = 0; i < 50; ++i)
    hot += f.run({"EXISTS", "hot:" + std::to_string(i)}) == ":1\r\n";
  CHECK(hot >= 45);
}
