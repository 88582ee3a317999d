// A hung leader: SIGSTOP keeps its TCP connections open but it sends
// nothing. The others elect a new leader; after SIGCONT the old leader
// learns the new term and follows. Nothing acknowledged is lost.
#include "tests/scenarios/scenario.hpp"

#include <csignal>

namespace troupe::scenario {

SCENARIO("leader-sigstop", "3 nodes; SIGSTOP the leader for 6 s, then SIGCONT",
         fast) {
  cluster c{s, 3};
  workload w{c, 3};
  w.start();
  wait(s, 2s, "the workload runs");
  auto old_leader = c.wait_leader();
  s.step("SIGSTOP the leader " + old_leader);
  auto stop_ns = test::lin::now_ns();
  s.require("signal sent", c.node(old_leader).signal(SIGSTOP));
  auto rest = c.others({old_leader});
  auto new_leader = c.wait_leader(rest);
  s.check("a new leader among the others", new_leader != old_leader,
          new_leader);
  auto failover = w.wait_write_after(stop_ns + 200'000'000, 20s);
  s.check("writes resume within 10 s of the stop", failover && *failover + 0.2 < 10.5,
          failover ? std::to_string(*failover + 0.2)
                       + " s from the stop to the first acknowledged write (none "
                         "counted in the first 0.2 s)"
                   : "no write acknowledged");
  wait(s, 4s, "the hung leader stays stopped");
  s.step("SIGCONT " + old_leader);
  c.node(old_leader).signal(SIGCONT);
  bool follower = test::eventually(
      [&] { return c.role_of(old_leader) == "follower"; }, 30s);
  s.check(old_leader + " follows again", follower,
          "role " + c.role_of(old_leader));
  wait(s, 2s, "the workload runs on the healed cluster");
  w.finish();
  check_invariants(s, c, w);
}

} // namespace troupe::scenario
