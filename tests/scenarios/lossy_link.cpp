// A lossy link: iptables drops 20% of the packets in both directions
// between the leader and one follower (-m statistic). TCP retransmits; the
// group keeps committing and the history stays linearizable.
#include "tests/scenarios/scenario.hpp"

namespace troupe::scenario {

SCENARIO("lossy-link",
         "3 nodes; 20% packet loss between the leader and a follower for 8 s",
         slow) {
  cluster c{s, 3};
  firewall net{s};
  workload w{c, 3};
  w.start();
  wait(s, 2s, "the workload runs");
  auto leader = c.wait_leader();
  auto follower = c.others({leader}).front();
  net.lossy(c, leader, follower, 0.2);
  net.lossy(c, follower, leader, 0.2);
  auto before = w.ok_writes();
  wait(s, 8s, "the workload runs over the lossy link");
  s.check("writes keep being acknowledged", w.ok_writes() > before,
          std::to_string(w.ok_writes() - before) + " writes in 8 s");
  s.note("iptables dropped " + std::to_string(net.dropped()) + " packets");
  net.heal();
  wait(s, 2s, "the workload runs on the healed cluster");
  w.finish();
  s.check("a single leader after the heal", !c.wait_leader().empty());
  check_invariants(s, c, w);
}

} // namespace troupe::scenario
