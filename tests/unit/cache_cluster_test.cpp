// Unit tests of the cache cluster's routing (actors/cache/cluster.*): a
// node's decision for each command from the slot map - run here, forward,
// -MOVED (proxy off), -CROSSSLOT, -CLUSTERDOWN, -TRYAGAIN - and what a
// forwarded command gets on a node that no longer owns its slot.
#include "actors/cache/cluster.hpp"
#include "actors/cache/slot.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using namespace troupe::cache;

namespace {

// Two shards: shard-a (slots 0-8191) on node "me", shard-b (8192-16383)
// on node "other".
slot_map two_shards() {
  slot_map m;
  shard_view a, b;
  a.name = "shard-a";
  a.ranges = {{0, 8191}};
  a.primary = {"me", "127.0.0.1:7001", "127.0.0.1:7401"};
  a.replicas = {{"other", "127.0.0.2:7001", "127.0.0.2:7401"}};
  b.name = "shard-b";
  b.ranges = {{8192, 16383}};
  b.primary = {"other", "127.0.0.2:7001", "127.0.0.2:7401"};
  m.shards = {a, b};
  for (size_t s = 0; s < slot_count; ++s)
    m.owner[s] = s < 8192 ? 0 : 1;
  m.assigned = slot_count;
  return m;
}

struct node {
  cluster cl;
  client_state client;
  explicit node(bool proxy) : cl(config(proxy)) {}
  static cluster_config config(bool proxy) {
    cluster_config c;
    c.node_id = "me";
    c.proxy = proxy;
    c.repl_backlog_bytes = 1 << 20;
    return c;
  }
  std::pair<route, std::string> run(std::vector<std::string> args) {
    std::vector<std::string_view> v(args.begin(), args.end());
    std::string out;
    troupe::resp::reply_writer w{out, 2};
    auto r = cl.execute(v, client, w);
    return {r, out};
  }
};

// A key of each half of the slot space.
std::string key_in(bool low) {
  for (int i = 0;; ++i) {
    auto k = "k" + std::to_string(i);
    if ((key_slot(k) < 8192) == low)
      return k;
  }
}

} // namespace

TEST_CASE("cache cluster: standalone until a slot map with shards arrives") {
  node n{true};
  CHECK_EQ(n.run({"SET", "x", "1"}).second, "+OK\r\n");
  CHECK_EQ(n.run({"CLUSTER", "INFO"}).second.find("cluster_state:fail") != std::string::npos,
           true);
  n.cl.set_map(two_shards());
  // The standalone engine's key is not served any more: x's slot is owned
  // by a shard whose primary actor has not started here.
  auto low = key_in(true);
  auto r = n.run({"GET", low});
  CHECK_EQ(r.second.rfind("-TRYAGAIN", 0), 0u);
  n.cl.set_primary("shard-a", true);
  CHECK_EQ(n.run({"SET", low, "v"}).second, "+OK\r\n");
  CHECK_EQ(n.run({"GET", low}).second, "$1\r\nv\r\n");
  CHECK_EQ(n.run({"DBSIZE"}).second, ":1\r\n");
}

TEST_CASE("cache cluster: another node's key is forwarded, or -MOVED with proxy off") {
  auto high = key_in(false);
  node proxy{true};
  proxy.cl.set_map(two_shards());
  auto r = proxy.run({"GET", high});
  CHECK(r.first.kind == route::forward);
  CHECK_EQ(r.first.node, "other");
  CHECK(r.second.empty());
  node moved{false};
  moved.cl.set_map(two_shards());
  r = moved.run({"GET", high});
  CHECK(r.first.kind == route::done);
  CHECK_EQ(r.second, "-MOVED " + std::to_string(key_slot(high)) + " 127.0.0.2:7001\r\n");
}

TEST_CASE("cache cluster: CROSSSLOT, CLUSTERDOWN, arity and WAIT") {
  node n{true};
  auto m = two_shards();
  m.shards[1].primary = {};
  n.cl.set_map(m);
  n.cl.set_primary("shard-a", true);
  auto low = key_in(true), high = key_in(false);
  CHECK_EQ(n.run({"MGET", low, high}).second,
           "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  CHECK_EQ(n.run({"MSET", "{t}a", "1", "{t}b", "2"}).second.substr(0, 1),
           key_slot("t") < 8192 ? "+" : "-");
  CHECK_EQ(n.run({"GET", high}).second, "-CLUSTERDOWN Hash slot not served\r\n");
  CHECK_EQ(n.run({"GET"}).second, "-ERR wrong number of arguments for 'get' command\r\n");
  auto w = n.run({"WAIT", "1", "10"});
  CHECK(w.first.kind == route::wait);
  CHECK_EQ(w.first.replicas, 1);
  CHECK_EQ(n.run({"WAIT", "x", "10"}).second, "-ERR value is not an integer or out of range\r\n");
  // After a forwarded write, WAIT says why it cannot count it.
  node p{true};
  p.cl.set_map(two_shards());
  p.run({"SET", high, "v"});
  CHECK_EQ(p.run({"WAIT", "1", "10"}).second.rfind("-ERR WAIT after a write", 0), 0u);
}

TEST_CASE("cache cluster: a forwarded command for a slot that moved gets -MOVED, never a loop") {
  node n{true};
  n.cl.set_map(two_shards());
  n.cl.set_primary("shard-a", true);
  std::string shard;
  uint64_t offset = 0;
  auto low = key_in(true), high = key_in(false);
  std::vector<std::string_view> set_low{"SET", low, "v"};
  CHECK_EQ(n.cl.execute_forwarded(set_low, 2, shard, offset), "+OK\r\n");
  CHECK_EQ(shard, "shard-a");
  CHECK(offset > 0); // recorded in the shard's replication stream
  std::vector<std::string_view> get_high{"GET", high};
  CHECK_EQ(n.cl.execute_forwarded(get_high, 2, shard, offset),
           "-MOVED " + std::to_string(key_slot(high)) + " 127.0.0.2:7001\r\n");
}

TEST_CASE("cache cluster: SCAN walks every shard that is primary here") {
  node n{true};
  n.cl.set_map(two_shards());
  n.cl.set_primary("shard-a", true);
  n.cl.set_primary("shard-b", true); // after a failover: both here
  std::set<std::string> want;
  for (int i = 0; i < 200; ++i) {
    auto k = "s" + std::to_string(i);
    n.run({"SET", k, "1"});
    want.insert(k);
  }
  std::set<std::string> got;
  std::string cursor = "0";
  for (int rounds = 0; rounds < 1000; ++rounds) {
    auto reply = n.run({"SCAN", cursor, "COUNT", "17"}).second;
    auto body = reply.substr(reply.find("\r\n") + 2);
    auto eol = body.find("\r\n");
    auto len = std::stoul(body.substr(1, eol - 1));
    cursor = body.substr(eol + 2, len);
    auto rest = body.substr(eol + 2 + len + 2);
    size_t pos = rest.find("\r\n") + 2;
    while (pos < rest.size()) {
      auto e = rest.find("\r\n", pos);
      auto n2 = std::stoul(rest.substr(pos + 1, e - pos - 1));
      got.insert(rest.substr(e + 2, n2));
      pos = e + 2 + n2 + 2;
    }
    if (cursor == "0")
      break;
  }
  CHECK_EQ(cursor, "0");
  CHECK_EQ(got, want);
  auto keys = n.run({"KEYS", "s*"}).second;
  CHECK_EQ(keys.substr(0, 5), "*200\r");
}
