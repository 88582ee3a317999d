// Tests of cache replication (actors/cache/repl.*, engine recording): a
// replica that applies the primary's stream, or its dump, ends with the same
// keys, values and absolute expiry times, including for the writes whose
// effect depends on the primary's clock or on chance (SET EX, EXPIRE,
// SPOP), and for evictions; the backlog trims and acknowledges as WAIT
// needs it.
#include "actors/cache/engine.hpp"
#include "actors/cache/repl.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace troupe::cache;

namespace {

struct node {
  int64_t now;
  engine eng;
  client_state client;
  node(int64_t start, uint64_t backlog, uint64_t max_memory = 0) :
    now(start), eng(config(backlog, max_memory), [this] { return now; }) {}
  static engine_config config(uint64_t backlog, uint64_t max_memory) {
    engine_config c;
    c.repl_backlog_bytes = backlog;
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
  // Applies a replication stream as a replica does.
  void apply(const std::string& stream) {
    troupe::resp::request_parser p;
    p.append(stream);
    std::vector<std::string_view> args;
    while (p.next(args) == troupe::resp::parse_status::command)
      eng.apply(args);
    CHECK_EQ(p.buffered(), 0u);
  }
  // Every key as its dump commands, sorted: equal iff same content.
  std::vector<std::string> content() {
    std::string dump;
    eng.dump(dump);
    troupe::resp::request_parser p;
    p.append(dump);
    std::vector<std::string_view> args;
    std::vector<std::string> out;
    while (p.next(args) == troupe::resp::parse_status::command) {
      // Hash tables list members in any order: compare them sorted (as
      // pairs for HSET and ZADD).
      std::vector<std::string> items;
      size_t step = args[0] == "HSET" || args[0] == "ZADD" ? 2 : 1;
      for (size_t i = 2; i + step <= args.size(); i += step)
        items.push_back(step == 1 ? std::string{args[i]}
                                  : std::string{args[i]} + "=" + std::string{args[i + 1]});
      if (args[0] == "SADD" || step == 2)
        std::sort(items.begin(), items.end());
      std::string line{args[0]};
      if (args.size() > 1)
        line += " " + std::string{args[1]};
      for (auto& it : items)
        line += " " + it;
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string stream_of(engine& e, uint64_t from = 0) {
  std::string out;
  REQUIRE(e.backlog()->read(from, SIZE_MAX, out));
  return out;
}

} // namespace

TEST_CASE("cache repl: a replica applying the stream ends equal, clock and chance removed") {
  node primary{1'700'000'000'000, 1 << 20};
  primary.eng.set_recording(true);
  primary.run({"SET", "a", "1", "EX", "100"});
  primary.run({"SET", "b", "x"});
  primary.run({"EXPIRE", "b", "50"});
  primary.run({"INCRBYFLOAT", "f", "0.1"});
  primary.run({"RPUSH", "l", "1", "2", "3"});
  primary.run({"LPOP", "l"});
  primary.run({"HSET", "h", "f", "v", "g", "w"});
  primary.run({"SADD", "s", "1", "2", "3", "4", "5"});
  primary.run({"SPOP", "s", "2"});
  primary.run({"ZADD", "z", "1.5", "m", "2", "n"});
  primary.run({"GETEX", "b", "PX", "12345"});
  primary.run({"GET", "a"});                   // reads are not recorded
  CHECK_EQ(primary.run({"INCR", "b"}).substr(0, 4), "-ERR"); // failed: not recorded
  primary.run({"DEL", "missing"});
  // The replica runs later, on a clock 7 s ahead: relative expiry must not
  // move.
  node replica{primary.now + 7000, 0};
  replica.apply(stream_of(primary.eng));
  auto want = primary.content(), got = replica.content();
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i)
    CHECK_EQ((i < got.size() ? got[i] : ""), (i < want.size() ? want[i] : ""));
  CHECK_EQ(want.size(), 1u + 7u + 2u); // FLUSHALL, 7 keys, PEXPIREAT of a and b
}

TEST_CASE("cache repl: a dump then the stream from its offset ends equal") {
  node primary{1'700'000'000'000, 1 << 20};
  primary.eng.set_recording(true);
  for (int i = 0; i < 2000; ++i)
    primary.run({"SET", "k" + std::to_string(i), std::string(50, 'v')});
  primary.run({"RPUSH", "big", "x"});
  for (int i = 0; i < 1200; ++i)
    primary.run({"RPUSH", "big", std::to_string(i)}); // > one 512-element command
  std::string dump;
  auto offset = primary.eng.dump(dump);
  CHECK_EQ(offset, primary.eng.backlog()->end_offset());
  primary.run({"INCR", "counter"});
  primary.run({"DEL", "k7"});
  node replica{primary.now, 0};
  replica.run({"SET", "stale", "from another history"});
  replica.apply(dump); // starts with FLUSHALL
  replica.apply(stream_of(primary.eng, offset));
  CHECK_EQ(replica.content(), primary.content());
}

TEST_CASE("cache repl: evictions reach the replica as DEL") {
  node primary{1'700'000'000'000, 64 << 20, 1 << 20}; // 1 MiB memory limit
  primary.eng.set_recording(true);
  for (int i = 0; i < 4000; ++i)
    primary.run({"SET", "k" + std::to_string(i), std::string(1000, 'v')});
  auto t = primary.eng.totals();
  REQUIRE(t.evicted > 0);
  node replica{primary.now, 0}; // no limit: it deletes only what it is told
  replica.apply(stream_of(primary.eng));
  CHECK_EQ(replica.eng.totals().keys, t.keys);
  CHECK_EQ(replica.content(), primary.content());
}

TEST_CASE("cache repl: the backlog trims, refuses what it lost, and counts acks") {
  repl_backlog b{64 * 1024};
  std::string chunk(10'000, 'x');
  for (int i = 0; i < 20; ++i)
    b.append(chunk);
  CHECK_EQ(b.end_offset(), 200'000u);
  CHECK(b.start_offset() > 0);
  std::string out;
  CHECK_FALSE(b.read(0, 100, out));          // trimmed away: a full sync
  CHECK_FALSE(b.read(200'001, 100, out));    // past the end
  CHECK(b.read(200'000, 100, out));          // at the end: nothing yet
  CHECK(out.empty());
  CHECK(b.read(b.start_offset(), 100'000, out));
  CHECK_EQ(out.size(), 200'000u - b.start_offset());
  b.ack("r1", 150'000, 1000);
  b.ack("r2", 200'000, 1000);
  CHECK_EQ(b.acked(150'000, 1000), 2u);
  CHECK_EQ(b.acked(200'000, 1000), 1u);
  CHECK_EQ(b.acked(200'000, 1000 + 10'000), 0u); // not heard from lately
  // A new history keeps offsets growing and forgets the replicas.
  auto old = b.replid();
  b.restart(random_replid());
  CHECK_NE(b.replid(), old);
  CHECK_EQ(b.start_offset(), 200'000u);
  CHECK_EQ(b.acked(0, 1000), 0u);
  // The waker fires once per arm.
  int woken = 0;
  b.set_waker([&] { ++woken; });
  b.append("a");
  b.arm();
  b.append("b");
  b.append("c");
  CHECK_EQ(woken, 1);
}
