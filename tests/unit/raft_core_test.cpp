// Unit tests of troupe::raft::raft_core without actors: a few members wired by
// a hand-driven in-memory network, so each test controls exactly which
// messages arrive.
#include "actors/consensus/raft_core.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>

using namespace troupe::raft;

namespace {

config make_config(node_id id, std::vector<node_id> members) {
  config cfg;
  cfg.id = id;
  for (auto m : members) cfg.initial.voters.emplace(m, std::to_string(m));
  cfg.election_timeout_ticks = 10;
  cfg.heartbeat_interval_ticks = 2;
  return cfg;
}

/// Members plus a FIFO network. Ready batches are drained right after each
/// input, persisted to `disk`, and their messages queued.
struct cluster {
  std::map<node_id, std::unique_ptr<raft_core>> nodes;
  std::map<node_id, persisted_state> disk;
  std::map<node_id, std::vector<entry>> applied;
  std::map<node_id, std::vector<read_state>> reads;
  std::map<node_id, int> snaps_received;
  std::map<node_id, std::vector<std::uint64_t>> failed_reads;
  std::deque<message> network;
  std::set<node_id> isolated; // messages to or from these are dropped

  explicit cluster(std::size_t size, std::map<node_id, persisted_state> restored = {},
                   std::function<void(config&)> tweak = {}) {
    std::vector<node_id> ids;
    for (node_id id = 1; id <= size; ++id)
      ids.push_back(id);
    for (auto id : ids) {
      auto cfg = make_config(id, ids);
      if (tweak)
        tweak(cfg);
      disk[id] = restored[id];
      nodes[id] = std::make_unique<raft_core>(cfg, restored[id], 1000 + id);
    }
  }

  raft_core& at(node_id id) { return *nodes.at(id); }

  /// A fresh member that knows no membership: it waits to be added.
  void add_node(node_id id) {
    auto cfg = make_config(id, {});
    disk[id] = {};
    nodes[id] = std::make_unique<raft_core>(cfg, persisted_state{}, 1000 + id);
  }

  /// Proposes `change` on `leader` and lets it commit.
  void change(node_id leader, membership_change change) {
    REQUIRE(at(leader).propose_change(change));
    drain(leader);
    deliver();
    settle(3);
  }

  void drain(node_id id) {
    auto r = at(id).take_ready();
    auto& d = disk[id];
    if (r.snap) {
      d.snap = r.snap;
      if (r.snap_received) {
        d.log.clear();
        ++snaps_received[id];
      }
    }
    if (r.state)
      d.state = *r.state;
    if (!r.entries.empty()) {
      auto front = r.entries.front().index;
      while (!d.log.empty() && d.log.back().index >= front)
        d.log.pop_back();
      d.log.insert(d.log.end(), r.entries.begin(), r.entries.end());
    }
    while (r.compact_before != 0 && !d.log.empty() && d.log.front().index < r.compact_before)
      d.log.erase(d.log.begin());
    for (auto& m : r.messages)
      network.push_back(std::move(m));
    for (auto& e : r.committed)
      applied[id].push_back(e);
    for (auto& x : r.reads)
      reads[id].push_back(x);
    for (auto x : r.failed_reads)
      failed_reads[id].push_back(x);
  }

  void tick(node_id id) {
    at(id).tick();
    drain(id);
  }

  void tick_all() {
    for (auto& [id, node] : nodes)
      tick(id);
  }

  /// Delivers queued messages (and the ones they cause) until none are left.
  /// Messages `keep` rejects are dropped.
  void deliver(const std::function<bool(const message&)>& keep = {}) {
    for (int budget = 100000; !network.empty() && budget > 0; --budget) {
      auto m = std::move(network.front());
      network.pop_front();
      auto from = message_from(m);
      auto to = message_to(m);
      if (isolated.count(from) || isolated.count(to) || (keep && !keep(m)))
        continue;
      at(to).step(m);
      drain(to);
    }
  }

  /// Ticks everyone (delivering in between) until some member leads.
  node_id elect(int max_ticks = 200) {
    for (int i = 0; i < max_ticks; ++i) {
      for (auto& [id, node] : nodes)
        if (node->current_role() == role::leader && !isolated.count(id))
          return id;
      tick_all();
      deliver();
    }
    return no_node;
  }

  std::size_t leader_count() const {
    std::size_t n = 0;
    for (auto& [id, node] : nodes)
      n += node->current_role() == role::leader ? 1 : 0;
    return n;
  }

  /// Ticks and delivers `n` rounds (lets heartbeats spread the commit index).
  void settle(int n = 5) {
    for (int i = 0; i < n; ++i) {
      tick_all();
      deliver();
    }
  }
};

std::vector<std::string> commands(const std::vector<entry>& entries) {
  std::vector<std::string> out;
  for (auto& e : entries)
    if (e.kind == entry_kind::command)
      out.push_back(e.command);
  return out;
}

entry make_entry(term_t term, index_t index, std::string command) {
  return entry{term, index, entry_kind::command, std::move(command)};
}

} // namespace

TEST_CASE("raft: a single-member cluster elects itself and commits") {
  cluster c{1};
  auto leader = c.elect();
  REQUIRE(leader == 1);
  CHECK(c.at(1).term() == 1);
  auto result = c.at(1).propose("x");
  REQUIRE(result);
  CHECK(result.accepted->index == 2); // after the leader's no-op
  c.drain(1);
  CHECK(c.at(1).commit_index() == 2);
  CHECK(commands(c.applied[1]) == std::vector<std::string>{"x"});
  CHECK(c.disk[1].log.size() == 2);
  CHECK(c.disk[1].state.term == 1);
  CHECK(c.disk[1].state.voted_for == 1);
}

TEST_CASE("raft: three members elect exactly one leader and replicate") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  CHECK(c.leader_count() == 1);
  for (auto& [id, node] : c.nodes) {
    CHECK(node->leader() == leader);
    CHECK(node->term() == c.at(leader).term());
  }
  REQUIRE(c.at(leader).propose("a"));
  REQUIRE(c.at(leader).propose("b"));
  c.drain(leader);
  c.deliver();
  c.settle(3);
  for (node_id id = 1; id <= 3; ++id)
    CHECK(commands(c.applied[id]) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("raft: messages from a stale term are rejected") {
  std::map<node_id, persisted_state> restored;
  restored[1].state.term = 5;
  cluster c{3, restored};
  c.at(1).step(append_request{2, 1, 3, 0, 0, {make_entry(3, 1, "stale")}, 1, false});
  c.at(1).step(vote_request{3, 1, 4, false, 10, 4});
  auto r = c.at(1).take_ready();
  CHECK(c.at(1).log().last_index() == 0);
  CHECK(c.at(1).term() == 5);
  CHECK(c.at(1).voted_for() == no_node);
  REQUIRE(r.messages.size() == 2);
  auto& append = std::get<append_response>(r.messages[0]);
  CHECK_FALSE(append.success);
  CHECK(append.term == 5);
  auto& vote = std::get<vote_response>(r.messages[1]);
  CHECK_FALSE(vote.granted);
  CHECK(vote.term == 5);
}

TEST_CASE("raft: pre-vote keeps a partitioned member from inflating terms") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  node_id outcast = leader == 3 ? 2 : 3;
  auto term = c.at(leader).term();
  c.isolated.insert(outcast);
  for (int i = 0; i < 100; ++i) {
    c.tick_all();
    c.deliver();
  }
  CHECK(c.at(outcast).term() == term); // it campaigned only in pre-vote
  CHECK(c.at(outcast).current_role() == role::pre_candidate);
  c.isolated.clear();
  c.settle(10);
  CHECK(c.at(leader).current_role() == role::leader);
  CHECK(c.at(leader).term() == term);
  CHECK(c.at(outcast).leader() == leader);

  SUBCASE("without pre-vote the rejoining member deposes the leader") {
    cluster plain{3, {}, [](config& cfg) { cfg.pre_vote = false; }};
    auto old_leader = plain.elect();
    REQUIRE(old_leader != no_node);
    node_id other = old_leader == 3 ? 2 : 3;
    auto old_term = plain.at(old_leader).term();
    plain.isolated.insert(other);
    for (int i = 0; i < 100; ++i) {
      plain.tick_all();
      plain.deliver();
    }
    CHECK(plain.at(other).term() > old_term + 2);
  }
}

TEST_CASE("raft: a refused higher-term vote request does not restart the election timer") {
  // Paper, Figure 2: only hearing from the leader or granting a vote restarts
  // it. Member 2's log is behind, so it can never win; if each of its vote
  // requests restarted member 1's timer, member 1 (the only one that can win)
  // would never campaign (the simulation's seed 11630).
  std::map<node_id, persisted_state> restored;
  restored[1] = {{1, 0}, {make_entry(1, 1, "a")}, {}};
  cluster c{2, restored, [](config& cfg) {
              cfg.pre_vote = false;
              cfg.check_quorum = false;
            }};
  bool campaigned = false;
  int ticks = 0;
  for (; ticks < 100 && !campaigned; ++ticks) {
    if (ticks % 5 == 0) {
      auto term = c.at(1).term() + 1;
      c.at(1).step(vote_request{2, 1, term, false, 0, 0});
      c.drain(1);
      REQUIRE(c.at(1).term() == term);
      REQUIRE(c.at(1).voted_for() == no_node); // refused: its log is behind
    }
    c.tick(1);
    campaigned = c.at(1).current_role() == role::candidate;
  }
  CHECK(campaigned);
  CHECK(ticks < 20); // within its first randomized timeout, [10, 20)
}

TEST_CASE("raft: check-quorum makes an isolated leader step down") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.isolated.insert(leader);
  for (int i = 0; i < 25; ++i) { // two election timeouts
    c.tick(leader);
    c.deliver();
  }
  CHECK(c.at(leader).current_role() == role::follower);
  CHECK(c.at(leader).leader() == no_node);
  CHECK(c.at(leader).propose("lost").error == propose_error::not_leader);

  SUBCASE("without check-quorum it would keep leading") {
    cluster plain{3, {}, [](config& cfg) { cfg.check_quorum = false; }};
    auto old = plain.elect();
    REQUIRE(old != no_node);
    plain.isolated.insert(old);
    for (int i = 0; i < 25; ++i) {
      plain.tick(old);
      plain.deliver();
    }
    CHECK(plain.at(old).current_role() == role::leader);
  }
}

TEST_CASE("raft: a follower's divergent uncommitted entries are overwritten") {
  std::map<node_id, persisted_state> restored;
  restored[1] = {{3, 1}, {make_entry(1, 1, "a"), make_entry(3, 2, "c")}, {}};
  restored[2] = {{2, 2},
                 {make_entry(1, 1, "a"), make_entry(2, 2, "x"), make_entry(2, 3, "y"),
                  make_entry(2, 4, "z")}, {}};
  restored[3] = {{3, 1}, {make_entry(1, 1, "a"), make_entry(3, 2, "c")}, {}};
  cluster c{3, restored};
  // Node 2 can't win: its last term (2) is behind the others' (3).
  auto leader = c.elect();
  REQUIRE((leader == 1 || leader == 3));
  REQUIRE(c.at(leader).propose("d"));
  c.drain(leader);
  c.deliver();
  c.settle(3);
  auto expected = std::vector<std::string>{"a", "c", "d"};
  for (node_id id = 1; id <= 3; ++id) {
    CHECK(commands(c.applied[id]) == expected);
    CHECK(commands(c.disk[id].log) == expected);
  }
  CHECK(c.at(2).log().last_index() == c.at(leader).log().last_index());
}

TEST_CASE("raft: only entries of the current term commit by counting (Figure 8)") {
  // Node 1 holds an entry of term 2 that node 2 also has. Elected in term 3,
  // node 1 must not commit index 2 when a majority holds it; only when its
  // own term-3 no-op (index 3) reaches a majority does index 2 commit.
  std::map<node_id, persisted_state> restored;
  std::vector<entry> log{make_entry(1, 1, "a"), make_entry(2, 2, "b")};
  restored[1] = {{2, 1}, log, {}};
  restored[2] = {{2, 1}, log, {}};
  restored[3] = {{2, 1}, {make_entry(1, 1, "a")}, {}};
  cluster c{3, restored};
  while (c.at(1).current_role() != role::pre_candidate)
    c.tick(1);
  // Let only votes through: node 1 wins without replicating anything.
  c.deliver([](const message& m) {
    return std::holds_alternative<vote_request>(m) || std::holds_alternative<vote_response>(m);
  });
  REQUIRE(c.at(1).current_role() == role::leader);
  REQUIRE(c.at(1).term() == 3);
  REQUIRE(c.at(1).log().last_index() == 3);
  c.network.clear();
  auto ack = [&](index_t match) {
    append_response r;
    r.from = 2;
    r.to = 1;
    r.term = 3;
    r.success = true;
    r.match_index = match;
    c.at(1).step(r);
  };
  ack(2);
  CHECK(c.at(1).match_index(2) == 2);
  CHECK(c.at(1).commit_index() == 0);
  ack(3);
  CHECK(c.at(1).commit_index() == 3);
}

TEST_CASE("raft: propose on a follower returns not_leader with a hint") {
  cluster c{3};
  CHECK(c.at(1).propose("early").error == propose_error::not_leader);
  CHECK(c.at(1).propose("early").leader_hint == no_node);
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  node_id follower = leader == 1 ? 2 : 1;
  auto result = c.at(follower).propose("x");
  CHECK_FALSE(result);
  CHECK(result.error == propose_error::not_leader);
  CHECK(result.leader_hint == leader);
}

TEST_CASE("raft: appends are batched and pipelined within their limits") {
  cluster c{3, {}, [](config& cfg) {
              cfg.max_entries_per_append = 2;
              cfg.max_inflight_appends = 3;
            }};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  for (int i = 0; i < 10; ++i)
    REQUIRE(c.at(leader).propose("p" + std::to_string(i)));
  c.drain(leader);
  std::map<node_id, int> appends;
  for (auto& m : c.network) {
    if (auto* a = std::get_if<append_request>(&m); a && !a->entries.empty()) {
      CHECK(a->entries.size() <= 2);
      ++appends[a->to];
    }
  }
  for (auto& [peer, count] : appends)
    CHECK(count <= 3);
  c.deliver();
  c.settle(3);
  for (node_id id = 1; id <= 3; ++id)
    CHECK(commands(c.applied[id]).size() == 10);
}

TEST_CASE("raft: the leader refuses proposals beyond its uncommitted limit") {
  cluster c{3, {}, [](config& cfg) { cfg.max_uncommitted_entries = 3; }};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  c.isolated = {1, 2, 3}; // nothing can commit
  int accepted = 0;
  propose_result last;
  for (int i = 0; i < 5; ++i) {
    last = c.at(leader).propose("p");
    accepted += last ? 1 : 0;
  }
  CHECK(accepted == 3);
  CHECK(last.error == propose_error::overloaded);
}

TEST_CASE("raft: a corrupt restored log or bad config is refused") {
  persisted_state gap{{1, 0}, {make_entry(1, 1, "a"), make_entry(1, 3, "c")}, {}};
  CHECK_THROWS_AS(raft_core(make_config(1, {1, 2, 3}), gap, 1), invariant_violation);
  CHECK_THROWS_AS(raft_core(make_config(0, {1, 2, 3}), {}, 1), invariant_violation);
}

// -- ReadIndex -------------------------------------------------------------------

namespace {

bool is_vote(const message& m) {
  return std::holds_alternative<vote_request>(m) || std::holds_alternative<vote_response>(m);
}

} // namespace

TEST_CASE("raft read index: a single voter confirms at once") {
  cluster c{1};
  REQUIRE(c.elect() == 1);
  c.drain(1);
  auto result = c.at(1).read_index(7);
  REQUIRE(result);
  CHECK(result.accepted->index == c.at(1).commit_index());
  c.drain(1);
  REQUIRE(c.reads[1].size() == 1);
  CHECK(c.reads[1][0].context == 7);
  CHECK(c.reads[1][0].index == c.at(1).commit_index());
}

TEST_CASE("raft read index: waits for the term's first commit and a quorum round") {
  cluster c{3};
  while (c.at(1).current_role() != role::pre_candidate)
    c.tick(1);
  c.deliver(is_vote); // node 1 wins; its no-op is not replicated yet
  REQUIRE(c.at(1).current_role() == role::leader);
  c.network.clear();
  REQUIRE(c.at(1).commit_index() == 0);
  auto result = c.at(1).read_index(1);
  REQUIRE(result);
  CHECK(result.accepted->index == 0); // not known yet
  c.drain(1);
  // Heartbeats are echoed by everyone, but nothing of this term has committed:
  // the leader cannot know the commit index yet, so the read must wait.
  c.deliver([](const message& m) {
    if (auto* a = std::get_if<append_request>(&m))
      return a->heartbeat;
    if (auto* a = std::get_if<append_response>(&m))
      return a->heartbeat;
    return false;
  });
  CHECK(c.reads[1].empty());
  c.settle(2); // the no-op commits
  REQUIRE(c.reads[1].size() == 1);
  CHECK(c.reads[1][0].index == 1);

  SUBCASE("a later read waits for a quorum of echoes") {
    REQUIRE(c.at(1).propose("x"));
    c.drain(1);
    c.deliver();
    c.settle(2);
    auto commit = c.at(1).commit_index();
    REQUIRE(c.at(1).read_index(2));
    c.drain(1);
    c.network.clear(); // the confirming round is lost
    CHECK(c.reads[1].size() == 1);
    c.isolated = {3}; // the leader and one echo are a quorum of three
    c.settle(2);       // the next heartbeat carries the read again
    REQUIRE(c.reads[1].size() == 2);
    CHECK(c.reads[1][1].context == 2);
    CHECK(c.reads[1][1].index == commit);
  }
}

TEST_CASE("raft read index: a partitioned old leader never confirms, then fails the read") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  c.isolated.insert(leader);
  REQUIRE(c.at(leader).read_index(42));
  c.drain(leader);
  // The majority elects a new leader and commits past the old commit index.
  for (int i = 0; i < 60; ++i) {
    c.tick_all();
    c.deliver();
  }
  CHECK(c.reads[leader].empty());
  // Check-quorum made it step down, which fails the read.
  CHECK(c.at(leader).current_role() != role::leader);
  CHECK(c.failed_reads[leader] == std::vector<std::uint64_t>{42});

  SUBCASE("without check-quorum it stays pending forever") {
    cluster plain{3, {}, [](config& cfg) { cfg.check_quorum = false; }};
    auto old = plain.elect();
    REQUIRE(old != no_node);
    plain.settle(2);
    plain.isolated.insert(old);
    REQUIRE(plain.at(old).read_index(42));
    for (int i = 0; i < 60; ++i) {
      plain.tick_all();
      plain.deliver();
    }
    CHECK(plain.at(old).current_role() == role::leader);
    CHECK(plain.reads[old].empty());
    CHECK(plain.failed_reads[old].empty());
  }
}

TEST_CASE("raft read index: refused on followers and beyond max_pending_reads") {
  cluster c{3, {}, [](config& cfg) { cfg.max_pending_reads = 2; }};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  node_id follower = leader == 1 ? 2 : 1;
  auto refused = c.at(follower).read_index(1);
  CHECK_FALSE(refused);
  CHECK(refused.error == propose_error::not_leader);
  CHECK(refused.leader_hint == leader);
  c.isolated = {1, 2, 3};
  CHECK(c.at(leader).read_index(1));
  CHECK(c.at(leader).read_index(2));
  auto third = c.at(leader).read_index(3);
  CHECK_FALSE(third);
  CHECK(third.error == propose_error::overloaded);
}

// -- leadership transfer -----------------------------------------------------------

TEST_CASE("raft transfer: the target leads in the next term") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  auto term = c.at(leader).term();
  node_id target = leader == 3 ? 1 : leader + 1;
  auto result = c.at(leader).transfer_leadership(target);
  REQUIRE(result);
  CHECK(c.at(leader).transferring());
  auto refused = c.at(leader).propose("during");
  CHECK(refused.error == propose_error::not_leader);
  CHECK(refused.leader_hint == target);
  c.drain(leader);
  // Every follower is inside the old leader's lease (check-quorum is on), so
  // only the transfer flag lets the target's vote requests through.
  c.deliver();
  CHECK(c.at(target).current_role() == role::leader);
  CHECK(c.at(target).term() == term + 1);
  CHECK(c.at(leader).current_role() == role::follower);
  CHECK_FALSE(c.at(leader).transferring());
  CHECK(c.leader_count() == 1);
  CHECK(c.at(target).propose("after"));
}

TEST_CASE("raft transfer: a lagging target catches up first") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  node_id target = leader == 3 ? 1 : leader + 1;
  c.isolated = {target};
  for (int i = 0; i < 5; ++i)
    REQUIRE(c.at(leader).propose("p" + std::to_string(i)));
  c.drain(leader);
  c.deliver();
  c.settle(2);
  c.isolated.clear();
  REQUIRE(c.at(target).log().last_index() < c.at(leader).log().last_index());
  auto last = c.at(leader).log().last_index();
  REQUIRE(c.at(leader).transfer_leadership(target));
  c.drain(leader);
  // No timeout_now before the target holds the whole log.
  for (auto& m : c.network)
    CHECK_FALSE(std::holds_alternative<timeout_now>(m));
  c.deliver();
  c.settle(2);
  REQUIRE(c.at(target).current_role() == role::leader);
  CHECK(c.at(target).log().at(last).term == c.at(leader).log().at(last).term);
  CHECK(commands(c.applied[target]).size() == 5);
}

TEST_CASE("raft transfer: refused targets, and abandoned after the timeout") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  node_id target = leader == 3 ? 1 : leader + 1;
  node_id other = 6 - leader - target;
  CHECK(c.at(leader).transfer_leadership(leader).error == propose_error::rejected);
  CHECK(c.at(leader).transfer_leadership(99).error == propose_error::rejected);
  CHECK(c.at(other).transfer_leadership(target).error == propose_error::not_leader);
  CHECK_FALSE(c.at(leader).transferring());

  c.isolated = {target};
  REQUIRE(c.at(leader).transfer_leadership(target));
  c.drain(leader);
  c.network.clear();
  for (int i = 0; i < 9; ++i) { // transfer_timeout_ticks is 10
    c.tick_all();
    c.deliver();
  }
  CHECK(c.at(leader).transferring());
  CHECK_FALSE(c.at(leader).propose("x"));
  c.tick_all();
  c.deliver();
  CHECK_FALSE(c.at(leader).transferring());
  CHECK(c.at(leader).current_role() == role::leader);
  CHECK(c.at(leader).propose("x"));
}

// -- membership change -------------------------------------------------------------

namespace {

node_id other_than(std::initializer_list<node_id> not_these, node_id max = 3) {
  for (node_id id = 1; id <= max; ++id)
    if (std::find(not_these.begin(), not_these.end(), id) == not_these.end())
      return id;
  return no_node;
}

} // namespace

TEST_CASE("raft membership: a fresh member without a membership never campaigns") {
  cluster c{1};
  c.add_node(2);
  for (int i = 0; i < 100; ++i)
    c.tick(2);
  CHECK(c.at(2).current_role() == role::follower);
  CHECK(c.at(2).term() == 0);
  CHECK(c.network.empty());
}

TEST_CASE("raft membership: a learner replicates but does not count for quorum") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  REQUIRE(c.at(leader).propose("before"));
  c.drain(leader);
  c.deliver();
  c.add_node(4);
  c.change(leader, {change_kind::add_learner, 4, "four"});
  CHECK(c.at(leader).members().learners.count(4));
  CHECK(c.at(4).members() == c.at(leader).members());
  CHECK(c.at(4).log().last_index() == c.at(leader).log().last_index());
  CHECK(commands(c.applied[4]) == std::vector<std::string>{"before"});
  CHECK(c.at(leader).match_index(4) == c.at(leader).log().last_index());

  // Leader plus learner are not a majority of three voters.
  node_id a = other_than({leader});
  node_id b = other_than({leader, a});
  c.isolated = {a, b};
  auto commit = c.at(leader).commit_index();
  REQUIRE(c.at(leader).propose("alone"));
  c.drain(leader);
  c.deliver();
  c.settle(3);
  CHECK(c.at(leader).commit_index() == commit);
  CHECK(c.at(4).log().last_index() == c.at(leader).log().last_index());
  // And the learner never campaigns, however long it hears nothing.
  c.isolated = {leader, a, b};
  for (int i = 0; i < 100; ++i)
    c.tick(4);
  CHECK(c.at(4).current_role() == role::follower);
}

TEST_CASE("raft membership: promoting a learner changes the quorum") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  c.add_node(4);
  c.change(leader, {change_kind::add_learner, 4, "four"});
  c.change(leader, {change_kind::promote, 4, {}});
  CHECK(c.at(leader).members().voters.size() == 4);
  CHECK(c.at(leader).members().learners.empty());
  node_id a = other_than({leader});
  node_id b = other_than({leader, a});
  // Leader and one other voter: a majority of three, not of four.
  c.isolated = {b, 4};
  auto commit = c.at(leader).commit_index();
  REQUIRE(c.at(leader).propose("two of four"));
  c.drain(leader);
  c.deliver();
  c.settle(3);
  CHECK(c.at(leader).commit_index() == commit);
  // The promoted member's copy makes three of four.
  c.isolated = {b};
  c.settle(3);
  CHECK(c.at(leader).commit_index() > commit);
}

TEST_CASE("raft membership: a removed leader steps down once the removal commits") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  auto term = c.at(leader).term();
  REQUIRE(c.at(leader).propose_change({change_kind::remove, leader, {}}));
  CHECK(c.at(leader).current_role() == role::leader); // until it commits
  CHECK_FALSE(c.at(leader).members().contains(leader));
  c.drain(leader);
  c.deliver();
  CHECK(c.at(leader).current_role() == role::follower);
  CHECK(c.at(leader).term() == term);
  // The other two elect a leader between them; the old one never campaigns.
  c.network.clear();
  auto next = c.elect();
  REQUIRE(next != no_node);
  CHECK(next != leader);
  c.settle(30);
  CHECK(c.at(leader).current_role() == role::follower);
  REQUIRE(c.at(next).propose("after"));
  c.drain(next);
  c.deliver();
  c.settle(3);
  CHECK(commands(c.applied[other_than({leader, next})]) == std::vector<std::string>{"after"});
}

TEST_CASE("raft membership: a removed follower gets no more messages") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  node_id gone = other_than({leader});
  c.change(leader, {change_kind::remove, gone, {}});
  CHECK(c.at(leader).members().voters.size() == 2);
  c.network.clear();
  c.isolated = {gone}; // keep it from disturbing (an operator would stop it)
  for (int i = 0; i < 30; ++i) {
    c.tick(leader);
    for (auto& m : c.network)
      CHECK(message_to(m) != gone);
    c.deliver();
  }
  REQUIRE(c.at(leader).propose("x"));
  c.drain(leader);
  c.deliver();
  c.settle(2);
  CHECK(commands(c.applied[leader]) == std::vector<std::string>{"x"});
}

TEST_CASE("raft membership: one change at a time, and only changes that fit") {
  cluster c{3};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  auto rejected = [&](membership_change change) {
    return c.at(leader).propose_change(change).error == propose_error::rejected;
  };
  CHECK(rejected({change_kind::add_learner, leader, "again"}));
  CHECK(rejected({change_kind::add_learner, no_node, "zero"}));
  CHECK(rejected({change_kind::promote, other_than({leader}), {}})); // already a voter
  CHECK(rejected({change_kind::remove, 9, {}}));
  node_id follower = other_than({leader});
  CHECK(c.at(follower).propose_change({change_kind::add_learner, 4, "4"}).error
        == propose_error::not_leader);

  c.isolated = {1, 2, 3}; // nothing commits
  REQUIRE(c.at(leader).propose_change({change_kind::add_learner, 4, "4"}));
  CHECK(rejected({change_kind::add_learner, 5, "5"}));
  CHECK(rejected({change_kind::promote, 4, {}}));
}

TEST_CASE("raft membership: a new leader changes nothing before its term's first commit") {
  cluster c{3};
  while (c.at(1).current_role() != role::pre_candidate)
    c.tick(1);
  c.deliver(is_vote);
  REQUIRE(c.at(1).current_role() == role::leader);
  CHECK(c.at(1).propose_change({change_kind::add_learner, 4, "4"}).error
        == propose_error::rejected);
  c.settle(2);
  CHECK(c.at(1).propose_change({change_kind::add_learner, 4, "4"}));
}

TEST_CASE("raft membership: a truncated config entry takes its membership with it") {
  membership three;
  for (node_id id = 1; id <= 3; ++id)
    three.voters.emplace(id, std::to_string(id));
  auto with_learner = three;
  with_learner.learners.emplace(9, "9");
  std::map<node_id, persisted_state> restored;
  restored[1] = {{3, 1}, {make_entry(1, 1, "a"), make_entry(3, 2, "c")}, {}};
  restored[2] = {{2, 2},
                 {make_entry(1, 1, "a"),
                  entry{2, 2, entry_kind::config, encode_membership(with_learner)}},
                 {}};
  restored[3] = {{3, 1}, {make_entry(1, 1, "a"), make_entry(3, 2, "c")}, {}};
  cluster c{3, restored};
  CHECK(c.at(2).members() == with_learner); // in effect though uncommitted
  auto leader = c.elect();
  REQUIRE((leader == 1 || leader == 3));
  c.settle(3);
  CHECK(c.at(2).log().at(2).kind == entry_kind::command);
  CHECK(c.at(2).members() == three);
}

// -- snapshots ----------------------------------------------------------------------

TEST_CASE("raft snapshot: a far-behind follower gets the snapshot, then entries") {
  cluster c{3, {}, [](config& cfg) { cfg.snapshot_trailing_entries = 0; }};
  auto leader = c.elect();
  REQUIRE(leader != no_node);
  c.settle(2);
  node_id behind = leader == 3 ? 1 : leader + 1;
  c.isolated = {behind};
  for (int i = 0; i < 5; ++i)
    REQUIRE(c.at(leader).propose("p" + std::to_string(i)));
  c.drain(leader);
  c.deliver();
  c.settle(2);
  auto index = c.at(leader).commit_index();
  c.at(leader).compact(index, "state@" + std::to_string(index));
  c.drain(leader);
  CHECK(c.at(leader).snapshot_index() == index);
  CHECK(c.at(leader).log().first_index() == index + 1);
  REQUIRE(c.disk[leader].snap);
  CHECK(c.disk[leader].snap->meta.index == index);
  CHECK(c.disk[leader].snap->meta.members == c.at(leader).members());
  CHECK(c.disk[leader].log.empty());
  CHECK(c.snaps_received[leader] == 0);

  c.isolated.clear();
  c.settle(3);
  CHECK(c.snaps_received[behind] == 1);
  CHECK(c.at(behind).snapshot_index() == index);
  CHECK(c.at(behind).commit_index() >= index);
  REQUIRE(c.disk[behind].snap);
  CHECK(c.disk[behind].snap->data == "state@" + std::to_string(index));
  REQUIRE(c.at(leader).propose("after"));
  c.drain(leader);
  c.deliver();
  c.settle(2);
  CHECK(commands(c.applied[behind]) == std::vector<std::string>{"after"});
  CHECK(c.at(behind).log().last_index() == c.at(leader).log().last_index());
  // What it persisted restarts it at the same place.
  raft_core again{make_config(behind, {1, 2, 3}), c.disk[behind], 7};
  CHECK(again.snapshot_index() == index);
  CHECK(again.commit_index() == index);
  CHECK(again.log().last_index() == c.at(leader).log().last_index());
}

TEST_CASE("raft snapshot: restart from a snapshot and the log after it") {
  membership three;
  for (node_id id = 1; id <= 3; ++id)
    three.voters.emplace(id, std::to_string(id));
  auto four = three;
  four.learners.emplace(4, "4");
  persisted_state p;
  p.state = {2, 1};
  p.snap = snapshot{snapshot_meta{3, 1, three}, "s"};
  SUBCASE("log right after the snapshot") {
    p.log = {make_entry(2, 4, "d"), entry{2, 5, entry_kind::config, encode_membership(four)}};
    raft_core core{make_config(1, {}), p, 1};
    CHECK(core.snapshot_index() == 3);
    CHECK(core.commit_index() == 3);
    CHECK(core.log().first_index() == 4);
    CHECK(core.log().term_at(3) == 1);
    CHECK(core.members() == four); // the newest config entry wins
  }
  SUBCASE("log that keeps entries the snapshot covers") {
    p.log = {make_entry(1, 2, "b"), make_entry(1, 3, "c"), make_entry(2, 4, "d")};
    raft_core core{make_config(1, {}), p, 1};
    CHECK(core.commit_index() == 3);
    CHECK(core.log().first_index() == 2);
    CHECK(core.members() == three); // from the snapshot, not cfg.initial
  }
  SUBCASE("a log that disagrees with the snapshot is refused") {
    p.log = {make_entry(2, 3, "c")};
    CHECK_THROWS_AS(raft_core(make_config(1, {}), p, 1), invariant_violation);
  }
}

TEST_CASE("raft membership: a voter whose removal is uncommitted campaigns without its own vote") {
  // Raft thesis 4.2.2. Member 1 led, appended its own removal and crashed
  // before replicating it; members 2 and 3 still run {1, 2, 3}. The entry is
  // not committed, so member 1 may still be needed (in a group of two it
  // would be), and it campaigns. But the membership in effect for it is
  // {2, 3}, so it counts their votes only, never its own.
  membership two;
  for (node_id id : {2, 3})
    two.voters.emplace(id, std::to_string(id));
  std::map<node_id, persisted_state> restored;
  restored[1] = {{1, 1},
                 {make_entry(1, 1, "a"), entry{1, 2, entry_kind::config, encode_membership(two)}},
                 {}};
  restored[2] = {{1, 1}, {make_entry(1, 1, "a")}, {}};
  restored[3] = {{1, 1}, {make_entry(1, 1, "a")}, {}};
  cluster c{3, restored, [](config& cfg) { cfg.pre_vote = false; }};
  REQUIRE(c.at(1).members() == two);
  REQUIRE_FALSE(c.at(1).members().is_voter(1));
  for (int i = 0; i < 100 && c.at(1).current_role() != role::candidate; ++i)
    c.tick(1); // only member 1's time passes
  REQUIRE(c.at(1).current_role() == role::candidate);
  CHECK(c.at(1).term() == 2);
  CHECK(c.at(1).voted_for() == 1);
  for (auto& m : c.network) { // it asks the voters of {2, 3} only
    REQUIRE(std::holds_alternative<vote_request>(m));
    CHECK(message_to(m) != 1);
  }
  REQUIRE(c.network.size() == 2);
  // Member 2's vote plus its own would be a majority of {1, 2, 3}; it is
  // not one of {2, 3}.
  auto to_3 = c.network;
  c.deliver([](const message& m) { return message_to(m) != 3 && message_from(m) != 3; });
  CHECK(c.at(2).voted_for() == 1);
  CHECK(c.at(1).current_role() == role::candidate);
  for (auto& m : to_3)
    if (message_to(m) == 3)
      c.network.push_back(m);
  c.deliver(is_vote);
  REQUIRE(c.at(1).current_role() == role::leader);
  CHECK(c.at(1).term() == 2);
  // Its no-op commits the removal along with it; then it steps down and the
  // other two carry on without it.
  c.network.clear();
  c.settle(2);
  CHECK(c.at(1).commit_index() >= 3);
  CHECK(c.at(1).current_role() == role::follower);
  c.isolated = {1}; // an operator stops it
  auto next = c.elect();
  CHECK((next == 2 || next == 3));
  c.settle(2);
  for (node_id id : {2, 3}) {
    CHECK(c.at(id).members() == two);
    CHECK(c.at(id).commit_index() >= 3);
    CHECK(c.at(id).log().at(2).kind == entry_kind::config);
  }
}

TEST_CASE("raft snapshot: a follower keeps its log suffix when it holds the snapshot's end") {
  std::vector<entry> log;
  for (index_t i = 1; i <= 5; ++i)
    log.push_back(make_entry(1, i, "e" + std::to_string(i)));
  std::map<node_id, persisted_state> restored;
  restored[2] = {{1, 1}, log, {}};
  cluster c{3, restored};
  membership three;
  for (node_id id = 1; id <= 3; ++id)
    three.voters.emplace(id, std::to_string(id));
  auto install = [&](term_t snap_term) {
    c.at(2).step(snapshot_request{1, 2, 1, snapshot{snapshot_meta{3, snap_term, three}, "s@3"}});
    return c.at(2).take_ready();
  };
  SUBCASE("matching (index, term): entries 4 and 5 stay, and are written again") {
    auto r = install(1);
    CHECK(c.at(2).snapshot_index() == 3);
    CHECK(c.at(2).commit_index() == 3);
    CHECK(c.at(2).log().first_index() == 4);
    CHECK(c.at(2).log().last_index() == 5);
    CHECK(c.at(2).log().at(5).command == "e5");
    REQUIRE(r.snap);
    CHECK(r.snap_received);
    CHECK(r.snap->data == "s@3");
    // Storage drops its whole log on snap_received, so the kept suffix must
    // come back in the same batch.
    REQUIRE(r.entries.size() == 2);
    CHECK(r.entries.front() == log[3]);
    CHECK(r.entries.back() == log[4]);
    CHECK(r.committed.empty()); // the state machine restores from the snapshot
    REQUIRE(r.messages.size() == 1);
    auto& answer = std::get<append_response>(r.messages[0]);
    CHECK(answer.success);
    CHECK(answer.match_index == 3);
    // A restart from what storage then holds is the same member.
    persisted_state disk{{1, 1}, r.entries, r.snap};
    raft_core again{make_config(2, {1, 2, 3}), disk, 7};
    CHECK(again.snapshot_index() == 3);
    CHECK(again.log().last_index() == 5);
    CHECK(again.log().term_at(3) == 1);
  }
  SUBCASE("another term at the snapshot's end: the whole log goes") {
    c.at(2).step(append_request{1, 2, 2, 0, 0, {}, 0, true}); // the leader of term 2
    c.at(2).take_ready();
    c.at(2).step(snapshot_request{1, 2, 2, snapshot{snapshot_meta{3, 2, three}, "s@3"}});
    auto r = c.at(2).take_ready();
    CHECK(c.at(2).log().first_index() == 4);
    CHECK(c.at(2).log().last_index() == 3);
    CHECK(c.at(2).log().term_at(3) == 2);
    CHECK(r.snap_received);
    CHECK(r.entries.empty());
  }
}
