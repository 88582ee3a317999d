// Tests for the dashboard's core: the model's revisions and deltas, and the
// conversions and message parser in actors/dashboard/views.hpp.
#include "actors/dashboard/model.hpp"
#include "actors/dashboard/views.hpp"
#include "runtime/config.hpp"

#include <doctest/doctest.h>

using namespace troupe;
using namespace troupe::dashboard;
using nlohmann::json;

namespace {

json parse(const std::optional<std::string>& text) {
  REQUIRE(text.has_value());
  return json::parse(*text);
}

json actor(const std::string& name, int restarts = 0) {
  return {{"name", name}, {"restarts", restarts}};
}

} // namespace

TEST_CASE("dashboard model: a change makes one delta with the next revision") {
  model m;
  CHECK_FALSE(m.publish().has_value());
  m.set_node("n1", {{"id", "n1"}, {"status", "up"}});
  auto d1 = parse(m.publish());
  CHECK(d1["type"] == "delta");
  CHECK(d1["rev"] == 1);
  CHECK(d1["nodes"]["n1"]["status"] == "up");
  // The same record again is no change.
  m.set_node("n1", {{"id", "n1"}, {"status", "up"}});
  CHECK_FALSE(m.publish().has_value());
  m.set_node("n1", {{"id", "n1"}, {"status", "down"}});
  auto d2 = parse(m.publish());
  CHECK(d2["rev"] == 2);
  CHECK(d2["nodes"]["n1"]["status"] == "down");
}

TEST_CASE("dashboard model: actor deltas hold only what changed") {
  model m;
  m.set_node("n1", {{"id", "n1"}});
  m.set_actors("n1", {{"a", actor("a")}, {"b", actor("b")}});
  m.publish();
  m.set_actors("n1", {{"a", actor("a", 1)}, {"c", actor("c")}});
  auto d = parse(m.publish());
  auto& change = d["actors"]["n1"];
  CHECK(change["set"].size() == 2);
  CHECK(change["set"]["a"]["restarts"] == 1);
  CHECK(change["set"].contains("c"));
  CHECK(change["removed"] == json::array({"b"}));
  auto state = m.state();
  CHECK(state["actors"]["n1"].size() == 2);
}

TEST_CASE("dashboard model: nodes that leave the view are removed with their actors") {
  model m;
  m.set_node("n1", {{"id", "n1"}});
  m.set_node("n2", {{"id", "n2"}});
  m.set_actors("n2", {{"a", actor("a")}});
  m.publish();
  m.retain_nodes({"n1"});
  auto d = parse(m.publish());
  CHECK(d["removed_nodes"] == json::array({"n2"}));
  CHECK_FALSE(m.state()["nodes"].contains("n2"));
  CHECK_FALSE(m.state()["actors"].contains("n2"));
}

TEST_CASE("dashboard model: resume gets the missed deltas, or a snapshot when too old") {
  model_limits limits;
  limits.max_history_deltas = 3;
  model m{limits};
  for (int i = 0; i < 5; ++i) {
    m.set_node("n1", {{"i", i}});
    m.publish();
  }
  CHECK(m.revision() == 5);
  auto recent = m.deltas_since(3);
  REQUIRE(recent.has_value());
  REQUIRE(recent->size() == 2);
  CHECK(json::parse(*recent->at(0))["rev"] == 4);
  CHECK(json::parse(*recent->at(1))["rev"] == 5);
  CHECK(m.deltas_since(5)->empty());
  CHECK(m.deltas_since(2).has_value()); // 3, 4, 5 are held
  CHECK_FALSE(m.deltas_since(1).has_value());
  CHECK_FALSE(m.deltas_since(9).has_value()); // from the future
  auto snap = json::parse(*m.snapshot_text());
  CHECK(snap["type"] == "snapshot");
  CHECK(snap["rev"] == 5);
  CHECK(snap["nodes"]["n1"]["i"] == 4);
}

TEST_CASE("dashboard model: the journal keeps the newest entries, each once") {
  model_limits limits;
  limits.max_journal_entries = 3;
  model m{limits};
  for (int seq = 1; seq <= 5; ++seq)
    CHECK(m.add_journal({{"seq", seq}}));
  CHECK_FALSE(m.add_journal({{"seq", 5}}));
  CHECK_FALSE(m.add_journal({{"seq", 1}})); // older than everything kept
  CHECK_FALSE(m.add_journal({{"no", "seq"}}));
  auto journal = m.state()["journal"];
  REQUIRE(journal.size() == 3);
  CHECK(journal[0]["seq"] == 3);
  CHECK(parse(m.publish())["journal"].size() == 5);
}

TEST_CASE("dashboard views: journal values follow the contract") {
  auto e = journal_record(R"({"seq":7,"time_ms":1000,"kind":"down","node":"n3","by":"n1",)"
                          R"("subject":"","reason":"connection lost","extra":1})");
  REQUIRE(e.has_value());
  CHECK((*e)["kind"] == "down");
  CHECK((*e)["reason"] == "connection lost");
  CHECK_FALSE(e->contains("extra"));
  CHECK_FALSE(journal_record("not json").has_value());
  CHECK_FALSE(journal_record(R"({"seq":"7"})").has_value());
  std::string too_long(5000, ' ');
  too_long.append(R"({"seq":1})");
  CHECK_FALSE(journal_record(too_long).has_value());
  auto sparse = journal_record(R"({"seq":1})");
  REQUIRE(sparse.has_value());
  CHECK((*sparse)["node"] == "");
}

TEST_CASE("dashboard views: member statuses and labels") {
  CHECK(status_name(v1::MEMBER_STATUS_UP) == "up");
  CHECK(status_name(v1::MEMBER_STATUS_DOWN) == "down");
  CHECK(status_name(v1::MEMBER_STATUS_LEFT) == "left");
  member_entry m;
  m.info.set_node_id("n2");
  (*m.info.mutable_labels())["region"] = "eu";
  m.status = v1::MEMBER_STATUS_DOWN;
  m.reason = "connection lost";
  auto r = node_record(m);
  CHECK(r["status"] == "down");
  CHECK(r["region"] == "eu");
  CHECK(r["zone"] == "");
  CHECK(r["reason"] == "connection lost");
}

TEST_CASE("dashboard views: trees flatten depth first, bounded") {
  v1::ActorInfo root;
  root.set_name("sup/n1");
  root.set_messages_total(1);
  auto* sys = root.add_children();
  sys->set_name("sup/n1/system");
  auto* probe = sys->add_children();
  probe->set_name("probe/n1");
  probe->set_messages_total(41);
  probe->set_mailbox_size(3);
  auto all = actor_records(root, 100);
  CHECK(all.size() == 3);
  CHECK(all["probe/n1"]["parent"] == "sup/n1/system");
  CHECK(all["probe/n1"]["depth"] == 2);
  CHECK(all["probe/n1"]["mailbox"] == 3);
  CHECK(actor_records(root, 2).size() == 2);
  CHECK(messages_total(root) == 42);
}

TEST_CASE("dashboard views: the Raft record names the leader and its match indexes") {
  v1::RaftStatus leader;
  leader.set_node_id("n1");
  leader.set_role("leader");
  leader.set_term(3);
  leader.set_commit_index(10);
  auto* m2 = leader.add_members();
  m2->set_node_id("n2");
  m2->set_match_index(9);
  m2->set_voter(true);
  v1::RaftStatus follower;
  follower.set_node_id("n2");
  follower.set_role("follower");
  follower.set_term(3);
  auto r = raft_record({{"n1", leader, ""}, {"n2", follower, ""}, {"n3", std::nullopt, "timeout"}},
                       5);
  CHECK(r["leader"] == "n1");
  CHECK(r["term"] == 3);
  REQUIRE(r["members"].size() == 3);
  CHECK(r["members"][1]["match"] == 9);
  CHECK(r["members"][2]["error"] == "timeout");
  CHECK(r["members"][2]["match"].is_null());
}

TEST_CASE("dashboard views: browser messages") {
  auto resume = parse_client_message(R"({"type":"resume","rev":12})");
  CHECK(resume.kind == client_message::resume);
  CHECK(resume.rev == 12);
  CHECK(parse_client_message(R"({"type":"resume","rev":-1})").kind == client_message::invalid);
  CHECK(parse_client_message(R"({"type":"auth","token":"t"})").kind == client_message::auth);
  auto kill = parse_client_message(R"({"type":"kill","actor":"probe/n2"})");
  CHECK(kill.kind == client_message::kill);
  CHECK(kill.actor == "probe/n2");
  auto bad = parse_client_message("[1,2]");
  CHECK(bad.kind == client_message::invalid);
  CHECK_FALSE(bad.error.empty());
  CHECK(parse_client_message(R"({"type":"purge"})").kind == client_message::invalid);
}

TEST_CASE("dashboard config: labels, token and allowed origins") {
  auto out = load_node_config(std::vector<std::string>{"--node-id", "n1", "--labels",
                                                       "region=eu, zone=a",
                                                       "--dashboard-token", "s3cret-token",
                                                       "--dashboard-allow-origin",
                                                       "http://a:1,http://b:2"},
                              {});
  REQUIRE_MESSAGE(out.config.has_value(), out.error);
  CHECK(out.config->labels.at("region") == "eu");
  CHECK(out.config->labels.at("zone") == "a");
  CHECK(out.config->dashboard_token == "s3cret-token");
  CHECK(out.config->dashboard_allow_origins
        == std::vector<std::string>{"http://a:1", "http://b:2"});
  auto short_token = load_node_config(
    std::vector<std::string>{"--node-id", "n1", "--dashboard-token", "short"}, {});
  CHECK_FALSE(short_token.config.has_value());
  CHECK(short_token.error.find("8 to 256") != std::string::npos);
  auto bad_label = load_node_config(
    std::vector<std::string>{"--node-id", "n1", "--labels", "region"}, {});
  CHECK_FALSE(bad_label.config.has_value());
  CHECK(bad_label.error.find("KEY=VALUE") != std::string::npos);
}
