// Bad input to troupe-node and troupectl: one clear line on stderr, a
// non-zero exit, and a running node is never disturbed.
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace troupe::test;

namespace {

command_result node(const std::vector<std::string>& args) {
  std::vector<std::string> argv{TROUPE_NODE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds{20});
}

size_t lines(const std::string& text) {
  size_t n = 0;
  for (char c : text)
    n += c == '\n';
  return n;
}

} // namespace

TEST_CASE("troupe-node refuses bad configuration with one clear line") {
  SUBCASE("unknown role names the valid roles") {
    auto res = node({"--role", "bogus", "--node-id", "x"});
    CHECK(res.exit_code != 0);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("bogus") != std::string::npos);
    CHECK(res.err.find("edge, cache, consensus, analytics, scheduler, dashboard") != std::string::npos);
  }
  SUBCASE("a known role that is not built is refused, never skipped") {
    auto res = node({"--role", "analytics", "--node-id", "x"});
    CHECK(res.exit_code != 0);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("not available in this build") != std::string::npos);
  }
  SUBCASE("bad address") {
    auto res = node({"--listen", "127.0.0.1:99999", "--node-id", "x"});
    CHECK(res.exit_code != 0);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("99999") != std::string::npos);
  }
  SUBCASE("unreadable config file") {
    auto res = node({"--config", "/nonexistent/troupe.toml"});
    CHECK(res.exit_code != 0);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("/nonexistent/troupe.toml") != std::string::npos);
  }
  SUBCASE("cluster port in use") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto port = std::to_string(ntohs(addr.sin_port));
    char dir[] = "/tmp/troupe-bad-XXXXXX";
    std::string data = mkdtemp(dir);
    std::vector<std::string> args{"--node-id", "x", "--listen", "127.0.0.1:" + port,
                                  "--admin-listen",
                                  "127.0.0.1:" + std::to_string(free_port("127.0.0.1")),
                                  "--data-dir", data};
    for (auto& a : tls_args(test_node_tls("x")))
      args.push_back(a);
    auto res = node(args);
    close(fd);
    CHECK(res.exit_code == 1);
    CHECK(res.err.find("cannot listen on 127.0.0.1:" + port) != std::string::npos);
    std::filesystem::remove_all(data);
  }
}

TEST_CASE("troupectl bad input gives one line, the right exit code, and leaves the node alone") {
  node_process n{node_options{"solo", "127.0.0.5"}};
  REQUIRE(n.wait_ready());
  auto ep = n.cluster_address();
  SUBCASE("unknown message type is a usage error") {
    auto res = troupectl({"--endpoint", ep, "send", "probe/solo", "NoSuchType", "{}"});
    CHECK(res.exit_code == 2);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("NoSuchType") != std::string::npos);
  }
  SUBCASE("malformed JSON is a usage error") {
    auto res = troupectl({"--endpoint", ep, "send", "probe/solo", "Ping", "{\"payload\":"});
    CHECK(res.exit_code == 2);
    CHECK(lines(res.err) == 1);
  }
  SUBCASE("unknown field is a usage error") {
    auto res = troupectl({"--endpoint", ep, "send", "probe/solo", "Ping", "{\"nope\":1}"});
    CHECK(res.exit_code == 2);
  }
  SUBCASE("unknown actor fails with exit 1") {
    auto res = troupectl({"--endpoint", ep, "send", "probe/nobody", "Ping", "{}"});
    CHECK(res.exit_code == 1);
    CHECK(lines(res.err) == 1);
    CHECK(res.err.find("probe/nobody") != std::string::npos);
  }
  SUBCASE("wrong message type for the actor fails with exit 1") {
    auto res = troupectl({"--endpoint", ep, "send", "probe/solo", "MemberInfo", "{}"});
    CHECK(res.exit_code == 1);
    CHECK(res.err.find("does not handle") != std::string::npos);
  }
  SUBCASE("unreachable endpoint exits 3") {
    auto port = std::to_string(free_port("127.0.0.1"));
    auto res = troupectl({"--endpoint", "127.0.0.1:" + port, "status"});
    CHECK(res.exit_code == 3);
    CHECK(lines(res.err) == 1);
  }
  SUBCASE("bad flags exit 2") {
    CHECK(troupectl({"--endpoint", ep, "frobnicate"}).exit_code == 2);
    CHECK(troupectl({"--endpoint", "nope:99999", "status"}).exit_code == 2);
    CHECK(troupectl({"--endpoint", ep, "-o", "yaml", "status"}).exit_code == 2);
  }
  // Whatever happened above, the node still answers.
  CHECK(http_get("127.0.0.5", n.admin_port(), "/readyz") == 200);
  auto pong = troupectl({"--endpoint", ep, "send", "probe/solo", "Ping", R"({"payload":"still here"})"});
  CHECK(pong.exit_code == 0);
  CHECK(pong.out.find("still here") != std::string::npos);
}

TEST_CASE("a second node with an id already in use is refused") {
  node_process first{node_options{"dup", "127.0.0.6"}};
  REQUIRE(first.wait_ready());
  node_process second{node_options{"dup", "127.0.0.7", {first.cluster_address()}}};
  auto code = second.wait_exit(std::chrono::seconds{15});
  INFO("second log:\n" << second.log());
  REQUIRE(code.has_value());
  CHECK(*code == 1);
  CHECK(second.log().find("already in use") != std::string::npos);
  CHECK(first.running());
}

TEST_CASE("a single node with every built role answers /livez and /readyz") {
  node_process n{node_options{"single", "127.0.0.8"}};
  REQUIRE(n.wait_ready());
  std::string body;
  CHECK(http_get("127.0.0.8", n.admin_port(), "/livez", &body) == 200);
  CHECK(http_get("127.0.0.8", n.admin_port(), "/readyz?verbose", &body) == 200);
  CHECK(body.find("[+]cluster") != std::string::npos);
  CHECK(body.find("[+]supervision") != std::string::npos);
  REQUIRE(http_get("127.0.0.8", n.admin_port(), "/metrics", &body) == 200);
  CHECK(body.find("troupe_actor_mailbox_messages{actor=\"probe/single\"} 0") != std::string::npos);
  CHECK(body.find("process_cpu_seconds_total") != std::string::npos);
  // promtool comes from deploy/install-deps.sh; without it this must fail,
  // not pass unchecked.
  REQUIRE_MESSAGE(std::system("command -v promtool >/dev/null 2>&1") == 0,
                  "promtool not found: run deploy/install-deps.sh");
  {
    char path[] = "/tmp/troupe-metrics-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    close(fd);
    auto check = run_command({"/bin/sh", "-c", std::string{"promtool check metrics < "} + path});
    unlink(path);
    INFO("promtool: " << check.out << check.err);
    CHECK(check.exit_code == 0);
    CHECK(check.out + check.err == ""); // no problems, not even lint hints
  }
  CHECK(n.stop(SIGINT) == 0);
}
