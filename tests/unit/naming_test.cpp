// The node-local name table, mailbox gates, name cache and proto dispatch.
#include "runtime/local_actors.hpp"
#include "runtime/node_context.hpp"
#include "runtime/proto_actor.hpp"

#include "actors/probe/probe.hpp"

#include <doctest/doctest.h>

using namespace troupe;

TEST_CASE("mailbox_gate bounds deliveries and counts drops") {
  mailbox_gate gate{2};
  CHECK(gate.try_enter());
  CHECK(gate.try_enter());
  CHECK_FALSE(gate.try_enter());
  CHECK(gate.dropped() == 1);
  CHECK(gate.size() == 2);
  gate.leave();
  CHECK(gate.try_enter());
  gate.reset();
  CHECK(gate.size() == 0);
  gate.leave(); // saturates instead of wrapping
  CHECK(gate.size() == 0);
}

TEST_CASE("local_actors routes only gated names and erases whole subtrees") {
  local_actors table;
  auto entry = [](std::string name, std::string parent,
                  std::shared_ptr<mailbox_gate> gate = nullptr) {
    local_actor_entry e;
    e.name = std::move(name);
    e.parent = std::move(parent);
    e.gate = std::move(gate);
    return e;
  };
  table.upsert(entry("sup/n1", ""));
  table.upsert(entry("sup/n1/system", "sup/n1"));
  table.upsert(entry("probe/n1", "sup/n1/system", std::make_shared<mailbox_gate>(10)));
  CHECK(table.find_route("probe/n1").has_value());
  CHECK_FALSE(table.find_route("sup/n1").has_value());
  CHECK(table.routable_names() == std::vector<std::string>{"probe/n1"});
  CHECK(table.update("probe/n1", [](auto& e) { e.restarts = 3; }));
  CHECK(table.find("probe/n1")->restarts == 3);
  table.erase_subtree("sup/n1/system");
  CHECK_FALSE(table.find("probe/n1").has_value());
  CHECK(table.find("sup/n1").has_value());
}

TEST_CASE("name_cache is bounded and forgets a node's names at once") {
  name_cache cache{2};
  cache.put("a", {"n1", {}});
  cache.put("b", {"n2", {}});
  cache.put("c", {"n2", {}});
  CHECK_FALSE(cache.find("a").has_value()); // oldest evicted
  CHECK(cache.find("b")->node_id == "n2");
  cache.erase_node("n2");
  CHECK_FALSE(cache.find("b").has_value());
  CHECK_FALSE(cache.find("c").has_value());
}

TEST_CASE("proto_handlers dispatch by type and name what they handle") {
  proto_handlers handlers;
  handlers.on<v1::Ping>([](const v1::Ping& p) {
    return probe::answer(p, "n7", "probe/n7", 3);
  });
  v1::Ping ping;
  ping.set_payload("hi");
  auto reply = handlers.dispatch(pack(ping));
  REQUIRE(reply);
  auto pong = unpack<v1::Pong>(*reply);
  REQUIRE(pong);
  CHECK(pong->node_id() == "n7");
  CHECK(pong->payload() == "hi");
  CHECK(pong->incarnation() == 3);
  auto wrong = handlers.dispatch(pack(v1::Pong{}));
  REQUIRE_FALSE(wrong);
  CHECK(is(wrong.error(), errc::unexpected_message));
  CHECK(describe(wrong.error()).find("troupe.v1.Ping") != std::string::npos);
}
