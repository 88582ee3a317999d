// The gateway shell on CAF's deterministic scheduler: delivery by name
// through bounded mailboxes, and the errors callers act on.
#include "runtime/gateway.hpp"
#include "runtime/proto_actor.hpp"
#include "tests/support/caf_test.hpp"

#include "actors/probe/probe.hpp"

#include <doctest/doctest.h>

using namespace troupe;

namespace {

struct gateway_fixture : test::caf_fixture {
  node_context_ptr ctx = std::make_shared<node_context>();
  std::shared_ptr<mailbox_gate> gate = std::make_shared<mailbox_gate>(2);
  caf::actor echo;
  caf::actor gateway;

  gateway_fixture() {
    ctx->self.node_id = "n1";
    proto_handlers handlers;
    handlers.on<v1::Ping>([](const v1::Ping& p) {
      return probe::answer(p, "n1", "echo/n1", 1);
    });
    echo = sys.spawn([handlers, g = gate] { return handlers.to_behavior(g); });
    local_actor_entry entry;
    entry.name = "echo/n1";
    entry.type = "echo";
    entry.handle = echo;
    entry.gate = gate;
    entry.status = "running";
    ctx->table->upsert(entry);
    gateway = spawn_gateway(sys, ctx);
    ctx->gateway = gateway;
    run();
  }

  ~gateway_fixture() override {
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
    run();
  }

  static envelope ping(const std::string& payload) {
    v1::Ping p;
    p.set_payload(payload);
    return pack(p);
  }
};

} // namespace

TEST_CASE_FIXTURE(gateway_fixture, "gateway delivers by name and the actor answers") {
  auto reply = request<envelope>(gateway, route_atom_v, std::string{"echo/n1"}, ping("hi"));
  REQUIRE(reply);
  auto pong = unpack<v1::Pong>(*reply);
  REQUIRE(pong);
  CHECK(pong->payload() == "hi");
  CHECK(gate->size() == 0); // the actor left the gate when it took the message
}

TEST_CASE_FIXTURE(gateway_fixture, "a full mailbox rejects with mailbox_full and counts the drop") {
  REQUIRE(gate->try_enter());
  REQUIRE(gate->try_enter()); // capacity 2 now used up by queued work
  auto reply = request<envelope>(gateway, route_atom_v, std::string{"echo/n1"}, ping("x"));
  REQUIRE_FALSE(reply);
  CHECK(is(reply.error(), errc::mailbox_full));
  CHECK(gate->dropped() == 1);
}

TEST_CASE_FIXTURE(gateway_fixture, "unknown names answer not_hosted_here so callers resolve again") {
  auto reply = request<envelope>(gateway, route_atom_v, std::string{"echo/n9"}, ping("x"));
  REQUIRE_FALSE(reply);
  CHECK(is(reply.error(), errc::not_hosted_here));
  CHECK(request<bool>(gateway, lookup_atom_v, std::string{"echo/n1"}) == true);
  CHECK(request<bool>(gateway, lookup_atom_v, std::string{"echo/n9"}) == false);
}

TEST_CASE_FIXTURE(gateway_fixture, "a message type the actor does not handle is an error, not a crash") {
  auto reply = request<envelope>(gateway, route_atom_v, std::string{"echo/n1"},
                                 pack(v1::MemberInfo{}));
  REQUIRE_FALSE(reply);
  CHECK(is(reply.error(), errc::unexpected_message));
  auto again = request<envelope>(gateway, route_atom_v, std::string{"echo/n1"}, ping("ok"));
  CHECK(static_cast<bool>(again));
}

TEST_CASE_FIXTURE(gateway_fixture, "kill sends the actor an exit and reports where it ran") {
  auto exited = watch_exit(echo);
  auto reply = request<envelope>(gateway, route_atom_v, kill_atom_v, std::string{"echo/n1"});
  REQUIRE(reply);
  auto report = unpack<v1::KillReport>(*reply);
  REQUIRE(report);
  CHECK(report->node_id() == "n1");
  run();
  REQUIRE(exited->has_value());
  CHECK(**exited == caf::exit_reason::kill);
}

TEST_CASE_FIXTURE(gateway_fixture, "a shutting-down node refuses new work") {
  ctx->shutting_down = true;
  auto reply = request<envelope>(gateway, route_atom_v, std::string{"echo/n1"}, ping("x"));
  REQUIRE_FALSE(reply);
  CHECK(is(reply.error(), errc::shutting_down));
}
