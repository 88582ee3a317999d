// The required scenario: in a 5-node cluster an iptables partition
// puts the Raft leader and one other node on the minority side (2 of 5).
// The minority stops acting (no majority in /readyz, its writes never
// succeed), the majority elects a new leader and carries on, and after the
// heal the old leader rejoins as a follower with nothing acknowledged lost
// or applied twice.
#include "tests/scenarios/scenario.hpp"

namespace troupe::scenario {

namespace {

// The failover target of issue 7 is about a second; under five nodes, the
// clients and the checker on two shared cores we assert a generous bound.
constexpr double failover_bound_s = 10.0;

std::string pick_partner(cluster& c, const std::string& leader) {
  for (auto& id : c.ids())
    if (id != leader)
      return id;
  return {};
}

} // namespace

SCENARIO("partition-leader-minority",
         "5 nodes; iptables cuts the leader and one follower off (2 of 5), "
         "then heals",
         fast) {
  cluster c{s, 5};
  firewall net{s};
  workload w{c, 3};
  s.step("start the workload (3 KV clients, every node)");
  w.start();
  wait(s, 2s, "the workload runs on the whole cluster");
  auto old_leader = c.wait_leader();
  std::vector<std::string> minority{old_leader, pick_partner(c, old_leader)};
  auto majority = c.others(minority);
  s.note("leader " + old_leader + "; minority " + join(minority) + ", majority "
         + join(majority));

  auto cut_ns = test::lin::now_ns();
  net.partition(c, minority, majority);

  s.step("the majority elects a new leader and carries on");
  auto new_leader = c.wait_leader(majority);
  s.check("the new leader is on the majority side", new_leader != old_leader,
          new_leader);
  auto failover = w.wait_write_after(cut_ns + 500'000'000, 20s);
  s.check("writes resume on the majority within "
              + std::to_string(int(failover_bound_s)) + " s",
          failover && *failover + 0.5 < failover_bound_s + 0.5,
          failover ? std::to_string(*failover + 0.5)
                         + " s from the cut to the first acknowledged write (none "
                           "counted in the first 0.5 s)"
                   : "no write acknowledged");

  s.step("the minority stops acting");
  for (auto& id : minority) {
    std::string body;
    bool unready
        = test::eventually([&] { return c.readyz(id, &body) == 503; }, 15s);
    s.check(id + " /readyz says it has no majority", unready,
            body.substr(0, 200));
  }
  auto probe = write_through(w, c.addresses(minority), "minority/", 4s);
  s.check("no write through the minority succeeds", probe.ok == 0,
          std::to_string(probe.ok) + " ok, " + std::to_string(probe.fail)
              + " refused, " + std::to_string(probe.unknown) + " timed out; last: " + probe.last_error);
  auto writes_during = w.ok_writes();
  wait(s, 3s, "the majority keeps writing");
  s.check("the majority keeps acknowledging writes",
          w.ok_writes() > writes_during,
          std::to_string(w.ok_writes() - writes_during) + " writes in 3 s");
  s.note("iptables dropped " + std::to_string(net.dropped()) + " packets");

  net.heal();
  s.step("the old leader rejoins as a follower");
  bool follower = test::eventually(
      [&] {
        return c.role_of(old_leader) == "follower"
               && c.leader(old_leader) == c.leader(new_leader);
      },
      30s);
  s.check(old_leader + " is a follower of the current leader", follower,
          "role " + c.role_of(old_leader) + ", leader " + c.leader(old_leader));
  for (auto& id : minority) {
    bool ready = test::eventually([&] { return c.readyz(id) == 200; }, 30s);
    s.check(id + " /readyz is ready again", ready);
  }
  wait(s, 2s, "the workload runs on the healed cluster");
  w.finish();
  check_invariants(s, c, w);
}

} // namespace troupe::scenario
