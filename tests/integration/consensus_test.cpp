// The consensus role with real troupe-node processes on 127.0.0.x: a
// three-node group forms as in the README, survives kill -9 of its leader
// under load with no acknowledged write lost and a linearizable history,
// recovers a restarted member from LMDB, catches a lagging member up with a
// snapshot, and changes membership one node at a time.
#include "runtime/caf_setup.hpp"
#include "tests/support/kv_client.hpp"
#include "tests/support/linearizability.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

using namespace troupe;
using namespace troupe::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// One CAF system for every client of a test (clients are cheap: one
// scoped_actor each).
struct client_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  client_system() {
    configure_caf(cfg, std::chrono::seconds{1}, std::chrono::seconds{5});
    configure_transport(cfg, test_client_transport());
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

struct group {
  std::vector<std::unique_ptr<node_process>> nodes;
  std::vector<std::string> extra;

  explicit group(int n, std::vector<std::string> extra_args = {}) : extra(std::move(extra_args)) {
    for (int i = 1; i <= n; ++i)
      add();
    for (auto& node : nodes) {
      INFO(node->node_id() << " log:\n" << node->log());
      REQUIRE(node->wait_ready(30s));
    }
    REQUIRE(eventually([&] { return voters() == n; }, 30s));
  }

  node_process& add() {
    auto i = nodes.size() + 1;
    std::vector<std::string> seeds;
    if (!nodes.empty())
      seeds.push_back(nodes.front()->cluster_address());
    node_options opts{"n" + std::to_string(i), "127.0.0." + std::to_string(i + 1), seeds,
                      extra};
    opts.role = "all"; // as the README starts them
    nodes.push_back(std::make_unique<node_process>(opts));
    if (nodes.size() == 1)
      REQUIRE(nodes.front()->wait_ready(30s)); // the others join through it
    return *nodes.back();
  }

  node_process& by_id(const std::string& id) {
    for (auto& n : nodes)
      if (n->node_id() == id)
        return *n;
    FAIL("no node " << id);
    throw std::logic_error("unreachable");
  }

  std::map<std::string, std::string> addresses() const {
    std::map<std::string, std::string> out;
    for (auto& n : nodes)
      out[n->node_id()] = n->cluster_address();
    return out;
  }

  // `troupectl raft status -o json` through any running node.
  std::optional<json> status() {
    for (auto& n : nodes) {
      if (!n->running())
        continue;
      auto res = troupectl({"--endpoint", n->cluster_address(), "raft", "status", "-o", "json"},
                           10s);
      if (res.exit_code == 0)
        return json::parse(res.out);
    }
    return std::nullopt;
  }

  // Voters that report themselves as leader or follower, as seen by the
  // member answering `raft status`.
  int voters() {
    auto s = status();
    if (!s)
      return -1;
    int n = 0;
    for (auto& m : (*s)["members"])
      n += m.value("role", "") == "leader" || m.value("role", "") == "follower";
    return n;
  }

  std::string leader() {
    auto s = status();
    return s ? s->value("leader", "") : "";
  }

  std::optional<json> member(const std::string& id) {
    auto s = status();
    if (!s)
      return std::nullopt;
    for (auto& m : (*s)["members"])
      if (m.value("node_id", "") == id)
        return m;
    return std::nullopt;
  }
};

std::uint64_t as_u64(const json& j, const char* key) {
  if (!j.contains(key))
    return 0;
  auto& v = j[key];
  return v.is_string() ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>();
}

// Load: each client alternates writes of unique keys (for the lost-write
// check) and put/get on a few shared registers (for the linearizability
// check), recording every operation.
struct load {
  lin::recorder history;
  std::mutex mtx;
  std::set<std::string> acked_unique;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> last_ok_ns{0};
  std::atomic<std::uint64_t> ok_writes{0};
  std::vector<std::thread> threads;

  void run_client(caf::actor_system& sys, std::map<std::string, std::string> nodes,
                  std::uint64_t id) {
    kv_client c{sys, std::move(nodes), id};
    for (std::uint64_t seq = 0; !stop && seq < 100000; ++seq) {
      auto unique = "lw/" + std::to_string(id) + "/" + std::to_string(seq);
      if (c.put(unique, "x", 1s).result == outcome::ok) {
        std::lock_guard guard{mtx};
        acked_unique.insert(unique);
      }
      auto key = "r/" + std::to_string(seq % 3);
      if (seq % 2 == 0) {
        auto value = std::to_string(id) + "-" + std::to_string(seq);
        auto op = lin::operation::put(id, key, value);
        auto res = c.put(key, value, 1s);
        op.finish(res.result == outcome::ok     ? lin::op_status::ok
                  : res.result == outcome::fail ? lin::op_status::fail
                                                : lin::op_status::unknown);
        if (res.result == outcome::ok) {
          last_ok_ns = lin::now_ns();
          ++ok_writes;
        }
        history.add(std::move(op));
      } else {
        auto op = lin::operation::get(id, key);
        auto res = c.get(key, false, 1s);
        op.output = res.value;
        op.finish(res.result == outcome::ok ? lin::op_status::ok : lin::op_status::fail);
        history.add(std::move(op));
      }
    }
  }

  void start(caf::actor_system& sys, const std::map<std::string, std::string>& nodes,
             int clients) {
    for (int i = 1; i <= clients; ++i)
      threads.emplace_back([this, &sys, nodes, i] { run_client(sys, nodes, 1000 + i); });
  }

  void finish() {
    stop = true;
    for (auto& t : threads)
      t.join();
  }
};

} // namespace

TEST_CASE("consensus: three nodes from the README form one group with one leader") {
  group g{3};
  auto s = g.status();
  REQUIRE(s);
  INFO(s->dump(2));
  CHECK((*s)["members"].size() == 3);
  int leaders = 0;
  for (auto& m : (*s)["members"])
    leaders += m.value("role", "") == "leader";
  CHECK(leaders == 1);
  CHECK_FALSE(s->value("leader", "").empty());
  // Every node serves the etcd-style metrics.
  std::string body;
  REQUIRE(http_get(g.nodes[0]->host(), g.nodes[0]->admin_port(), "/metrics", &body) == 200);
  CHECK(body.find("raft_has_leader 1") != std::string::npos);
  CHECK(body.find("raft_disk_fsync_duration_seconds_count") != std::string::npos);
}

TEST_CASE("consensus: kill -9 of the leader under load loses no acknowledged write") {
  group g{3};
  client_system cs;
  load l;
  l.start(*cs.sys, g.addresses(), 4);
  std::this_thread::sleep_for(2s);
  auto leader = g.leader();
  REQUIRE_FALSE(leader.empty());
  auto writes_before = l.ok_writes.load();
  CHECK(writes_before > 0);
  auto killed_at = lin::now_ns();
  REQUIRE(g.by_id(leader).signal(SIGKILL));
  g.by_id(leader).wait_exit(5s);
  // Writes resume on the new leader.
  CHECK(eventually([&] { return l.last_ok_ns.load() > killed_at + 1'000'000; }, 10s));
  std::this_thread::sleep_for(1s);
  // The killed member restarts from its LMDB data and catches up.
  g.by_id(leader).restart();
  REQUIRE(g.by_id(leader).wait_ready(30s));
  std::this_thread::sleep_for(1s);
  l.finish();
  MESSAGE("ok writes: " << l.ok_writes.load() << " (before the kill: " << writes_before
                        << "), acknowledged unique keys: " << l.acked_unique.size());

  kv_client reader{*cs.sys, g.addresses(), 1};
  auto stored = reader.range_prefix("lw/", 10s);
  REQUIRE(stored);
  std::vector<std::string> lost;
  for (auto& k : l.acked_unique)
    if (!stored->count(k))
      lost.push_back(k);
  CHECK_MESSAGE(lost.empty(), lost.size() << " acknowledged writes lost, first: "
                                          << (lost.empty() ? "" : lost.front()));

  auto ops = l.history.operations();
  auto verdict = lin::check(ops);
  if (verdict.outcome != lin::verdict::ok) {
    std::string error;
    lin::write_history_file("/tmp/troupe-consensus-history.jsonl", ops, &error);
  }
  CHECK_MESSAGE(verdict.outcome == lin::verdict::ok,
                lin::to_string(verdict.outcome) << " on key " << verdict.key << ": "
                                                << verdict.explanation
                                                << " (history in /tmp/troupe-consensus-history.jsonl)");
  MESSAGE("linearizability: " << ops.size() << " operations on " << verdict.keys_checked
                              << " keys, " << verdict.steps << " search steps");

  // The restarted member has caught up: it applied what the leader committed.
  CHECK(eventually(
    [&] {
      auto s = g.status();
      if (!s)
        return false;
      std::uint64_t commit = 0, applied = 0;
      for (auto& m : (*s)["members"]) {
        if (m.value("role", "") == "leader")
          commit = as_u64(m, "commit_index");
        if (m.value("node_id", "") == leader)
          applied = as_u64(m, "applied_index");
      }
      return commit > 0 && applied >= commit - 5;
    },
    15s));
}

TEST_CASE("consensus: a member far behind catches up through a snapshot") {
  group g{3, {"--raft-snapshot-entries", "50"}};
  client_system cs;
  kv_client c{*cs.sys, g.addresses(), 7};
  auto leader = g.leader();
  REQUIRE_FALSE(leader.empty());
  auto& lagging = *std::find_if(g.nodes.begin(), g.nodes.end(), [&](auto& n) {
    return n->node_id() != leader;
  })->get();
  REQUIRE(lagging.stop(SIGKILL));
  for (int i = 0; i < 400; ++i)
    REQUIRE(c.put("snap/" + std::to_string(i % 20), std::to_string(i), 5s).result == outcome::ok);
  auto leader_status = g.member(leader);
  REQUIRE(leader_status);
  CHECK(as_u64(*leader_status, "snapshot_index") > 0);
  lagging.restart();
  REQUIRE(lagging.wait_ready(30s));
  // The leader has compacted past what the lagging member has, so only a
  // snapshot can bring it up to date.
  CHECK(eventually(
    [&] {
      auto m = g.member(lagging.node_id());
      return m && as_u64(*m, "snapshot_index") > 0 && as_u64(*m, "applied_index") >= 400;
    },
    20s));
  kv_client local{*cs.sys, {{lagging.node_id(), lagging.cluster_address()}}, 8};
  auto v = local.get("snap/19", true, 5s);
  REQUIRE(v.result == outcome::ok);
  CHECK(v.value == std::optional<std::string>{"399"});
}

TEST_CASE("consensus: add a member, then remove one") {
  group g{3};
  auto& n4 = g.add(); // joins through the leader, is promoted once caught up
  REQUIRE(n4.wait_ready(30s));
  CHECK(eventually([&] { return g.voters() == 4; }, 30s));
  auto leader = g.leader();
  auto victim = leader == "n2" ? std::string{"n3"} : std::string{"n2"};
  auto res = troupectl({"--endpoint", g.nodes[0]->cluster_address(), "raft", "remove-member",
                        victim},
                       15s);
  INFO(res.out << res.err);
  CHECK(res.exit_code == 0);
  CHECK(eventually(
    [&] {
      auto s = g.status();
      return s && (*s)["members"].size() == 3 && !g.member(victim);
    },
    15s));
  client_system cs;
  auto addrs = g.addresses();
  addrs.erase(victim);
  kv_client c{*cs.sys, addrs, 9};
  CHECK(c.put("after-remove", "yes", 5s).result == outcome::ok);
}

namespace {

// A size-limited tmpfs as a node's data dir; skipped (with a message) where
// the test may not mount.
struct small_disk {
  std::string dir;
  bool mounted = false;
  explicit small_disk(const std::string& size) {
    char tmpl[] = "/tmp/troupe-disk-XXXXXX";
    dir = mkdtemp(tmpl);
    auto res = run_command({"/usr/bin/mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir}, 10s);
    mounted = res.exit_code == 0;
    if (!mounted)
      MESSAGE("cannot mount a tmpfs (" << res.err << "): skipping the full-disk test");
  }
  bool resize(const std::string& size) {
    return run_command({"/usr/bin/mount", "-o", "remount,size=" + size, dir}, 10s).exit_code == 0;
  }
  ~small_disk() {
    if (mounted)
      run_command({"/usr/bin/umount", "-l", dir}, 10s);
    ::rmdir(dir.c_str());
  }
};

} // namespace

TEST_CASE("consensus: a full disk refuses writes, reports unready, and loses nothing") {
  small_disk disk{"3m"};
  if (!disk.mounted)
    return;
  node_options opts{"n1", "127.0.0.2", {}, {}};
  opts.role = "consensus";
  opts.data_dir = disk.dir + "/data";
  node_process node{opts};
  REQUIRE(node.wait_ready(30s));
  client_system cs;
  kv_client c{*cs.sys, {{"n1", node.cluster_address()}}, 11};
  std::string big(200 * 1024, 'v');
  std::vector<std::string> acked;
  std::string refusal;
  for (int i = 0; i < 100 && refusal.empty(); ++i) {
    auto key = "big/" + std::to_string(i);
    auto res = c.put(key, big + std::to_string(i), 5s);
    if (res.result == outcome::ok)
      acked.push_back(key);
    else
      refusal = res.error;
  }
  INFO(node.log());
  REQUIRE_FALSE(refusal.empty());
  MESSAGE("after " << acked.size() << " writes of 200 KiB: " << refusal);
  CHECK(refusal.find("disk full") != std::string::npos);
  std::string body;
  CHECK(eventually([&] { return http_get("127.0.0.2", node.admin_port(), "/readyz?verbose", &body) == 503; }, 5s));
  CHECK(body.find("disk full") != std::string::npos);
  CHECK(node.running());
  // Free space: the member notices, restarts from storage, and every
  // acknowledged write is still there.
  REQUIRE(disk.resize("64m"));
  CHECK(node.wait_ready(30s));
  for (auto& key : acked) {
    auto v = c.get(key, false, 5s);
    CHECK_MESSAGE(v.result == outcome::ok, key << ": " << v.error);
    CHECK(v.value.has_value());
  }
  CHECK(c.put("after-full", "yes", 5s).result == outcome::ok);
}

TEST_CASE("consensus: a corrupted log entry makes the node refuse to start") {
  node_options opts{"n1", "127.0.0.2", {}, {}};
  opts.role = "consensus";
  node_process node{opts};
  REQUIRE(node.wait_ready(30s));
  {
    client_system cs;
    kv_client c{*cs.sys, {{"n1", node.cluster_address()}}, 12};
    REQUIRE(c.put("victim", "CORRUPT-ME-PLEASE-0123456789", 5s).result == outcome::ok);
  }
  REQUIRE(node.stop(SIGTERM) == std::optional<int>{0});
  // Flip one byte of every copy of the value in the LMDB file.
  auto file = node.data_dir() + "/data.mdb";
  std::string bytes;
  {
    std::ifstream in{file, std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>{in}, {});
  }
  std::string needle = "CORRUPT-ME-PLEASE";
  int flipped = 0;
  for (auto pos = bytes.find(needle); pos != std::string::npos; pos = bytes.find(needle, pos + 1)) {
    bytes[pos] = 'X';
    ++flipped;
  }
  REQUIRE(flipped > 0);
  {
    std::ofstream out{file, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  node.restart();
  auto code = node.wait_exit(20s);
  INFO(node.log());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(node.log().find("corrupt") != std::string::npos);
  CHECK(node.log().find("data.mdb") != std::string::npos);
}
