// The same cut as partition-leader-minority, made with the built-in fault
// injection instead of iptables: `troupectl fault partition`, checked with
// `fault list`, healed with `fault heal`. Then `fault crash-node` kills a
// follower as kill -9 would, and the group carries on.
#include "tests/scenarios/scenario.hpp"

namespace troupe::scenario {

SCENARIO("builtin-partition",
         "5 nodes; troupectl fault partition (leader + 1 / 3), heal, then "
         "fault crash-node",
         slow) {
  cluster c{s, 5};
  workload w{c, 3};
  w.start();
  wait(s, 2s, "the workload runs");
  auto old_leader = c.wait_leader();
  auto majority = c.others({old_leader});
  std::vector<std::string> minority{old_leader, majority.front()};
  majority.erase(majority.begin());
  auto spec = join(minority) + "/" + join(majority);
  s.step("troupectl fault partition " + spec);
  auto cut_ns = test::lin::now_ns();
  auto res = c.troupectl(majority.front(), {"fault", "partition", spec});
  s.require("the partition is in place", res.exit_code == 0, res.out + res.err);
  auto list = c.troupectl(majority.front(), {"fault", "list"});
  s.check("fault list shows the cut links",
          list.exit_code == 0
              && list.out.find("partition") != std::string::npos,
          list.out + list.err);
  auto new_leader = c.wait_leader(majority);
  s.check("the majority elects a new leader", new_leader != old_leader,
          new_leader);
  auto failover = w.wait_write_after(cut_ns + 500'000'000, 20s);
  s.check(
      "writes resume on the majority within 10 s", failover && *failover + 0.5 < 10.5,
      failover ? std::to_string(*failover + 0.5)
                     + " s from the cut to the first acknowledged write (none counted "
                       "in the first 0.5 s)"
               : "no write acknowledged");
  auto probe = write_through(w, c.addresses(minority), "minority/", 3s);
  s.check("no write through the minority succeeds", probe.ok == 0,
          std::to_string(probe.ok) + " ok, " + std::to_string(probe.fail)
              + " refused, " + std::to_string(probe.unknown) + " timed out; last: " + probe.last_error);
  s.step("troupectl fault heal");
  res = c.troupectl(minority.front(), {"fault", "heal"});
  s.check("heal reaches every node", res.exit_code == 0, res.out + res.err);
  list = c.troupectl(majority.front(), {"fault", "list"});
  s.check("fault list is empty after the heal",
          list.exit_code == 0
              && list.out.find("no link faults") != std::string::npos,
          list.out);
  bool follower = test::eventually(
      [&] { return c.role_of(old_leader) == "follower"; }, 30s);
  s.check(old_leader + " follows again", follower,
          "role " + c.role_of(old_leader));

  auto victim = c.others({c.wait_leader()}).back();
  s.step("troupectl fault crash-node " + victim);
  res = c.troupectl(c.wait_leader(), {"fault", "crash-node", victim});
  s.check("crash-node answers", res.exit_code == 0, res.out + res.err);
  auto code = c.node(victim).wait_exit(10s);
  s.check(victim + " exited as if by kill -9", code && *code == 128 + 9,
          code ? "exit " + std::to_string(*code) : "still running");
  auto before = w.ok_writes();
  wait(s, 2s, "the workload runs without " + victim);
  s.check("writes go on with 4 of 5", w.ok_writes() > before);
  // Every injected fault is in the decision journal, with who asked.
  std::string events;
  bool journaled = test::eventually(
      [&] {
        auto ev = c.troupectl(c.wait_leader(), {"events"});
        events = ev.out + ev.err;
        return ev.exit_code == 0 && events.find("fault partition") != std::string::npos
               && events.find("fault heal") != std::string::npos
               && events.find("fault crash-node") != std::string::npos
               && events.find("requested by") != std::string::npos;
      },
      10s);
  s.check("the journal records the partition, the heal and the crash", journaled,
          journaled ? "" : events.substr(events.size() > 2000 ? events.size() - 2000 : 0));
  w.finish();
  check_invariants(s, c, w);
}

} // namespace troupe::scenario
