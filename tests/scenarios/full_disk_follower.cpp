// A follower's data dir is a small tmpfs that fills up: that member pauses
// (its /readyz says disk full), the other two keep committing, and once
// space is freed it restarts from storage and catches up.
#include "tests/scenarios/scenario.hpp"

namespace troupe::scenario {

SCENARIO("full-disk-follower",
         "3 nodes; n3's data dir is a 4 MB tmpfs that fills, then grows",
         slow) {
  small_disk disk{s, "4m"};
  cluster_options opts;
  opts.nodes = 3;
  opts.data_dirs["n3"] = disk.dir() + "/data";
  cluster c{s, opts};
  if (c.wait_leader() == "n3") {
    s.step("n3 leads: hand leadership to n1, so that the full disk is a "
           "follower's");
    auto res = c.troupectl("n1", {"raft", "transfer-leader", "n1"});
    s.require("leadership moved",
              res.exit_code == 0 && c.wait_leader({"n1", "n2"}) != "n3",
              res.out + res.err);
  }
  workload w{c, 3};
  w.start();
  s.step("fill the KV with 200 KiB values until n3's disk is full");
  test::kv_client big{w.system(), c.addresses(), 77};
  std::string value(200 * 1024, 'v');
  std::string body;
  int acked = 0;
  for (int i = 0; i < 60 && c.readyz("n3", &body) != 503; ++i)
    acked += big.put("big/" + std::to_string(i), value, 5s).result
             == test::outcome::ok;
  bool full
      = test::eventually([&] { return c.readyz("n3", &body) == 503; }, 15s);
  s.check("n3 /readyz says disk full",
          full && body.find("disk full") != std::string::npos,
          body.substr(0, 200));
  s.note(std::to_string(acked) + " big values acknowledged");
  auto before = w.ok_writes();
  wait(s, 3s, "the other two keep committing");
  s.check("writes go on while n3's disk is full", w.ok_writes() > before,
          std::to_string(w.ok_writes() - before) + " writes in 3 s");
  s.check("n3 keeps running", c.node("n3").running());
  s.require("the tmpfs grows", disk.resize("256m"));
  s.check("n3 is ready again",
          test::eventually([&] { return c.readyz("n3") == 200; }, 30s));
  wait(s, 2s, "the workload runs on the recovered cluster");
  w.finish();
  check_invariants(s, c, w);
}

} // namespace troupe::scenario
