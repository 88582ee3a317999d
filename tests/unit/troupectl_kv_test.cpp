// troupectl's kv and raft commands without a cluster: argument validation and
// request building, the redirect and retry loop on a scripted transport and
// a fake clock, and the table renderers.
#include "cli/kv_call.hpp"
#include "cli/kv_render.hpp"
#include "cli/kv_requests.hpp"
#include "cli/kv_watch.hpp"
#include "cli/member_call.hpp"
#include "cli/raft_admin.hpp"
#include "cli/raft_status.hpp"

#include "actors/consensus/kv_state.hpp"
#include "net/errors.hpp"

#include <caf/sec.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <deque>
#include <string>
#include <vector>

using namespace troupe;
using namespace troupe::cli;
using namespace std::chrono_literals;

namespace {

// A transport that answers each ask with the next scripted reply, records
// what was asked, and runs on a fake clock that sleeping advances.
struct scripted {
  struct call {
    std::string name;
    envelope msg;
  };
  std::deque<caf::expected<envelope>> replies;
  std::vector<call> calls;
  std::vector<std::chrono::milliseconds> sleeps;
  std::chrono::steady_clock::time_point clock{};

  call_env env() {
    return {[this](const std::string& name, const envelope& msg,
                   std::chrono::milliseconds) -> caf::expected<envelope> {
              calls.push_back({name, msg});
              REQUIRE_FALSE(replies.empty());
              auto next = std::move(replies.front());
              replies.pop_front();
              return next;
            },
            [this] { return clock; },
            [this](std::chrono::milliseconds d) {
              sleeps.push_back(d);
              clock += d;
            }};
  }

  void answer(const google::protobuf::Message& msg) {
    replies.emplace_back(pack_message(msg));
  }

  void answer(caf::error err) {
    replies.emplace_back(std::move(err));
  }
};

v1::KvReply kv_reply(v1::KvStatus status, const std::string& leader = "") {
  v1::KvReply reply;
  reply.set_status(status);
  reply.set_leader_node(leader);
  return reply;
}

v1::KvReply ok_put(int64_t revision) {
  auto reply = kv_reply(v1::KV_STATUS_OK);
  reply.mutable_header()->set_revision(revision);
  reply.mutable_put();
  return reply;
}

v1::KvRequest put_request() {
  put_args args;
  args.key = "k";
  args.value = "v";
  return *build_put(args);
}

v1::KvRequest sent_request(const scripted::call& c) {
  auto req = unpack<v1::KvRequest>(c.msg);
  REQUIRE(req);
  return *req;
}

v1::KeyValue key_value(const std::string& key, const std::string& value,
                       int64_t mod_revision) {
  v1::KeyValue kv;
  kv.set_key(key);
  kv.set_value(value);
  kv.set_mod_revision(mod_revision);
  return kv;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

// ---- request building ----

TEST_CASE("troupectl kv: prefix_end agrees with the state machine's") {
  std::vector<std::string> prefixes{
      "a",        "ab", "a\xff",        "\xff",
      "\xff\xff", "",   "/troupe/sys/", std::string("a\0", 2)};
  for (auto& p : prefixes)
    CHECK(prefix_end(p) == kv::prefix_end(p));
  CHECK(prefix_end("ab") == "ac");
  CHECK(prefix_end("a\xff") == "b");
  CHECK(prefix_end("\xff") == std::string(1, '\0'));
}

TEST_CASE("troupectl kv: get builds a RangeRequest, --prefix sets range_end") {
  get_args args;
  args.key = "/app/";
  args.prefix = true;
  args.limit = 5;
  args.revision = 7;
  args.serializable = true;
  auto req = build_get(args);
  REQUIRE(req);
  REQUIRE(req->has_range());
  CHECK(req->range().key() == "/app/");
  CHECK(req->range().range_end() == "/app0");
  CHECK(req->range().limit() == 5);
  CHECK(req->range().revision() == 7);
  CHECK(req->range().serializable());
  CHECK(req->client_id() == 0); // stamped later by kv_session
  SUBCASE("an empty prefix selects every key, from \\0 to the end") {
    args.key = "";
    auto all = build_get(args);
    REQUIRE(all);
    CHECK(all->range().key() == std::string(1, '\0'));
    CHECK(all->range().range_end() == std::string(1, '\0'));
  }
  SUBCASE("a single key has no range_end") {
    args.prefix = false;
    CHECK(build_get(args)->range().range_end().empty());
  }
}

TEST_CASE("troupectl kv: bad arguments are usage errors before connecting") {
  get_args get;
  CHECK(build_get(get).error().code == exit_usage); // empty key
  get.key = "k";
  get.limit = -1;
  CHECK(contains(build_get(get).error().message, "--limit"));
  get.limit = 0;
  get.keys_only = get.count_only = true;
  CHECK(build_get(get).error().code == exit_usage);
  put_args put;
  put.key = "k";
  put.lease = -3;
  CHECK(contains(build_put(put).error().message, "--lease"));
  del_args del;
  del.prefix = true; // "" with --prefix: every key
  CHECK(contains(build_delete(del).error().message, "refusing"));
  range_args range;
  range.start = "b";
  CHECK(contains(build_range(range).error().message, "--to-end"));
  range.end = "a";
  CHECK(contains(build_range(range).error().message, "after START"));
  range.to_end = true;
  CHECK(contains(build_range(range).error().message, "not both"));
  watch_args watch;
  watch.key = "k";
  CHECK(contains(build_watch(watch).error().message, "--rev"));
}

TEST_CASE("troupectl kv: put, del and range requests") {
  put_args put;
  put.key = "k";
  put.value = std::string("v\0w", 3);
  put.lease = 9;
  put.prev_kv = true;
  auto p = build_put(put);
  REQUIRE(p);
  CHECK(p->put().key() == "k");
  CHECK(p->put().value() == std::string("v\0w", 3));
  CHECK(p->put().lease() == 9);
  CHECK(p->put().prev_kv());
  del_args del;
  del.key = "dir/";
  del.prefix = true;
  del.prev_kv = true;
  auto d = build_delete(del);
  REQUIRE(d);
  CHECK(d->delete_range().key() == "dir/");
  CHECK(d->delete_range().range_end() == "dir0");
  CHECK(d->delete_range().prev_kv());
  range_args range;
  range.start = "a";
  range.to_end = true;
  auto r = build_range(range);
  REQUIRE(r);
  CHECK(r->range().key() == "a");
  CHECK(r->range().range_end() == std::string(1, '\0'));
  range.to_end = false;
  range.end = "m";
  CHECK(build_range(range)->range().range_end() == "m");
}

TEST_CASE(
    "troupectl kv: cas is a txn comparing the value, then put, else read") {
  cas_args args;
  args.key = "k";
  args.values = {"old", "new"};
  auto req = build_cas(args);
  REQUIRE(req);
  REQUIRE(req->has_txn());
  auto& txn = req->txn();
  REQUIRE(txn.compare_size() == 1);
  CHECK(txn.compare(0).key() == "k");
  CHECK(txn.compare(0).result() == v1::Compare::EQUAL);
  CHECK(txn.compare(0).target() == v1::Compare::VALUE);
  CHECK(txn.compare(0).value() == "old");
  REQUIRE(txn.success_size() == 1);
  CHECK(txn.success(0).request_put().key() == "k");
  CHECK(txn.success(0).request_put().value() == "new");
  REQUIRE(txn.failure_size() == 1);
  CHECK(txn.failure(0).request_range().key() == "k");
  CHECK(txn.failure(0).request_range().range_end().empty());
  SUBCASE("--create compares VERSION == 0 (the key is absent)") {
    args.create = true;
    args.values = {"new"};
    auto create = build_cas(args);
    REQUIRE(create);
    auto& cmp = create->txn().compare(0);
    CHECK(cmp.target() == v1::Compare::VERSION);
    CHECK(cmp.target_union_case() == v1::Compare::kVersion);
    CHECK(cmp.version() == 0);
    CHECK(create->txn().success(0).request_put().value() == "new");
  }
  SUBCASE("the wrong number of values is a usage error") {
    args.create = true;
    CHECK(build_cas(args).error().code == exit_usage);
    args.create = false;
    args.values = {"only"};
    CHECK(build_cas(args).error().code == exit_usage);
  }
}

TEST_CASE("troupectl kv: reading a cas reply") {
  auto reply = kv_reply(v1::KV_STATUS_OK);
  reply.mutable_header()->set_revision(12);
  reply.mutable_txn()->set_succeeded(true);
  auto ok = read_cas_reply(reply);
  REQUIRE(ok);
  CHECK(ok->succeeded);
  CHECK(render_cas(*ok, false) == "OK (revision 12)\n");
  reply.mutable_txn()->set_succeeded(false);
  CHECK_FALSE(read_cas_reply(reply)); // a failed txn must carry the read
  auto* range = reply.mutable_txn()->add_responses()->mutable_response_range();
  auto absent = read_cas_reply(reply);
  REQUIRE(absent);
  CHECK(render_cas(*absent, false) == "FAILED: key is absent\n");
  *range->add_kvs() = key_value("k", "cur\n", 3);
  auto failed = read_cas_reply(reply);
  REQUIRE(failed);
  CHECK_FALSE(failed->succeeded);
  CHECK(render_cas(*failed, false) == "FAILED: current value is cur\\n\n");
  CHECK(render_cas(*failed, true)
        == "FAILED: key exists, current value is cur\\n\n");
}

TEST_CASE("troupectl kv: watch request") {
  watch_args args;
  args.key = "p/";
  args.prefix = true;
  args.follow = true;
  auto req = build_watch(args);
  REQUIRE(req);
  CHECK(req->key() == "p/");
  CHECK(req->range_end() == "p0");
  CHECK(req->start_revision() == 0);
  args.follow = false;
  args.revision = 4;
  CHECK(build_watch(args)->start_revision() == 4);
}

TEST_CASE("troupectl kv: lease and compaction requests") {
  auto grant = build_lease_grant(60, 0);
  REQUIRE(grant);
  CHECK(grant->lease_grant().ttl_seconds() == 60);
  CHECK(grant->lease_grant().id() == 0);
  CHECK(build_lease_grant(0, 0).error().code == exit_usage);
  CHECK(build_lease_grant(10, -1).error().code == exit_usage);
  CHECK(build_lease_revoke(7)->lease_revoke().id() == 7);
  CHECK(build_lease_revoke(0).error().code == exit_usage);
  CHECK(build_lease_keep_alive(7)->lease_keep_alive().id() == 7);
  CHECK(build_compaction(5)->compaction().revision() == 5);
  CHECK(build_compaction(0).error().code == exit_usage);
}

// ---- rendering ----

TEST_CASE("troupectl kv: table output escapes bytes but keeps UTF-8") {
  CHECK(escape_bytes("plain text") == "plain text");
  CHECK(escape_bytes("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
  CHECK(escape_bytes("a\nb\tc\rd\\") == "a\\nb\\tc\\rd\\\\");
  CHECK(escape_bytes(std::string("\0\x1b[2J\x7f", 6)) == "\\x00\\x1b[2J\\x7f");
  CHECK(escape_bytes("\xff\xfe") == "\\xff\\xfe");
  CHECK(escape_bytes("\xc2\x9b") == "\\xc2\\x9b");          // C1 control (CSI)
  CHECK(escape_bytes("\xe2\x82") == "\\xe2\\x82");          // truncated
  CHECK(escape_bytes("\xed\xa0\x80") == "\\xed\\xa0\\x80"); // surrogate
  CHECK(escape_bytes("\xc0\xaf") == "\\xc0\\xaf");          // overlong
}

TEST_CASE(
    "troupectl kv: get, put, del and watch output as etcdctl's simple format") {
  auto reply = kv_reply(v1::KV_STATUS_OK);
  auto* range = reply.mutable_range();
  *range->add_kvs() = key_value("a", "1", 2);
  *range->add_kvs() = key_value("b\x01", "x y", 3);
  range->set_count(2);
  CHECK(render_range(reply, false, false) == "a\n1\nb\\x01\nx y\n");
  CHECK(render_range(reply, true, false) == "a\nb\\x01\n");
  CHECK(render_range(reply, false, true) == "2\n");
  auto put = ok_put(5);
  CHECK(render_put(put, true) == "OK (revision 5)\n");
  *put.mutable_put()->mutable_prev_kv() = key_value("k", "old", 4);
  CHECK(render_put(put, true) == "OK (revision 5)\nk\nold\n");
  CHECK(render_put(put, false) == "OK (revision 5)\n");
  auto del = kv_reply(v1::KV_STATUS_OK);
  del.mutable_delete_range()->set_deleted(1);
  *del.mutable_delete_range()->add_prev_kvs() = key_value("k", "v", 4);
  CHECK(render_delete(del, false) == "1\n");
  CHECK(render_delete(del, true) == "1\nk\nv\n");
  v1::Event ev;
  *ev.mutable_kv() = key_value("k", "v\n", 8);
  CHECK(render_event(ev) == "PUT k v\\n 8\n");
  ev.set_type(v1::Event::DELETE);
  CHECK(render_event(ev) == "DELETE k 8\n");
}

// ---- following NOT_LEADER and retrying ----

TEST_CASE(
    "troupectl kv: NOT_LEADER is followed to the leader with the same ids") {
  scripted net;
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n2"));
  net.answer(ok_put(3));
  kv_session session{42};
  auto reply = session.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE(reply);
  CHECK(reply->header().revision() == 3);
  REQUIRE(net.calls.size() == 2);
  CHECK(net.calls[0].name == "raft/n1");
  CHECK(net.calls[1].name == "raft/n2");
  CHECK(net.calls[0].msg.bytes == net.calls[1].msg.bytes);
  CHECK(sent_request(net.calls[1]).client_id() == 42);
  CHECK(sent_request(net.calls[1]).request_id() == 1);
  CHECK(net.sleeps.empty()); // a redirect does not wait
  SUBCASE("the next request of the session gets the next request id") {
    net.answer(ok_put(4));
    REQUIRE(session.execute(net.env(), call_policy{}, "n1", put_request()));
    CHECK(sent_request(net.calls.back()).request_id() == 2);
  }
}

TEST_CASE("troupectl kv: at most 3 redirects, and the error says so") {
  scripted net;
  for (auto leader : {"n2", "n3", "n1", "n2"})
    net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, leader));
  auto reply
      = kv_session{1}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE_FALSE(reply);
  CHECK(net.calls.size() == 4);
  CHECK(reply.error().code == exit_failed);
  CHECK(contains(reply.error().message, "3 redirects"));
  CHECK(contains(reply.error().message, "n1 -> n2 -> n3 -> n1 -> n2"));
}

TEST_CASE("troupectl kv: transient statuses are retried with backoff and the "
          "same ids") {
  scripted net;
  net.answer(kv_reply(v1::KV_STATUS_UNAVAILABLE));
  net.answer(kv_reply(v1::KV_STATUS_OUTCOME_UNKNOWN));
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER)); // no leader known yet
  net.answer(kv_reply(v1::KV_STATUS_OVERLOADED));
  net.answer(ok_put(9));
  auto reply
      = kv_session{7}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE(reply);
  REQUIRE(net.calls.size() == 5);
  for (auto& c : net.calls) {
    CHECK(c.name == "raft/n1");
    CHECK(c.msg.bytes == net.calls[0].msg.bytes);
  }
  CHECK(net.sleeps
        == std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 400ms});
}

TEST_CASE(
    "troupectl kv: retries stop before the deadline with a line saying why") {
  scripted net;
  for (int i = 0; i < 100; ++i)
    net.answer(kv_reply(v1::KV_STATUS_OUTCOME_UNKNOWN));
  call_policy policy;
  policy.timeout = 2000ms;
  auto reply = kv_session{7}.execute(net.env(), policy, "n1", put_request());
  REQUIRE_FALSE(reply);
  // 50 + 100 + 200 + 400 + 800 = 1550; the next backoff (1000) would end late.
  CHECK(net.sleeps.size() == 5);
  CHECK(net.calls.size() == 6);
  CHECK(contains(reply.error().message, "gave up after 6 attempts"));
  CHECK(contains(reply.error().message, "KV_STATUS_OUTCOME_UNKNOWN"));
  CHECK(contains(reply.error().message, "may or may not have applied"));
}

TEST_CASE("troupectl kv: a node without the consensus role is named as such") {
  scripted net;
  net.answer(make_error(errc::no_such_actor, "raft/n1 is not hosted anywhere"));
  auto reply
      = kv_session{7}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE_FALSE(reply);
  CHECK(contains(reply.error().message,
                 "node n1 does not run the consensus role"));
  CHECK(contains(reply.error().message, "--endpoint of a consensus node"));
}

TEST_CASE(
    "troupectl kv: a redirected member that fails sends us back to the first") {
  scripted net;
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n2"));
  net.answer(caf::make_error(caf::sec::request_timeout));
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3"));
  net.answer(make_error(errc::no_such_actor, "raft/n3 is gone"));
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n2"));
  net.answer(ok_put(2));
  call_policy policy;
  policy.max_redirects = 5;
  auto reply = kv_session{7}.execute(net.env(), policy, "n1", put_request());
  REQUIRE(reply);
  std::vector<std::string> names;
  for (auto& c : net.calls)
    names.push_back(c.name);
  CHECK(names
        == std::vector<std::string>{"raft/n1", "raft/n2", "raft/n1", "raft/n3",
                                    "raft/n1", "raft/n2"});
}

TEST_CASE(
    "troupectl kv: a dead leader still named by the others is waited out") {
  scripted net;
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3"));
  net.answer(make_error(errc::no_such_actor, "no node hosts 'raft/n3'"));
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3")); // stale: wait
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3")); // stale: wait
  net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n2")); // elected
  net.answer(ok_put(10));
  auto reply
      = kv_session{7}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE(reply);
  std::vector<std::string> names;
  for (auto& c : net.calls)
    names.push_back(c.name);
  CHECK(names
        == std::vector<std::string>{"raft/n1", "raft/n3", "raft/n1", "raft/n1",
                                    "raft/n1", "raft/n2"});
  CHECK(net.sleeps
        == std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms});
  SUBCASE("after a few waits it is followed again: it may have come back") {
    net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3"));
    net.answer(make_error(errc::no_such_actor, "no node hosts 'raft/n3'"));
    for (int i = 0; i < 4; ++i)
      net.answer(kv_reply(v1::KV_STATUS_NOT_LEADER, "n3"));
    net.answer(ok_put(11));
    REQUIRE(
        kv_session{8}.execute(net.env(), call_policy{}, "n1", put_request()));
    CHECK(net.calls.back().name == "raft/n3");
  }
}

TEST_CASE("troupectl kv: final statuses fail with what to do") {
  scripted net;
  auto compacted = kv_reply(v1::KV_STATUS_COMPACTED);
  compacted.set_error_message("revision 3 < compact revision 5");
  net.answer(compacted);
  auto reply
      = kv_session{7}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE_FALSE(reply);
  CHECK(net.calls.size() == 1);
  CHECK(contains(reply.error().message, "KV_STATUS_COMPACTED"));
  CHECK(contains(reply.error().message, "newer --rev"));
  net.answer(
      make_error(errc::unexpected_message, "raft/n1 does not handle it"));
  auto old
      = kv_session{7}.execute(net.env(), call_policy{}, "n1", put_request());
  REQUIRE_FALSE(old);
  CHECK(contains(old.error().message, "older troupe"));
}

TEST_CASE("troupectl kv: client ids are random and nonzero") {
  auto a = random_client_id();
  auto b = random_client_id();
  CHECK(a != 0);
  CHECK(a != b);
}

// ---- watch ----

TEST_CASE("troupectl kv: watch without --follow pages until caught up") {
  scripted net;
  v1::WatchResponse page;
  page.mutable_header()->set_revision(6);
  auto* ev = page.add_events();
  *ev->mutable_kv() = key_value("k", "a", 4);
  page.set_next_revision(5);
  net.answer(page);
  page.clear_events();
  *page.add_events()->mutable_kv() = key_value("k", "b", 6);
  page.set_next_revision(7);
  net.answer(page);
  watch_args args;
  args.key = "k";
  args.revision = 4;
  std::vector<std::string> lines;
  auto next = run_watch(
      net.env(), call_policy{}, "n1", *build_watch(args), false,
      [&](const v1::Event& e) { lines.push_back(render_event(e)); });
  REQUIRE(next);
  CHECK(*next == 7);
  CHECK(lines == std::vector<std::string>{"PUT k a 4\n", "PUT k b 6\n"});
  REQUIRE(net.calls.size() == 2);
  auto second = unpack<v1::WatchRequest>(net.calls[1].msg);
  REQUIRE(second);
  CHECK(second->start_revision() == 5);
  CHECK(second->wait_ms() == 0);
}

TEST_CASE("troupectl kv: a compacted watch says where to resume") {
  scripted net;
  v1::WatchResponse resp;
  resp.set_status(v1::KV_STATUS_COMPACTED);
  resp.set_compact_revision(10);
  net.answer(resp);
  watch_args args;
  args.key = "k";
  args.revision = 2;
  auto next = run_watch(net.env(), call_policy{}, "n1", *build_watch(args),
                        false, [](const v1::Event&) {});
  REQUIRE_FALSE(next);
  CHECK(contains(next.error().message, "--rev 11"));
}

TEST_CASE(
    "troupectl kv: a followed watch long-polls below the gateway's timeout") {
  scripted net;
  v1::WatchResponse resp;
  resp.set_next_revision(3);
  net.answer(resp);
  net.answer(make_error(errc::unexpected_message, "stop here"));
  watch_args args;
  args.key = "k";
  args.follow = true;
  auto next = run_watch(net.env(), call_policy{}, "n1", *build_watch(args),
                        true, [](const v1::Event&) {});
  REQUIRE_FALSE(next);
  REQUIRE(net.calls.size() == 2);
  auto first = unpack<v1::WatchRequest>(net.calls[0].msg);
  auto second = unpack<v1::WatchRequest>(net.calls[1].msg);
  CHECK(first->wait_ms() == watch_poll_ms);
  CHECK(second->start_revision() == 3);
}

// ---- raft admin and status ----

TEST_CASE("troupectl raft: membership requests") {
  auto add = build_add_member("n4", false);
  REQUIRE(add);
  CHECK(add->op() == v1::RaftMembershipChange::ADD_LEARNER);
  CHECK(add->node_id() == "n4");
  CHECK(add->auto_promote());
  CHECK_FALSE(build_add_member("n4", true)->auto_promote());
  CHECK(build_promote_member("n4")->op() == v1::RaftMembershipChange::PROMOTE);
  CHECK(build_remove_member("n4")->op() == v1::RaftMembershipChange::REMOVE);
  CHECK(build_transfer_leader("n2")->node_id() == "n2");
  CHECK(build_remove_member("raft/n4").error().code == exit_usage);
  CHECK(build_transfer_leader("").error().code == exit_usage);
  CHECK(valid_node_id("node-1.dc_2"));
  CHECK_FALSE(valid_node_id("-n1"));
  CHECK_FALSE(valid_node_id(std::string(64, 'a')));
}

TEST_CASE("troupectl raft: admin requests follow NOT_LEADER, REJECTED fails") {
  scripted net;
  v1::RaftAdminReply not_leader;
  not_leader.set_status(v1::PROPOSE_STATUS_NOT_LEADER);
  not_leader.set_leader_node("n3");
  net.answer(not_leader);
  v1::RaftAdminReply ok;
  auto* m = ok.add_members();
  m->set_node_id("n4");
  m->set_member_id(4);
  m->set_voter(false);
  net.answer(ok);
  auto req = pack(*build_add_member("n4", true));
  auto reply = execute_admin(net.env(), call_policy{}, "n1", req);
  REQUIRE(reply);
  CHECK(net.calls.back().name == "raft/n3");
  CHECK(render_membership(*reply)
        == "NODE  MEMBER  KIND     MATCH\n"
           "n4    4       learner  0\n");
  v1::RaftAdminReply rejected;
  rejected.set_status(v1::PROPOSE_STATUS_REJECTED);
  rejected.set_error_message("n4 is already a member");
  net.answer(rejected);
  auto again = execute_admin(net.env(), call_policy{}, "n1", req);
  REQUIRE_FALSE(again);
  CHECK(contains(again.error().message, "n4 is already a member"));
}

TEST_CASE("troupectl raft: the summary line reads the membership afterwards") {
  v1::RaftAdminReply reply;
  auto* m = reply.add_members();
  m->set_node_id("n2");
  m->set_voter(false);
  CHECK(admin_summary(admin_op::add_member, "n2", false, reply)
        == "n2 is a learner; the leader promotes it once it has caught up");
  CHECK(admin_summary(admin_op::add_member, "n2", true, reply)
        == "n2 is a learner");
  m->set_voter(true);
  CHECK(admin_summary(admin_op::add_member, "n2", false, reply)
        == "n2 is a voter");
  CHECK(admin_summary(admin_op::promote_member, "n2", false, reply)
        == "n2 is a voter");
  CHECK(admin_summary(admin_op::remove_member, "n9", false, reply)
        == "n9 is not a member (any more)");
  CHECK(admin_summary(admin_op::transfer_leader, "n2", false, reply)
        == "leadership transferred to n2");
}

namespace {

v1::RaftStatus raft_status(const std::string& node, uint64_t id,
                           const std::string& role, const std::string& leader) {
  v1::RaftStatus s;
  s.set_node_id(node);
  s.set_member_id(id);
  s.set_role(role);
  s.set_term(5);
  s.set_leader_node(leader);
  s.set_commit_index(10);
  s.set_applied_index(10);
  s.set_last_index(11);
  for (auto [n, member, voter] : {std::tuple{"n1", 1, true},
                                  {"n2", 2, true},
                                  {"n3", 3, true},
                                  {"n4", 4, false}}) {
    auto* m = s.add_members();
    m->set_node_id(n);
    m->set_member_id(member);
    m->set_voter(voter);
    m->set_match_index(role == "leader" ? 10 + member : 0);
  }
  return s;
}

} // namespace

TEST_CASE(
    "troupectl raft: status asks every member; an unreachable one is a row") {
  scripted net;
  net.answer(raft_status("n1", 1, "follower", "n2"));
  net.answer(raft_status("n2", 2, "leader", "n2"));
  net.answer(make_error(errc::no_such_actor, "raft/n3 is not hosted anywhere"));
  net.answer(raft_status("n4", 4, "follower", "n2"));
  auto view = gather_raft_status(net.env(), call_policy{}, "n1");
  REQUIRE(view);
  CHECK(view->leader == "n2");
  REQUIRE(view->rows.size() == 4);
  CHECK(net.calls[1].name == "raft/n2");
  CHECK(net.calls[2].name == "raft/n3"); // asked once, not retried
  CHECK(net.calls.size() == 4);
  auto table = render_raft_status(*view);
  CHECK(contains(table,
                 "NODE  MEMBER  ROLE      TERM  COMMIT  APPLIED  MATCH  LAST  "
                 "SNAPSHOT  ERROR\n"));
  CHECK(contains(
      table, "n1 *  1       follower  5     10      10       11     11    0 "));
  CHECK(contains(table,
                 "n2    2       leader    5     10      10       12     11"));
  CHECK(contains(table, "n3    3       -"));
  CHECK(contains(table, "no_such_actor"));
  CHECK(contains(table, "n4    4       learner   5"));
  auto json = raft_view_json(*view);
  REQUIRE(json);
  auto doc = nlohmann::json::parse(*json);
  CHECK(doc["leader"] == "n2");
  REQUIRE(doc["members"].size() == 4);
  CHECK(doc["members"][0]["role"] == "follower");
  CHECK(doc["members"][2]["node_id"] == "n3");
  CHECK(doc["members"][2].contains("error"));
}

TEST_CASE("troupectl raft: status fails only if the endpoint's member fails") {
  scripted net;
  net.answer(make_error(errc::no_such_actor, "raft/n9 is not hosted anywhere"));
  auto view = gather_raft_status(net.env(), call_policy{}, "n9");
  REQUIRE_FALSE(view);
  CHECK(contains(view.error().message,
                 "node n9 does not run the consensus role"));
}
