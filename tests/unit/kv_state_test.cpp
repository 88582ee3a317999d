// Unit tests of troupe::kv::kv_state, the replicated KV state machine, fed
// serialized KvCommands as the Raft shell will feed committed entries.
#include "actors/consensus/kv_state.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace troupe;
using kv::kv_state;

namespace {

v1::KvCommand put_command(const std::string& key, const std::string& value,
                          std::int64_t lease = 0, bool prev_kv = false) {
  v1::KvCommand command;
  auto* put = command.mutable_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  put->set_prev_kv(prev_kv);
  return command;
}

v1::KvCommand delete_command(const std::string& key,
                             const std::string& range_end,
                             bool prev_kv = false) {
  v1::KvCommand command;
  auto* del = command.mutable_delete_range();
  del->set_key(key);
  del->set_range_end(range_end);
  del->set_prev_kv(prev_kv);
  return command;
}

v1::KvCommand grant_command(std::int64_t ttl_seconds) {
  v1::KvCommand command;
  command.mutable_lease_grant()->set_ttl_seconds(ttl_seconds);
  return command;
}

v1::RangeRequest range_request(const std::string& key,
                               const std::string& range_end = "",
                               std::int64_t limit = 0,
                               std::int64_t revision = 0) {
  v1::RangeRequest request;
  request.set_key(key);
  request.set_range_end(range_end);
  request.set_limit(limit);
  request.set_revision(revision);
  return request;
}

/// A state machine plus the log index and leader clock the shell would supply.
struct harness {
  kv_state state;
  std::uint64_t index = 0;
  std::int64_t now_ms = 1'000;

  explicit harness(kv::limits lim = {}) : state(lim) {}

  std::string apply_raw(v1::KvCommand command) {
    command.set_leader_time_ms(now_ms);
    return state.apply(++index, command.SerializeAsString());
  }

  v1::KvReply apply(v1::KvCommand command) {
    v1::KvReply reply;
    REQUIRE(reply.ParseFromString(apply_raw(std::move(command))));
    return reply;
  }

  v1::KvReply put(const std::string& key, const std::string& value,
                  std::int64_t lease = 0) {
    return apply(put_command(key, value, lease));
  }

  std::vector<std::string> keys(const std::string& key,
                                const std::string& range_end,
                                std::int64_t revision = 0) const {
    auto reply = state.range(range_request(key, range_end, 0, revision));
    REQUIRE(reply.status() == v1::KV_STATUS_OK);
    std::vector<std::string> out;
    for (const auto& kv : reply.range().kvs())
      out.push_back(kv.key() + "=" + kv.value());
    return out;
  }
};

} // namespace

TEST_CASE("kv: put and get with revisions and versions") {
  harness h;
  CHECK(h.put("a", "1").header().revision() == 1);
  CHECK(h.put("b", "1").header().revision() == 2);
  CHECK(h.put("a", "2").header().revision() == 3);
  auto reply = h.state.range(range_request("a"));
  REQUIRE(reply.range().kvs_size() == 1);
  const auto& kv = reply.range().kvs(0);
  CHECK(kv.value() == "2");
  CHECK(kv.create_revision() == 1);
  CHECK(kv.mod_revision() == 3);
  CHECK(kv.version() == 2);
  CHECK(reply.header().revision() == 3);
  auto prev = h.apply(put_command("a", "3", 0, true));
  CHECK(prev.put().prev_kv().value() == "2");
  CHECK(h.state.key_count() == 2);
}

TEST_CASE("kv: prefix range with limit") {
  harness h;
  for (auto key : {"p/a", "p/b", "p/c", "q/a"})
    h.put(key, "v");
  CHECK(kv::prefix_end("p/") == "p0");
  CHECK(h.keys("p/", kv::prefix_end("p/"))
        == std::vector<std::string>{"p/a=v", "p/b=v", "p/c=v"});
  auto reply = h.state.range(range_request("p/", kv::prefix_end("p/"), 2));
  CHECK(reply.range().kvs_size() == 2);
  CHECK(reply.range().more());
  CHECK(reply.range().count() == 3);
  CHECK(h.keys("p/b", std::string{"\0", 1}).size() == 3);
}

TEST_CASE("kv: delete range with prev_kv") {
  harness h;
  for (auto key : {"p/a", "p/b", "q/a"})
    h.put(key, "v");
  auto reply = h.apply(delete_command("p/", kv::prefix_end("p/"), true));
  CHECK(reply.delete_range().deleted() == 2);
  REQUIRE(reply.delete_range().prev_kvs_size() == 2);
  CHECK(reply.delete_range().prev_kvs(1).key() == "p/b");
  CHECK(reply.header().revision() == 4); // one revision for the whole delete
  CHECK(h.keys("p/", kv::prefix_end("p/")).empty());
  CHECK(h.state.key_count() == 1);
  // Deleting nothing writes nothing.
  CHECK(h.apply(delete_command("zzz", "")).header().revision() == 4);
  // A re-created key starts again at version 1.
  h.put("p/a", "new");
  auto got = h.state.range(range_request("p/a")).range().kvs(0);
  CHECK(got.version() == 1);
  CHECK(got.create_revision() == 5);
}

TEST_CASE("kv: txn compare-and-set takes the right branch atomically") {
  harness h;
  h.put("k", "old");
  auto cas = [](const std::string& expected, const std::string& next) {
    v1::KvCommand command;
    auto* txn = command.mutable_txn();
    auto* compare = txn->add_compare();
    compare->set_key("k");
    compare->set_target(v1::Compare::VALUE);
    compare->set_result(v1::Compare::EQUAL);
    compare->set_value(expected);
    auto* put = txn->add_success()->mutable_request_put();
    put->set_key("k");
    put->set_value(next);
    auto* put2 = txn->add_success()->mutable_request_put();
    put2->set_key("k2");
    put2->set_value(next);
    txn->add_failure()->mutable_request_range()->set_key("k");
    return command;
  };
  auto ok = h.apply(cas("old", "new"));
  CHECK(ok.txn().succeeded());
  CHECK(ok.header().revision() == 2); // two puts, one revision
  CHECK(h.keys("k", "") == std::vector<std::string>{"k=new"});
  CHECK(h.state.range(range_request("k2")).range().kvs(0).mod_revision() == 2);
  auto failed = h.apply(cas("old", "newer"));
  CHECK_FALSE(failed.txn().succeeded());
  CHECK(failed.header().revision() == 2);
  CHECK(failed.txn().responses(0).response_range().kvs(0).value() == "new");
  // A failing op (system key) rejects the whole branch.
  auto bad = cas("new", "x");
  bad.mutable_txn()->mutable_success(1)->mutable_request_put()->set_key(
      "/troupe/sys/m");
  CHECK(h.apply(bad).status() == v1::KV_STATUS_PERMISSION_DENIED);
  CHECK(h.keys("k", "") == std::vector<std::string>{"k=new"});
  CHECK(h.state.revision() == 2);
}

TEST_CASE("kv: reads at an old revision until compaction") {
  harness h;
  h.put("a", "1");                  // rev 1
  h.put("a", "2");                  // rev 2
  h.apply(delete_command("a", "")); // rev 3
  h.put("b", "1");                  // rev 4
  CHECK(h.keys("a", "", 1) == std::vector<std::string>{"a=1"});
  CHECK(h.keys("a", "", 2) == std::vector<std::string>{"a=2"});
  CHECK(h.keys("a", "", 3).empty());
  CHECK(h.state.range(range_request("a", "", 0, 9)).status()
        == v1::KV_STATUS_FUTURE_REVISION);
  v1::KvCommand compaction;
  compaction.mutable_compaction()->set_revision(2);
  CHECK(h.apply(compaction).status() == v1::KV_STATUS_OK);
  CHECK(h.state.compact_revision() == 2);
  CHECK(h.state.range(range_request("a", "", 0, 1)).status()
        == v1::KV_STATUS_COMPACTED);
  CHECK(h.keys("a", "", 2) == std::vector<std::string>{"a=2"});
  CHECK(h.keys("a", "", 3).empty());
  CHECK(h.state.compact(4) == v1::KV_STATUS_OK);
  CHECK(h.keys(std::string{"\0", 1}, std::string{"\0", 1})
        == std::vector<std::string>{"b=1"});
  CHECK(h.state.compact(3) == v1::KV_STATUS_COMPACTED);
}

TEST_CASE("kv: leases: revoke deletes attached keys, expiry via a command") {
  harness h;
  auto grant = h.apply(grant_command(10));
  REQUIRE(grant.status() == v1::KV_STATUS_OK);
  auto lease = grant.lease_grant().id();
  CHECK(lease == 1);
  CHECK(h.apply(grant_command(5)).lease_grant().id() == 2);
  CHECK(h.state.revision() == 0); // granting writes no key
  h.put("l/a", "v", lease);
  h.put("l/b", "v", lease);
  h.put("l/c", "v", 2);
  CHECK(h.put("x", "v", 99).status() == v1::KV_STATUS_LEASE_NOT_FOUND);

  // Lease 2 expires at 1000 + 5000, lease 1 at 11000.
  CHECK(h.state.expired_leases(5'999, 10).empty());
  CHECK(h.state.expired_leases(6'000, 10) == std::vector<std::int64_t>{2});
  h.now_ms = 6'000;
  v1::KvCommand expire;
  expire.mutable_lease_expire()->add_ids(2);
  expire.mutable_lease_expire()->add_ids(1); // not expired: kept
  auto expired = h.apply(expire);
  CHECK(expired.lease_expire().revoked_size() == 1);
  CHECK(h.keys("l/", kv::prefix_end("l/"))
        == std::vector<std::string>{"l/a=v", "l/b=v"});

  // A keepalive committed before the expiry command wins.
  h.now_ms = 10'000;
  v1::KvCommand keep;
  keep.mutable_lease_keep_alive()->set_id(lease);
  CHECK(h.apply(keep).lease_keep_alive().ttl_seconds() == 10);
  h.now_ms = 12'000;
  expire.mutable_lease_expire()->Clear();
  expire.mutable_lease_expire()->add_ids(lease);
  CHECK(h.apply(expire).lease_expire().revoked_size() == 0);

  v1::KvCommand revoke;
  revoke.mutable_lease_revoke()->set_id(lease);
  auto before = h.state.revision();
  CHECK(h.apply(revoke).status() == v1::KV_STATUS_OK);
  CHECK(h.state.revision() == before + 1); // both deletes in one revision
  CHECK(h.keys("l/", kv::prefix_end("l/")).empty());
  CHECK(h.state.lease_count() == 0);
  CHECK(h.apply(revoke).status() == v1::KV_STATUS_LEASE_NOT_FOUND);
}

TEST_CASE(
    "kv: a retried command returns the cached reply and applies nothing") {
  harness h;
  auto command = put_command("a", "1");
  command.set_client_id(7);
  command.set_request_id(1);
  auto first = h.apply_raw(command);
  auto retry = h.apply_raw(command);
  CHECK(first == retry);
  CHECK(h.state.revision() == 1);
  command.set_request_id(2);
  command.mutable_put()->set_value("2");
  h.apply_raw(command);
  CHECK(h.state.revision() == 2);
  command.set_request_id(1);
  v1::KvReply stale;
  REQUIRE(stale.ParseFromString(h.apply_raw(command)));
  CHECK(stale.status() == v1::KV_STATUS_STALE_REQUEST);
  CHECK(h.state.revision() == 2);
}

TEST_CASE("kv: the client table evicts the least recently applied client") {
  kv::limits lim;
  lim.max_clients = 2;
  harness h{lim};
  for (std::uint64_t client : {1, 2, 1, 3}) {
    auto command = put_command("k", "v");
    command.set_client_id(client);
    command.set_request_id(h.index + 1);
    h.apply(command);
  }
  CHECK(h.state.client_count() == 2);
  auto serialized = h.state.serialize();
  v1::KvSnapshot snapshot;
  REQUIRE(snapshot.ParseFromString(serialized));
  REQUIRE(snapshot.clients_size() == 2);
  CHECK(snapshot.clients(0).client_id() == 1); // client 2 was evicted
  CHECK(snapshot.clients(1).client_id() == 3);
}

TEST_CASE("kv: watch events are resumable from a revision") {
  harness h;
  h.put("w/a", "1");                  // 1
  h.put("other", "1");                // 2
  h.put("w/b", "1");                  // 3
  h.apply(delete_command("w/a", "")); // 4
  auto end = kv::prefix_end("w/");
  auto all = h.state.events_since("w/", end, 1);
  REQUIRE(all.status() == v1::KV_STATUS_OK);
  REQUIRE(all.events_size() == 3);
  CHECK(all.events(2).type() == v1::Event::DELETE);
  CHECK(all.events(2).kv().mod_revision() == 4);
  CHECK(all.next_revision() == 5);
  auto resumed = h.state.events_since("w/", end, 3);
  CHECK(resumed.events_size() == 2);
  h.put("w/c", "1"); // 5
  auto later = h.state.events_since("w/", end, all.next_revision());
  REQUIRE(later.events_size() == 1);
  CHECK(later.events(0).kv().key() == "w/c");
  CHECK(h.state.compact(3) == v1::KV_STATUS_OK);
  auto compacted = h.state.events_since("w/", end, 2);
  CHECK(compacted.status() == v1::KV_STATUS_COMPACTED);
  CHECK(compacted.compact_revision() == 3);
  CHECK(h.state.events_since("w/", end, 4).events_size() == 2);
}

TEST_CASE("kv: watch replies are cut between revisions") {
  kv::limits lim;
  lim.max_watch_events = 2;
  harness h{lim};
  v1::KvCommand txn;
  for (auto key : {"a", "b", "c"}) {
    auto* put = txn.mutable_txn()->add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value("v");
  }
  h.put("z", "v"); // 1
  h.apply(txn);    // 2: three events
  h.put("z", "w"); // 3
  auto first
      = h.state.events_since(std::string{"\0", 1}, std::string{"\0", 1}, 1);
  CHECK(first.events_size() == 4);
  CHECK(first.next_revision() == 3);
  auto rest = h.state.events_since(std::string{"\0", 1}, std::string{"\0", 1},
                                   first.next_revision());
  CHECK(rest.events_size() == 1);
}

TEST_CASE("kv: snapshot round trip and determinism across replicas") {
  std::vector<v1::KvCommand> commands;
  commands.push_back(grant_command(3));
  for (int i = 0; i < 50; ++i) {
    auto command = put_command("k/" + std::to_string(i % 7), std::to_string(i),
                               i % 3 == 0 ? 1 : 0);
    command.set_client_id(static_cast<std::uint64_t>(i % 4 + 1));
    command.set_request_id(static_cast<std::uint64_t>(i));
    commands.push_back(command);
    if (i % 10 == 9)
      commands.push_back(delete_command("k/" + std::to_string(i % 5), ""));
  }
  v1::KvCommand compaction;
  compaction.mutable_compaction()->set_revision(20);
  commands.push_back(compaction);
  harness a;
  harness b;
  for (const auto& command : commands)
    CHECK(a.apply_raw(command) == b.apply_raw(command));
  CHECK(a.state.serialize() == b.state.serialize());

  kv_state restored;
  REQUIRE(restored.restore(a.state.serialize()));
  CHECK(restored.serialize() == a.state.serialize());
  CHECK(restored.revision() == a.state.revision());
  CHECK(restored.compact_revision() == 20);
  CHECK(restored.key_count() == a.state.key_count());
  for (std::int64_t rev :
       {std::int64_t{20}, std::int64_t{30}, a.state.revision()}) {
    auto request = range_request("k/", kv::prefix_end("k/"), 0, rev);
    CHECK(restored.range(request).SerializeAsString()
          == a.state.range(request).SerializeAsString());
  }
  // Both continue identically, including the exactly-once table.
  harness c;
  REQUIRE(c.state.restore(a.state.serialize()));
  c.index = a.index;
  CHECK(a.apply_raw(commands[5]) == c.apply_raw(commands[5]));
  auto before = restored.serialize();
  CHECK_FALSE(restored.restore("not a snapshot \xff\xff"));
  CHECK(restored.serialize() == before);
}

TEST_CASE("kv: size limits are rejected with an error naming the limit") {
  kv::limits lim;
  lim.max_keys = 3;
  lim.max_range_keys = 2;
  harness h{lim};
  auto too_long = h.put(std::string(1537, 'k'), "v");
  CHECK(too_long.status() == v1::KV_STATUS_LIMIT_EXCEEDED);
  CHECK(too_long.error_message().find("max_key_bytes=1536")
        != std::string::npos);
  auto too_big = h.put("k", std::string((1 << 20) + 1, 'v'));
  CHECK(too_big.error_message().find("max_value_bytes") != std::string::npos);
  CHECK(h.put("", "v").status() == v1::KV_STATUS_INVALID_ARGUMENT);
  for (auto key : {"a", "b", "c"})
    CHECK(h.put(key, "v").status() == v1::KV_STATUS_OK);
  CHECK(h.put("d", "v").error_message().find("max_keys") != std::string::npos);
  CHECK(h.put("a", "overwrite is fine").status() == v1::KV_STATUS_OK);
  auto all = h.state.range(range_request("a", std::string{"\0", 1}));
  CHECK(all.error_message().find("max_range_keys") != std::string::npos);
  CHECK(h.state.range(range_request("a", std::string{"\0", 1}, 2)).status()
        == v1::KV_STATUS_OK);
  CHECK(h.state.revision() == 4);
  v1::KvReply reply;
  REQUIRE(reply.ParseFromString(
      h.state.apply(++h.index, std::string(2 << 20, 'x'))));
  CHECK(reply.error_message().find("max_command_bytes") != std::string::npos);
  REQUIRE(reply.ParseFromString(h.state.apply(++h.index, "\xff\xff\xff")));
  CHECK(reply.status() == v1::KV_STATUS_MALFORMED_COMMAND);
}

TEST_CASE("kv: the system keyspace is written only by system commands") {
  harness h;
  CHECK(h.put("/troupe/sys/members/1", "x").status()
        == v1::KV_STATUS_PERMISSION_DENIED);
  auto system_put = put_command("/troupe/sys/members/1", "x");
  system_put.set_system(true);
  CHECK(h.apply(system_put).status() == v1::KV_STATUS_OK);
  CHECK(h.apply(delete_command("/", "0")).status()
        == v1::KV_STATUS_PERMISSION_DENIED);
  CHECK(h.apply(delete_command("/a", "/u")).status()
        == v1::KV_STATUS_PERMISSION_DENIED);
  CHECK(h.apply(delete_command("/u", "/v")).status() == v1::KV_STATUS_OK);
  CHECK(h.keys("/troupe/sys/", kv::prefix_end("/troupe/sys/")).size()
        == 1); // reads are open
}
