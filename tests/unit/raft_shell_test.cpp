// The Raft actor shell on the deterministic CAF fixture: three members in one
// actor system, wired by an in-memory transport, with in-memory persistence.
#include "actors/consensus/kv_service.hpp"
#include "actors/consensus/raft_shell.hpp"
#include "actors/consensus/raft_wire.hpp"
#include "tests/support/caf_test.hpp"

#include <doctest/doctest.h>

#include <caf/send.hpp>

using namespace troupe;
using namespace troupe::raft;

namespace {

constexpr auto tick = std::chrono::milliseconds{10};

// Completes writes only when the test says so.
struct deferred_persistence final : raft_persistence {
  std::vector<persist_done> waiting;
  void persist(storage::raft_write, persist_done done) override {
    waiting.push_back(std::move(done));
  }
  void complete_all() {
    for (auto& done : waiting)
      done(storage::raft_status{});
    waiting.clear();
  }
};

// A state machine that records what it applies.
struct recording_machine final : state_machine {
  explicit recording_machine(std::vector<std::string>& log) : log(log) {}
  std::string apply(const entry& e) override {
    log.push_back(e.command);
    return "ok:" + e.command;
  }
  std::string snapshot() override { return {}; }
  bool restore(const std::string&) override { return true; }
  std::vector<std::string>& log;
};

struct raft_cluster : test::caf_fixture {
  bool use_kv = false;
  std::int64_t now_ms = 1'000'000;
  std::map<node_id, caf::actor> members;
  std::map<node_id, std::vector<std::string>> applied;
  std::vector<std::pair<node_id, node_id>> sent; // (from, to)
  std::vector<std::unique_ptr<storage::memory_raft_store>> stores;

  ~raft_cluster() override {
    for (auto& [id, a] : members)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
  }

  shell_deps deps_for(node_id id, std::shared_ptr<raft_persistence> p) {
    shell_deps deps;
    deps.persistence = std::move(p);
    deps.send = [this, id](caf::event_based_actor*, node_id to, const std::string&,
                           envelope msg) {
      sent.emplace_back(id, to);
      if (auto i = members.find(to); i != members.end())
        caf::anon_send(i->second, std::move(msg));
    };
    if (use_kv)
      deps.machine = std::make_shared<kv::kv_service>(kv::service_limits{}, [this] { return now_ms; });
    else
      deps.machine = std::make_shared<recording_machine>(applied[id]);
    deps.stats = std::make_shared<shell_stats>();
    return deps;
  }

  shell_config config_for(node_id id, bool pre_vote = true) {
    shell_config cfg;
    cfg.core.id = id;
    cfg.node_name = std::to_string(id);
    cfg.core.initial.voters = {{1, "1"}, {2, "2"}, {3, "3"}};
    cfg.core.pre_vote = pre_vote;
    cfg.seed = 1000 + id;
    cfg.tick_interval = tick;
    return cfg;
  }

  void start(node_id id, std::shared_ptr<raft_persistence> p = nullptr) {
    if (!p) {
      stores.push_back(std::make_unique<storage::memory_raft_store>());
      p = std::make_shared<memory_persistence>(*stores.back());
    }
    members[id] = sys.spawn(raft_shell, config_for(id), deps_for(id, std::move(p)));
  }

  void advance(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      advance_time(tick);
      run();
    }
  }

  v1::RaftStatus status(node_id id) {
    auto reply = request<envelope>(members.at(id), pack(v1::RaftStatusRequest{}));
    REQUIRE(reply);
    auto s = unpack<v1::RaftStatus>(*reply);
    REQUIRE(s);
    return *s;
  }

  node_id await_leader() {
    for (int i = 0; i < 100; ++i) {
      advance(1);
      for (auto& [id, a] : members)
        if (status(id).role() == "leader")
          return id;
    }
    FAIL("no leader after 100 ticks");
    return no_node;
  }

  v1::ProposeReply propose(node_id id, const std::string& command) {
    v1::Propose p;
    p.set_command(command);
    auto reply = request<envelope>(members.at(id), pack(p));
    REQUIRE(reply);
    auto r = unpack<v1::ProposeReply>(*reply);
    REQUIRE(r);
    return *r;
  }
};

} // namespace

TEST_CASE("raft wire: every message survives a round trip") {
  entry cmd{3, 7, entry_kind::command, std::string{"a\0b", 3}};
  entry noop{4, 8, entry_kind::noop, {}};
  std::vector<message> all = {
    vote_request{1, 2, 5, true, 9, 4},
    vote_response{2, 1, 5, true, true},
    append_request{1, 3, 6, 6, 3, {cmd, noop}, 7, false},
    append_request{1, 3, 6, 8, 4, {}, 8, true},
    append_response{3, 1, 6, false, true, 0, 6, 4},
  };
  for (auto& m : all) {
    auto wire = to_proto(m);
    v1::RaftMessage parsed;
    REQUIRE(parsed.ParseFromString(wire.SerializeAsString()));
    auto back = from_proto(parsed);
    REQUIRE(back);
    CHECK(to_proto(*back).SerializeAsString() == wire.SerializeAsString());
    CHECK(back->index() == m.index());
  }
  auto req = std::get<append_request>(*from_proto(to_proto(all[2])));
  CHECK(req.entries == std::vector<entry>{cmd, noop});
  CHECK(req.prev_log_term == 3);
  auto resp = std::get<append_response>(*from_proto(to_proto(all[4])));
  CHECK(resp.hint_index == 4);
  CHECK(resp.rejected_index == 6);
  CHECK_FALSE(from_proto(v1::RaftMessage{}));
}

TEST_CASE("raft persistence: ready batches round-trip through a store") {
  ready batch;
  batch.state = hard_state{4, 2};
  batch.entries = {entry{4, 1, entry_kind::noop, {}}, entry{4, 2, entry_kind::command, "x"}};
  storage::memory_raft_store store;
  memory_persistence p{store};
  std::optional<storage::raft_status> result;
  p.persist(*to_write(batch), [&](const storage::raft_status& s) { result = s; });
  REQUIRE(result);
  CHECK(result->ok());
  storage::raft_log_state loaded;
  REQUIRE(store.load(loaded).ok());
  auto restored = restore(loaded);
  REQUIRE(restored);
  CHECK(restored->state == hard_state{4, 2});
  CHECK(restored->log == batch.entries);
  CHECK_FALSE(to_write(ready{}).has_value());
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: elects a leader and applies a proposal everywhere") {
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  auto reply = propose(leader, "put a=1");
  CHECK(reply.status() == v1::PROPOSE_STATUS_OK);
  CHECK(reply.result() == "ok:put a=1");
  CHECK(reply.index() >= 2); // after the leader's no-op
  advance(5); // heartbeats carry the commit index to the followers
  for (node_id id : {1, 2, 3}) {
    CAPTURE(id);
    CHECK(applied[id] == std::vector<std::string>{"put a=1"});
    CHECK(status(id).applied_index() == reply.index());
  }
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: a follower answers not_leader with a hint") {
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  advance(3); // followers learn the leader from its appends
  auto follower = leader == 1 ? node_id{2} : node_id{1};
  auto reply = propose(follower, "put b=2");
  CHECK(reply.status() == v1::PROPOSE_STATUS_NOT_LEADER);
  CHECK(reply.leader_hint() == leader);
  CHECK(applied[follower].empty());
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: nothing is sent before the write is durable") {
  auto slow = std::make_shared<deferred_persistence>();
  members[1] = sys.spawn(raft_shell, config_for(1, false), deps_for(1, slow));
  // Without pre-vote, member 1's first campaign raises its term and votes for
  // itself: a hard state to persist before its vote requests may go out.
  for (int i = 0; i < 40 && slow->waiting.empty(); ++i)
    advance(1);
  REQUIRE_FALSE(slow->waiting.empty());
  CHECK(sent.empty());
  advance(1);
  CHECK(sent.empty()); // later batches queue behind the unfinished write
  slow->complete_all();
  run();
  REQUIRE_FALSE(sent.empty());
  CHECK(sent.front().first == 1);
  CHECK(status(1).role() == "candidate");
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: a failed write stops the member") {
  struct failing final : raft_persistence {
    void persist(storage::raft_write, persist_done done) override {
      done(storage::raft_status{storage::raft_store_errc::io_error, "fsync failed"});
    }
  };
  members[1] = sys.spawn(raft_shell, config_for(1, false),
                         deps_for(1, std::make_shared<failing>()));
  auto exit = watch_exit(members[1]);
  for (int i = 0; i < 40 && !exit->has_value(); ++i)
    advance(1);
  REQUIRE(exit->has_value());
  CHECK(is(**exit, errc::storage_failure));
  CHECK(sent.empty());
  members.erase(1);
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: a full disk pauses the member until a write succeeds") {
  // The first write fails with no_space; probes fail twice more, then pass.
  struct filling final : raft_persistence {
    int failures = 3;
    int writes = 0;
    void persist(storage::raft_write, persist_done done) override {
      ++writes;
      if (failures > 0) {
        --failures;
        done(storage::raft_status{storage::raft_store_errc::no_space, "MDB_MAP_FULL"});
        return;
      }
      done(storage::raft_status{});
    }
  };
  auto disk = std::make_shared<filling>();
  auto cfg = config_for(1, false);
  cfg.disk_probe_ticks = 5;
  auto deps = deps_for(1, disk);
  auto stats = deps.stats;
  members[1] = sys.spawn(raft_shell, cfg, deps);
  auto exit = watch_exit(members[1]);
  for (int i = 0; i < 40 && !stats->disk_full.load(); ++i)
    advance(1);
  REQUIRE(stats->disk_full.load());
  CHECK(sent.empty()); // nothing of the failed batch went out
  CHECK(status(1).role() == "paused (disk full)");
  auto reply = propose(1, "x");
  CHECK(reply.status() == v1::PROPOSE_STATUS_STOPPED);
  CHECK(reply.error_message().find("disk full") != std::string::npos);
  CHECK_FALSE(exit->has_value());
  for (int i = 0; i < 40 && !exit->has_value(); ++i)
    advance(1);
  // Once a probe write succeeds, the member exits so that its supervisor
  // restarts it from what storage holds.
  REQUIRE(exit->has_value());
  CHECK(is(**exit, errc::storage_failure));
  CHECK(disk->writes == 4);
  CHECK(sent.empty());
  members.erase(1);
}

namespace {

v1::KvReply kv_call(raft_cluster& c, node_id id, const v1::KvRequest& req) {
  auto reply = c.template request<envelope>(c.members.at(id), pack(req));
  REQUIRE(reply);
  auto r = unpack<v1::KvReply>(*reply);
  REQUIRE(r);
  return *r;
}

v1::KvRequest put_request(std::string key, std::string value, std::uint64_t request_id) {
  v1::KvRequest req;
  req.set_client_id(42);
  req.set_request_id(request_id);
  req.mutable_put()->set_key(std::move(key));
  req.mutable_put()->set_value(std::move(value));
  return req;
}

v1::KvRequest get_request(std::string key, bool serializable) {
  v1::KvRequest req;
  req.mutable_range()->set_key(std::move(key));
  req.mutable_range()->set_serializable(serializable);
  return req;
}

} // namespace

TEST_CASE_FIXTURE(raft_cluster, "kv service: writes, linearizable reads, redirects and retries") {
  use_kv = true;
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  advance(3);
  auto follower = leader == 1 ? node_id{2} : node_id{1};
  auto put = kv_call(*this, leader, put_request("k", "v1", 1));
  CHECK(put.status() == v1::KV_STATUS_OK);
  CHECK(put.header().revision() == 1);
  CHECK(put.header().member_id() == leader);
  // A retry of the same request id is answered from the exactly-once table.
  auto again = kv_call(*this, leader, put_request("k", "v1", 1));
  CHECK(again.status() == v1::KV_STATUS_OK);
  CHECK(again.header().revision() == 1);
  auto get = kv_call(*this, leader, get_request("k", false));
  REQUIRE(get.status() == v1::KV_STATUS_OK);
  REQUIRE(get.range().kvs_size() == 1);
  CHECK(get.range().kvs(0).value() == "v1");
  // Followers redirect writes and linearizable reads to the leader by node
  // id, and serve serializable reads from their replica.
  auto redirected = kv_call(*this, follower, put_request("k", "v2", 2));
  CHECK(redirected.status() == v1::KV_STATUS_NOT_LEADER);
  CHECK(redirected.leader_node() == std::to_string(leader));
  CHECK(kv_call(*this, follower, get_request("k", false)).status() == v1::KV_STATUS_NOT_LEADER);
  advance(5);
  auto local = kv_call(*this, follower, get_request("k", true));
  REQUIRE(local.status() == v1::KV_STATUS_OK);
  REQUIRE(local.range().kvs_size() == 1);
  CHECK(local.range().kvs(0).value() == "v1");
}

TEST_CASE_FIXTURE(raft_cluster, "kv service: a value above the limit is refused naming it") {
  use_kv = true;
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  auto big = kv_call(*this, leader, put_request("k", std::string((1 << 20) + 1, 'x'), 1));
  CHECK(big.status() == v1::KV_STATUS_LIMIT_EXCEEDED);
  CHECK(big.error_message().find("max_value_bytes=1048576") != std::string::npos);
}

TEST_CASE_FIXTURE(raft_cluster, "kv service: a long-polling watch is answered by the next write") {
  use_kv = true;
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  advance(3);
  auto follower = leader == 1 ? node_id{2} : node_id{1};
  v1::WatchRequest watch;
  watch.set_key("w/");
  watch.set_range_end(kv::prefix_end("w/"));
  watch.set_wait_ms(10'000);
  std::optional<v1::WatchResponse> got;
  auto client = sys.spawn([&](caf::event_based_actor* self) {
    self->request(members.at(follower), std::chrono::seconds{30}, pack(watch))
      .then([&](const envelope& e) { got = *unpack<v1::WatchResponse>(e); });
  });
  run();
  CHECK_FALSE(got.has_value()); // parked: nothing written yet
  CHECK(kv_call(*this, leader, put_request("w/1", "x", 1)).status() == v1::KV_STATUS_OK);
  advance(5); // the follower applies the put
  REQUIRE(got.has_value());
  REQUIRE(got->events_size() == 1);
  CHECK(got->events(0).kv().key() == "w/1");
  CHECK(got->next_revision() == 2);
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(raft_cluster, "kv service: a new leader gives every lease a full TTL before expiring it") {
  use_kv = true;
  for (node_id id : {1, 2, 3})
    start(id);
  auto leader = await_leader();
  advance(3);
  v1::KvRequest grant;
  grant.mutable_lease_grant()->set_ttl_seconds(2);
  auto granted = kv_call(*this, leader, grant);
  REQUIRE(granted.status() == v1::KV_STATUS_OK);
  auto put = put_request("leased", "v", 1);
  put.mutable_put()->set_lease(granted.lease_grant().id());
  REQUIRE(kv_call(*this, leader, put).status() == v1::KV_STATUS_OK);
  auto present = [&](node_id id) {
    auto r = kv_call(*this, id, get_request("leased", true));
    return r.range().kvs_size() == 1;
  };
  // Leadership moves 1.9 s into the 2 s lease.
  now_ms += 1900;
  auto target = leader == 1 ? node_id{2} : node_id{1};
  v1::RaftTransferLeader transfer;
  transfer.set_node_id(std::to_string(target));
  auto moved = request<envelope>(members.at(leader), pack(transfer));
  advance(30);
  REQUIRE(status(target).role() == "leader");
  // Past the lease's deadline, but within a TTL of the new leader taking
  // over: the lease lives on.
  now_ms += 600;
  advance(10);
  CHECK(present(target));
  // A full TTL after the takeover, with no keepalive: the leader revokes it
  // through the log, on every member.
  now_ms += 1600;
  advance(10);
  CHECK_FALSE(present(target));
  advance(5);
  CHECK_FALSE(present(leader));
}

TEST_CASE_FIXTURE(raft_cluster, "raft shell: heartbeat answers do not wait behind a slow write") {
  auto slow = std::make_shared<deferred_persistence>();
  start(2);
  start(3);
  auto cfg = config_for(1);
  cfg.core.election_timeout_ticks = 1000; // member 1 never leads here
  members[1] = sys.spawn(raft_shell, cfg, deps_for(1, slow));
  node_id leader = no_node;
  for (int i = 0; i < 200 && leader == no_node; ++i) {
    advance(1);
    slow->complete_all();
    run();
    for (node_id id : {2, 3})
      if (status(id).role() == "leader")
        leader = id;
  }
  REQUIRE(leader != no_node);
  for (int i = 0; i < 10; ++i) {
    advance(1);
    slow->complete_all();
    run();
  }
  REQUIRE(slow->waiting.empty());
  // New entries reach member 1, whose write of them hangs.
  CHECK(propose(leader, "x").status() == v1::PROPOSE_STATUS_OK);
  REQUIRE_FALSE(slow->waiting.empty());
  sent.clear();
  advance(6); // three heartbeat rounds
  auto from_1 = std::count_if(sent.begin(), sent.end(), [](auto& p) { return p.first == 1; });
  CHECK(from_1 >= 2);
  CHECK_FALSE(slow->waiting.empty());
  // The leader still counts member 1 as matching only what it durably has.
  auto s = status(leader);
  for (auto& m : s.members())
    if (m.member_id() == 1)
      CHECK(m.match_index() < s.last_index());
  slow->complete_all();
  run();
  advance(2);
  s = status(leader);
  for (auto& m : s.members())
    if (m.member_id() == 1)
      CHECK(m.match_index() == s.last_index());
}
