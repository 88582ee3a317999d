// Running actors deterministically from doctest.
//
// caf_fixture owns an actor system on CAF's test_coordinator: there are no
// worker threads, an actor handles a message only when the test calls run(),
// and the clock moves only when the test calls advance_time() or
// trigger_timeouts(). CAF's own fixture (caf/test/dsl.hpp) is tied to CAF's
// unit-test framework; this one keeps just what troupe's tests need.
//
//   TEST_CASE_FIXTURE(test::caf_fixture, "cell answers") {
//     auto cell = sys.spawn(cell_actor);
//     run();
//     auto reply = request<int>(cell, caf::get_atom_v);
//     REQUIRE(reply);
//     CHECK(*reply == 0);
//   }
//
// Everything runs on the test's thread. The fixture registers troupe's
// type-ID block. It does not wait for actors that are still alive when it is
// destroyed (a failed REQUIRE must not hang the suite), so tests that care
// about leaks stop their actors themselves.
#pragma once

#include "runtime/type_ids.hpp"

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/sec.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

namespace troupe::test {

class caf_fixture {
public:
  caf_fixture();
  virtual ~caf_fixture();

  caf_fixture(const caf_fixture&) = delete;
  caf_fixture& operator=(const caf_fixture&) = delete;

  /// Lets actors handle messages until no actor has one left. Fires no
  /// timeouts. Returns the number of messages (jobs) handled.
  size_t run();

  /// Moves the clock forward by `d` and delivers every delayed message and
  /// request timeout that became due; does not run the receivers (call
  /// run()). Returns the number of timeouts delivered.
  size_t advance_time(caf::timespan d);

  /// Delivers every pending timeout in due order, moving the clock to the
  /// last due time; does not run the receivers. Returns the number delivered.
  size_t trigger_timeouts();

  /// The test clock's current time (what actors see as clock().now()).
  caf::actor_clock::time_point now() const;

  /// Sends `xs...` to `dest` as a request without a timeout, runs until no
  /// actor has work left, and returns the reply, which must be one value of
  /// type T, or the error the request failed with. Fails with
  /// sec::request_timeout if `dest` did not answer by then (it delegated or
  /// deferred the answer to a timer: advance the clock, then ask again).
  template <class T, class... Ts>
  caf::expected<T> request(const caf::actor& dest, Ts... xs) {
    auto reply = std::make_shared<std::optional<caf::expected<T>>>();
    sys.spawn([=](caf::event_based_actor* self) {
      self->request(dest, caf::infinite, xs...)
        .then([=](T& value) { reply->emplace(std::move(value)); },
              [=](caf::error& err) { reply->emplace(std::move(err)); });
    });
    run();
    if (!reply->has_value())
      return caf::make_error(caf::sec::request_timeout,
                             "no reply after running all actors");
    return std::move(**reply);
  }

  /// Watches `whom`: the returned slot receives its exit reason when it
  /// exits (which happens inside run(), or at once if it is already gone).
  /// exit_reason::normal is the empty error.
  std::shared_ptr<std::optional<caf::error>> watch_exit(const caf::actor& whom);

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;

private:
  static caf::actor_system_config& prepare(caf::actor_system_config& cfg);
};

} // namespace troupe::test
