// The control plane with real processes: membership leases, singleton
// failover, graceful leave, rejoin under a new incarnation, the journal,
// and /readyz without a majority (docs/membership.md).
#include "tests/support/process.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <memory>
#include <thread>

using namespace troupe::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Three nodes as the README starts them: n1 bootstraps, n2 and n3 seed it.
struct trio {
  std::vector<std::unique_ptr<node_process>> nodes;

  explicit trio(std::vector<std::string> extra = {}) {
    for (int i = 1; i <= 3; ++i) {
      std::vector<std::string> seeds;
      if (!nodes.empty())
        seeds.push_back(nodes.front()->cluster_address());
      nodes.push_back(std::make_unique<node_process>(node_options{
        "n" + std::to_string(i), "127.0.0." + std::to_string(20 + i), seeds, extra}));
      INFO(nodes.back()->node_id() << " log:\n" << nodes.back()->log());
      REQUIRE(nodes.back()->wait_ready(30s));
    }
    REQUIRE(eventually([&] { return up_members() == 3; }, 30s));
  }

  node_process& by_id(const std::string& id) {
    for (auto& n : nodes)
      if (n->node_id() == id)
        return *n;
    FAIL("no node " << id);
    throw std::logic_error("unreachable");
  }

  node_process& any_running_except(const std::string& id) {
    for (auto& n : nodes)
      if (n->node_id() != id && n->running())
        return *n;
    FAIL("no running node");
    throw std::logic_error("unreachable");
  }

  std::optional<json> placements(node_process& via) {
    auto res = troupectl({"--endpoint", via.cluster_address(), "placements", "-o", "json"}, 10s);
    if (res.exit_code != 0)
      return std::nullopt;
    return json::parse(res.out);
  }

  int up_members() {
    auto p = placements(*nodes.front());
    if (!p)
      return -1;
    int n = 0;
    for (auto& m : (*p)["members"])
      n += m.value("status", "") == "MEMBER_STATUS_UP";
    return n;
  }

  // The node a send by name reaches, or "" if the send failed.
  std::string ping(node_process& via, const std::string& name) {
    auto res = troupectl({"--endpoint", via.cluster_address(), "--timeout-ms", "1000", "send",
                          name, "Ping", R"({"payload":"x"})"},
                         5s);
    if (res.exit_code != 0)
      return "";
    return json::parse(res.out).value("node_id", "");
  }

  std::string events(node_process& via) {
    auto res = troupectl({"--endpoint", via.cluster_address(), "events"}, 10s);
    INFO("stderr: " << res.err);
    CHECK(res.exit_code == 0);
    return res.out;
  }
};

std::string place(node_process& via, const std::string& name, const std::string& role = "") {
  std::vector<std::string> args{"--endpoint", via.cluster_address(), "place", name, "--type",
                                "probe"};
  if (!role.empty())
    args.insert(args.end(), {"--role", role});
  auto res = troupectl(args);
  INFO("stderr: " << res.err);
  REQUIRE(res.exit_code == 0);
  return res.out;
}

} // namespace

TEST_CASE("control: kill -9 of a singleton's host places it elsewhere, and the journal says why") {
  trio c;
  place(*c.nodes[0], "singleton/t");
  std::string host;
  REQUIRE(eventually([&] { return !(host = c.ping(*c.nodes[0], "singleton/t")).empty(); }, 10s));
  auto& victim = c.by_id(host);
  auto& via = c.any_running_except(host);
  victim.stop(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  std::string now_on;
  REQUIRE(eventually([&] { return !(now_on = c.ping(via, "singleton/t")).empty(); }, 15s));
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  MESSAGE("singleton/t moved from " << host << " to " << now_on << " in " << took << " s");
  CHECK(now_on != host);
  auto log = c.events(via);
  INFO("events:\n" << log);
  CHECK(log.find(" down " + host) != std::string::npos);
  CHECK(log.find("lease expired") != std::string::npos);
  CHECK(log.find("moved from " + host + " to " + now_on + ": " + host + " is down")
        != std::string::npos);
  // The killed node comes back under a new incarnation, with no cleanup.
  victim.restart();
  REQUIRE(victim.wait_ready(30s));
  REQUIRE(eventually([&] { return c.up_members() == 3; }, 15s));
  CHECK(c.events(via).find(" rejoin " + host) != std::string::npos);
  // Exactly one copy runs: the placement did not move back.
  CHECK(c.ping(victim, "singleton/t") == now_on);
  std::string metrics;
  bool counted = false;
  for (auto& n : c.nodes)
    if (http_get(n->host(), n->admin_port(), "/metrics", &metrics) == 200
        && metrics.find("troupe_failover_seconds_count 1") != std::string::npos)
      counted = true;
  CHECK(counted);
}

// A graceful stop: the leave is committed before the node goes, so its
// singleton moves without waiting for the lease.
TEST_CASE("control: a graceful stop marks the node left and moves its singleton at once") {
  trio c;
  place(*c.nodes[0], "singleton/g");
  std::string host;
  REQUIRE(eventually([&] { return !(host = c.ping(*c.nodes[0], "singleton/g")).empty(); }, 10s));
  auto& leaving = c.by_id(host);
  auto& via = c.any_running_except(host);
  REQUIRE(leaving.stop(SIGTERM) == 0);
  std::string now_on;
  bool moved = eventually([&] { return !(now_on = c.ping(via, "singleton/g")).empty(); }, 10s);
  INFO("leaving " << host << ":\n" << leaving.log());
  INFO("via " << via.node_id() << ":\n" << via.log());
  INFO("events:\n" << c.events(via));
  REQUIRE(moved);
  CHECK(now_on != host);
  auto log = c.events(via);
  INFO("events:\n" << log);
  CHECK(log.find(" leave " + host) != std::string::npos);
  CHECK(log.find("left gracefully") != std::string::npos);
}

// A role's supervisor that exceeds its restart intensity fails that role
// over: the placements that need it move to another node, which the
// journal explains, while the node itself stays up.
TEST_CASE("control: a role that gives up on a node moves the singletons needing it") {
  trio c{{"--enable-fault-injection", "--max-restarts", "2"}};
  place(*c.nodes[0], "singleton/rc", "cache");
  std::string host;
  REQUIRE(eventually([&] { return !(host = c.ping(*c.nodes[0], "singleton/rc")).empty(); }, 10s));
  for (int i = 0; i < 4; ++i) {
    auto res = troupectl({"--endpoint", c.nodes[0]->cluster_address(), "fault", "kill-actor",
                          "cache/" + host});
    CHECK_MESSAGE(res.exit_code == 0, res.out << res.err);
    std::this_thread::sleep_for(300ms);
  }
  std::string now_on;
  REQUIRE(eventually(
    [&] { return !(now_on = c.ping(*c.nodes[0], "singleton/rc")).empty() && now_on != host; },
    10s));
  auto log = c.events(*c.nodes[0]);
  INFO("events:\n" << log);
  CHECK(log.find("escalation " + host + " sup/" + host + "/cache") != std::string::npos);
  CHECK(log.find("moved from " + host + " to " + now_on + ": role cache gave up on " + host)
        != std::string::npos);
  CHECK(c.up_members() == 3); // the node itself stays up
}

TEST_CASE("control: a node that cannot reach a majority says so in /readyz") {
  trio c;
  auto& lone = *c.nodes[2];
  c.nodes[0]->signal(SIGSTOP);
  c.nodes[1]->signal(SIGSTOP);
  std::string body;
  CHECK(eventually(
    [&] {
      return http_get(lone.host(), lone.admin_port(), "/readyz?verbose", &body) == 503
             && body.find("[-]majority") != std::string::npos;
    },
    10s));
  INFO("readyz: " << body);
  CHECK(body.find("not taking actions that need a majority") != std::string::npos);
  c.nodes[0]->signal(SIGCONT);
  c.nodes[1]->signal(SIGCONT);
  CHECK(eventually([&] { return http_get(lone.host(), lone.admin_port(), "/readyz") == 200; },
                   20s));
}
