#include "tests/support/caf_test.hpp"

#include <caf/atom.hpp>

#include <chrono>

namespace troupe::test {

caf::actor_system_config&
caf_fixture::prepare(caf::actor_system_config& cfg) {
  // "testing" makes actor_system install scheduler::test_coordinator, the
  // same switch CAF's test_coordinator_fixture flips. Nothing here loads
  // the middleman, so the network settings of that fixture are not needed.
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  cfg.add_message_types<caf::id_block::troupe>();
  return cfg;
}

caf_fixture::caf_fixture()
  : sys(prepare(cfg)),
    sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
  // A supervisor tree that is still up (say, after a failed REQUIRE) would
  // otherwise block the actor_system destructor forever.
  sys.await_actors_before_shutdown(false);
  // The test clock starts at its epoch; CAF's fixture moves it off that
  // value because some of CAF treats a default time_point as "unset".
  sched.clock().current_time += std::chrono::hours(1);
}

caf_fixture::~caf_fixture() {
  run();
}

size_t caf_fixture::run() {
  size_t jobs = 0;
  while (sched.try_run_once())
    ++jobs;
  return jobs;
}

size_t caf_fixture::advance_time(caf::timespan d) {
  return sched.advance_time(d);
}

size_t caf_fixture::trigger_timeouts() {
  return sched.trigger_timeouts();
}

caf::actor_clock::time_point caf_fixture::now() const {
  return sched.clock().now();
}

std::shared_ptr<std::optional<caf::error>>
caf_fixture::watch_exit(const caf::actor& whom) {
  auto reason = std::make_shared<std::optional<caf::error>>();
  // A functor attached to the actor itself rather than a monitoring actor:
  // an actor nobody references would be collected before the exit arrives.
  // CAF runs it during the actor's cleanup, on the test thread; at once if
  // the actor is already gone.
  whom->attach_functor(
    [reason](const caf::error& why) { reason->emplace(why); });
  return reason;
}

} // namespace troupe::test
