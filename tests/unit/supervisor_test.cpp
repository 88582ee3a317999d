// Supervisor trees on CAF's deterministic scheduler: strategies, child kinds,
// restart intensity and escalation, shutdown order, and the local_actors
// table they keep.
#include "actors/probe/probe.hpp"
#include "runtime/supervisor.hpp"
#include "runtime/supervisor_policy.hpp"
#include "runtime/type_ids.hpp"
#include "tests/support/caf_test.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace troupe {

namespace {

using name_list = std::vector<std::string>;

// A worker for tests: answers get with its incarnation, exits normally on
// stop, and appends its name to `exits` when it exits for any reason.
caf::behavior test_worker(caf::event_based_actor* self, child_context ctx,
                          std::shared_ptr<name_list> exits) {
  self->attach_functor([exits, name = ctx.name] { exits->push_back(name); });
  return {
    [ctx](caf::get_atom) { return ctx.incarnation; },
    [self](stop_atom) { self->quit(); },
  };
}

// A worker that ignores every exit signal it is allowed to ignore.
caf::behavior stubborn_worker(caf::event_based_actor* self, child_context ctx,
                              std::shared_ptr<name_list> exits) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return test_worker(self, std::move(ctx), std::move(exits));
}

struct supervisor_fixture : test::caf_fixture {
  std::shared_ptr<local_actors> table = std::make_shared<local_actors>();
  std::shared_ptr<name_list> exits = std::make_shared<name_list>();
  caf::actor root;

  ~supervisor_fixture() override {
    if (root)
      caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    run();
  }

  child_spec worker(const std::string& name,
                    child_kind kind = child_kind::permanent) {
    child_spec spec;
    spec.name = name;
    spec.type = "test_worker";
    spec.kind = kind;
    spec.mailbox_capacity = 16;
    spec.start = [log = exits](caf::local_actor* sup, const child_context& ctx) {
      return sup->spawn(test_worker, ctx, log);
    };
    return spec;
  }

  child_spec stubborn(const std::string& name) {
    auto spec = worker(name);
    spec.start = [log = exits](caf::local_actor* sup, const child_context& ctx) {
      return sup->spawn(stubborn_worker, ctx, log);
    };
    return spec;
  }

  static supervisor_spec tree(std::string name, restart_strategy strategy,
                              std::vector<child_spec> children,
                              restart_intensity intensity = {}) {
    supervisor_spec spec;
    spec.name = std::move(name);
    spec.strategy = strategy;
    spec.intensity = intensity;
    spec.children = std::move(children);
    return spec;
  }

  void start(supervisor_spec spec) {
    root = spawn_supervisor(sys, std::move(spec), table);
    run();
  }

  local_actor_entry entry(const std::string& name) {
    auto found = table->find(name);
    REQUIRE_MESSAGE(found.has_value(), "no table entry for " << name);
    return *found;
  }

  caf::actor handle(const std::string& name) {
    auto result = entry(name).handle;
    REQUIRE_MESSAGE(result, name << " has no running incarnation");
    return result;
  }

  // Kills the current incarnation of `name`, as `troupectl kill` does.
  void kill(const std::string& name) {
    caf::anon_send_exit(handle(name), caf::exit_reason::kill);
    run();
  }

  // Makes `name` exit with exit_reason::normal.
  void finish(const std::string& name) {
    caf::anon_send(handle(name), stop_atom_v);
    run();
  }

  void check_running(const std::string& name, uint64_t incarnation,
                     uint32_t restarts) {
    INFO("child ", name);
    auto e = entry(name);
    CHECK(e.status == "running");
    CHECK(e.handle);
    CHECK(e.incarnation == incarnation);
    CHECK(e.restarts == restarts);
  }

  void check_stopped(const std::string& name, const std::string& last_exit) {
    INFO("child ", name);
    auto e = entry(name);
    CHECK(e.status == "stopped");
    CHECK_FALSE(e.handle);
    CHECK(e.last_exit == last_exit);
  }
};

} // namespace

// -- policy -------------------------------------------------------------------

TEST_CASE("supervisor policy: which exits lead to a restart") {
  CHECK(should_restart(child_kind::permanent, false));
  CHECK(should_restart(child_kind::permanent, true));
  CHECK_FALSE(should_restart(child_kind::transient, false));
  CHECK(should_restart(child_kind::transient, true));
  CHECK_FALSE(should_restart(child_kind::temporary, false));
  CHECK_FALSE(should_restart(child_kind::temporary, true));
}

TEST_CASE("supervisor policy: children touched by each strategy") {
  using v = std::vector<size_t>;
  CHECK(affected_children(restart_strategy::one_for_one, 1, 4) == v{1});
  CHECK(affected_children(restart_strategy::one_for_all, 1, 4) == v{0, 1, 2, 3});
  CHECK(affected_children(restart_strategy::rest_for_one, 1, 4) == v{1, 2, 3});
  CHECK(affected_children(restart_strategy::rest_for_one, 3, 4) == v{3});
}

TEST_CASE("supervisor policy: restart window slides with time") {
  restart_window window{restart_intensity{2, 5000ms}};
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(window.try_record(t0));
  CHECK(window.try_record(t0 + 1s));
  CHECK_FALSE(window.try_record(t0 + 2s)); // third within 5 s
  CHECK(window.try_record(t0 + 5s));       // the first one aged out
  CHECK(window.recent() == 2);
  restart_window none{restart_intensity{0, 5000ms}};
  CHECK_FALSE(none.try_record(t0));
}

// -- strategies ---------------------------------------------------------------

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor one_for_one restarts only the dead child") {
  start(tree("sup/t", restart_strategy::one_for_one,
             {worker("a"), worker("b"), worker("c")}));
  auto a = handle("a");
  auto b = handle("b");
  auto c = handle("c");
  kill("b");
  CHECK(*exits == name_list{"b"});
  check_running("b", 2, 1);
  CHECK(handle("b") != b);
  CHECK(entry("b").last_exit == "kill");
  check_running("a", 1, 0);
  check_running("c", 1, 0);
  CHECK(handle("a") == a);
  CHECK(handle("c") == c);
  auto reply = request<uint64_t>(handle("b"), caf::get_atom_v);
  REQUIRE(reply);
  CHECK(*reply == 2);
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor one_for_all restarts every child") {
  start(tree("sup/t", restart_strategy::one_for_all,
             {worker("a"), worker("b"), worker("c")}));
  kill("b");
  // The siblings stop in reverse start order after the crash.
  CHECK(*exits == name_list{"b", "c", "a"});
  for (auto name : {"a", "b", "c"})
    check_running(name, 2, 1);
  CHECK(entry("a").last_exit == "user_shutdown");
  CHECK(entry("b").last_exit == "kill");
  CHECK(entry("sup/t").restarts == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor rest_for_one restarts the dead child and later ones") {
  start(tree("sup/t", restart_strategy::rest_for_one,
             {worker("a"), worker("b"), worker("c"), worker("d")}));
  auto a = handle("a");
  kill("b");
  CHECK(*exits == name_list{"b", "d", "c"});
  check_running("a", 1, 0);
  CHECK(handle("a") == a);
  for (auto name : {"b", "c", "d"})
    check_running(name, 2, 1);
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor one_for_all forgets a temporary sibling") {
  start(tree("sup/t", restart_strategy::one_for_all,
             {worker("a"), worker("tmp", child_kind::temporary),
              worker("b")}));
  kill("a");
  CHECK(*exits == name_list{"a", "b", "tmp"});
  CHECK_FALSE(table->find("tmp").has_value());
  check_running("a", 2, 1);
  check_running("b", 2, 1);
}

// -- child kinds --------------------------------------------------------------

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor restarts children according to their kind") {
  start(tree("sup/t", restart_strategy::one_for_one,
             {worker("perm"), worker("trans", child_kind::transient),
              worker("tmp", child_kind::temporary)}));
  SUBCASE("permanent: restarted even after a normal exit") {
    finish("perm");
    check_running("perm", 2, 1);
    CHECK(entry("perm").last_exit == "normal");
  }
  SUBCASE("transient: a normal exit leaves it stopped") {
    finish("trans");
    check_stopped("trans", "normal");
    CHECK(entry("trans").incarnation == 1);
  }
  SUBCASE("transient: an abnormal exit restarts it") {
    caf::anon_send_exit(handle("trans"), caf::exit_reason::user_shutdown);
    run();
    check_running("trans", 2, 1);
    CHECK(entry("trans").last_exit == "user_shutdown");
  }
  SUBCASE("temporary: never restarted, and removed from the table") {
    kill("tmp");
    CHECK_FALSE(table->find("tmp").has_value());
  }
  SUBCASE("temporary: a normal exit removes it as well") {
    finish("tmp");
    CHECK_FALSE(table->find("tmp").has_value());
  }
  check_running("sup/t", 1, 0);
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor one_for_all starts a stopped transient child again") {
  start(tree("sup/t", restart_strategy::one_for_all,
             {worker("trans", child_kind::transient), worker("a")}));
  finish("trans");
  check_stopped("trans", "normal");
  kill("a");
  check_running("trans", 2, 1);
  check_running("a", 2, 1);
}

// -- named children -----------------------------------------------------------

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor keeps a killed named child's name and gate") {
  start(tree("sup/t", restart_strategy::one_for_one, {probe::child("n1")}));
  auto name = probe::name_for("n1");
  auto before = table->find_route(name);
  REQUIRE(before.has_value());
  REQUIRE(before->gate != nullptr);
  // Two messages admitted but never handled: they die with the incarnation.
  CHECK(before->gate->try_enter());
  CHECK(before->gate->try_enter());
  kill(name);
  auto after = table->find_route(name);
  REQUIRE(after.has_value());
  CHECK(after->gate == before->gate);
  CHECK(after->gate->size() == 0);
  CHECK(after->handle != before->handle);
  check_running(name, 2, 1);
  CHECK(entry(name).last_exit == "kill");
  CHECK(entry(name).parent == "sup/t");
  v1::Ping ping;
  ping.set_payload("hi");
  auto reply = request<envelope>(after->handle, pack(ping));
  REQUIRE(reply);
  auto pong = unpack<v1::Pong>(*reply);
  REQUIRE(pong);
  CHECK(pong->incarnation() == 2);
  CHECK(pong->actor() == name);
  CHECK(pong->payload() == "hi");
}

// -- intensity and escalation -------------------------------------------------

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor escalates to its parent, which restarts it") {
  auto inner = tree("sup/inner", restart_strategy::one_for_one,
                    {worker("a"), worker("b"), worker("c")},
                    restart_intensity{1, 5000ms});
  start(tree("sup/root", restart_strategy::one_for_one,
             {supervisor_child(std::move(inner)), worker("z")}));
  auto z = handle("z");
  CHECK(entry("sup/inner").parent == "sup/root");
  CHECK(entry("sup/inner").type == "supervisor");
  CHECK(entry("sup/inner").strategy == "one_for_one");
  CHECK(entry("a").parent == "sup/inner");
  kill("c");
  check_running("c", 2, 1);
  kill("c");
  // Too many restarts: b and a stop in reverse order, the parent restarts
  // the nested supervisor, which starts a fresh set of children.
  CHECK(*exits == name_list{"c", "c", "b", "a"});
  check_running("sup/inner", 2, 1);
  auto e = entry("sup/inner");
  CHECK(e.escalations == 1);
  CHECK(e.last_exit.rfind("escalated: sup/inner exceeded 1 restarts", 0) == 0);
  check_running("a", 2, 0);
  check_running("b", 2, 0);
  check_running("c", 3, 0);
  CHECK(entry("a").last_exit == "user_shutdown");
  CHECK(entry("c").last_exit == "kill");
  check_running("z", 1, 0);
  CHECK(handle("z") == z);
  check_running("sup/root", 1, 0);
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor at the root exits with escalated") {
  start(tree("sup/root", restart_strategy::one_for_one,
             {worker("a"), worker("b")}, restart_intensity{0, 5000ms}));
  auto exit = watch_exit(root);
  kill("a");
  CHECK(*exits == name_list{"a", "b"});
  REQUIRE(exit->has_value());
  CHECK(is(**exit, errc::escalated));
  auto e = entry("sup/root");
  CHECK(e.status == "escalated");
  CHECK_FALSE(e.handle);
  check_stopped("b", "user_shutdown");
  CHECK(entry("a").status == "stopped");
  CHECK(entry("a").last_exit == "kill");
  root = caf::actor{};
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor forgets restarts older than its period") {
  start(tree("sup/root", restart_strategy::one_for_one, {worker("a")},
             restart_intensity{1, 5000ms}));
  kill("a");
  check_running("a", 2, 1);
  SUBCASE("after the period, the next crash is restarted") {
    advance_time(5s);
    run();
    kill("a");
    check_running("a", 3, 2);
    CHECK(entry("sup/root").status == "running");
    kill("a"); // the second within 5 s
    CHECK(entry("sup/root").status == "escalated");
  }
  SUBCASE("within the period, the next crash escalates") {
    advance_time(4999ms);
    run();
    kill("a");
    CHECK(entry("sup/root").status == "escalated");
    root = caf::actor{};
  }
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor counts a failed restart as a crash") {
  auto flaky = worker("flaky");
  flaky.start = [log = exits](caf::local_actor* sup,
                              const child_context& ctx) -> caf::actor {
    if (ctx.incarnation > 1)
      throw std::runtime_error("disk gone");
    return sup->spawn(test_worker, ctx, log);
  };
  start(tree("sup/root", restart_strategy::one_for_one, {flaky},
             restart_intensity{3, 5000ms}));
  auto exit = watch_exit(root);
  kill("flaky");
  // Three restarts fail, the fourth exceeds the intensity.
  REQUIRE(exit->has_value());
  CHECK(is(**exit, errc::escalated));
  auto e = entry("flaky");
  CHECK(e.status == "stopped");
  CHECK(e.incarnation == 4);
  CHECK(e.restarts == 3);
  CHECK(e.last_exit == "runtime_error: start of flaky failed: disk gone");
  root = caf::actor{};
}

// -- shutdown -----------------------------------------------------------------

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor shutdown stops children in reverse start order") {
  auto inner = tree("sup/inner", restart_strategy::one_for_one,
                    {worker("d"), worker("e")});
  start(tree("sup/root", restart_strategy::one_for_one,
             {worker("a"), supervisor_child(std::move(inner)), worker("b")}));
  auto exit = watch_exit(root);
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  run();
  CHECK(*exits == name_list{"b", "e", "d", "a"});
  REQUIRE(exit->has_value());
  CHECK(**exit == caf::exit_reason::user_shutdown);
  for (auto name : {"a", "b", "d", "e", "sup/inner", "sup/root"})
    check_stopped(name, "user_shutdown");
  root = caf::actor{};
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor kills a child that does not stop in time") {
  start(tree("sup/root", restart_strategy::one_for_one,
             {worker("a"), stubborn("s")}));
  auto exit = watch_exit(root);
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  run();
  CHECK(exits->empty()); // waiting for s, a still runs
  check_running("a", 1, 0);
  advance_time(4999ms);
  run();
  CHECK(exits->empty());
  advance_time(1ms);
  run();
  CHECK(*exits == name_list{"s", "a"});
  REQUIRE(exit->has_value());
  check_stopped("s", "kill");
  root = caf::actor{};
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor killed outright takes its children down") {
  auto inner = tree("sup/inner", restart_strategy::one_for_one, {worker("c")});
  start(tree("sup/root", restart_strategy::one_for_one,
             {worker("a"), supervisor_child(std::move(inner)), worker("b")}));
  caf::anon_send_exit(root, caf::exit_reason::kill);
  run();
  std::sort(exits->begin(), exits->end());
  CHECK(*exits == name_list{"a", "b", "c"});
  for (auto name : {"a", "b", "c", "sup/inner", "sup/root"})
    check_stopped(name, "kill");
  root = caf::actor{};
}

TEST_CASE_FIXTURE(supervisor_fixture,
                  "supervisor restarts a killed nested supervisor's subtree") {
  auto inner = tree("sup/inner", restart_strategy::one_for_one,
                    {worker("c"), worker("d")});
  start(tree("sup/root", restart_strategy::one_for_one,
             {supervisor_child(std::move(inner))}));
  kill("sup/inner");
  std::sort(exits->begin(), exits->end());
  CHECK(*exits == name_list{"c", "d"});
  check_running("sup/inner", 2, 1);
  CHECK(entry("sup/inner").last_exit == "kill");
  CHECK(entry("sup/inner").escalations == 0);
  check_running("c", 2, 0);
  check_running("d", 2, 0);
}

} // namespace troupe
