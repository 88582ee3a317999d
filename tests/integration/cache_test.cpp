// The cache role with a real troupe-node and stock Redis clients from
// Debian: redis-cli, redis-benchmark (its default suite, no -t) and redis-py
// (/usr/bin/python3), plus raw sockets for malformed input, an oversized
// bulk, a client that never reads, and the client limit.
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

using namespace troupe::test;
using namespace std::chrono_literals;

namespace {

node_process start_cache(const std::string& host, std::vector<std::string> extra = {}) {
  node_options opts{"c1", host, {}, std::move(extra)};
  opts.role = "cache";
  return node_process{opts};
}

command_result cli(const node_process& n, std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/redis-cli", "-h", n.host(), "-p", std::to_string(n.resp_port())};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 20s);
}

int connect_to(const std::string& host, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += static_cast<size_t>(n);
  }
}

// Reads until the peer closes or `timeout` passes; `closed` says which.
std::string read_until_close(int fd, std::chrono::milliseconds timeout, bool& closed) {
  std::string out;
  closed = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

} // namespace

TEST_CASE("cache: redis-cli basics against one node") {
  auto n = start_cache("127.0.0.21");
  REQUIRE(n.wait_ready());
  CHECK(cli(n, {"PING"}).out == "PONG\n");
  CHECK(cli(n, {"SET", "greeting", "hello world"}).out == "OK\n");
  CHECK(cli(n, {"GET", "greeting"}).out == "hello world\n");
  CHECK(cli(n, {"INCRBY", "counter", "5"}).out == "5\n");
  CHECK(cli(n, {"EXPIRE", "greeting", "100"}).out == "1\n");
  CHECK(cli(n, {"TTL", "greeting"}).out == "100\n");
  CHECK(cli(n, {"DBSIZE"}).out == "2\n");
  // redis-cli prints an error reply and an empty line when not on a tty.
  CHECK(cli(n, {"NOSUCH", "x"}).out
        == "ERR unknown command 'NOSUCH', with args beginning with: 'x' \n\n");
  CHECK(cli(n, {"GET"}).out == "ERR wrong number of arguments for 'get' command\n\n");
  CHECK(cli(n, {"LPUSH", "greeting", "x"}).out
        == "WRONGTYPE Operation against a key holding the wrong kind of value\n\n");
  auto info = cli(n, {"INFO", "stats"}).out;
  CHECK(info.find("keyspace_hits:1") != std::string::npos);
  CHECK(cli(n, {"CLUSTER", "KEYSLOT", "foo"}).out == "12182\n");
  // RESP3 after HELLO 3, as redis-cli -3 asks for it.
  auto r3 = cli(n, {"-3", "HGETALL", "nope"});
  CHECK(r3.exit_code == 0);
  // troupectl cache speaks RESP to the same port.
  auto resp_addr = n.host() + ":" + std::to_string(n.resp_port());
  auto got = troupectl({"cache", "--resp", resp_addr, "get", "counter"});
  CHECK(got.exit_code == 0);
  CHECK(got.out == "5\n");
  auto missing = troupectl({"-o", "json", "cache", "--resp", resp_addr, "get", "nope"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out == "{\"found\":false,\"key\":\"nope\",\"value\":\"\"}\n");
  std::string metrics;
  REQUIRE(http_get(n.host(), n.admin_port(), "/metrics", &metrics) == 200);
  CHECK(metrics.find("troupe_cache_hits_total 2") != std::string::npos); // GET greeting, counter
  CHECK(metrics.find("troupe_cache_keys 2") != std::string::npos);
}

TEST_CASE("cache: redis-benchmark's default suite (no -t) completes") {
  auto n = start_cache("127.0.0.22");
  REQUIRE(n.wait_ready());
  auto r = run_command({"/usr/bin/redis-benchmark", "-h", n.host(), "-p", std::to_string(n.resp_port()),
                        "-n", "300", "-c", "4", "-q"},
                       90s);
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  for (auto* test : {"PING_INLINE", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
                     "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LRANGE_600", "MSET"})
    CHECK(r.out.find(test) != std::string::npos);
  CHECK(r.out.find("ERR") == std::string::npos);
}

TEST_CASE("cache: redis-py works unchanged") {
  auto n = start_cache("127.0.0.23");
  REQUIRE(n.wait_ready());
  std::string script = R"(
import redis, sys
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]))
assert r.ping()
assert r.set('k', 'v', ex=100)
assert r.get('k') == b'v'
assert 99 <= r.ttl('k') <= 100
assert r.incr('n') == 1 and r.incrbyfloat('f', 1.5) == 1.5
r.hset('h', mapping={'a': '1', 'b': '2'})
assert r.hgetall('h') == {b'a': b'1', b'b': b'2'}
r.rpush('l', 'x', 'y', 'z')
assert r.lrange('l', 0, -1) == [b'x', b'y', b'z']
assert r.sadd('s', 'a', 'b') == 2
r.zadd('z', {'m': 2.5})
assert r.zscore('z', 'm') == 2.5
p = r.pipeline(transaction=False)
for i in range(100):
    p.set('p%d' % i, i)
p.execute()
assert len(list(r.scan_iter(match='p*', count=10))) == 100
assert r.mget('p1', 'nope') == [b'1', None]
try:
    r.lpush('k', 'x')
    sys.exit('no WRONGTYPE')
except redis.ResponseError as e:
    assert str(e).startswith('WRONGTYPE'), e
assert r.delete('k', 'n') == 2
print('redis-py ok')
)";
  auto r = run_command({"/usr/bin/python3", "-c", script, n.host(), std::to_string(n.resp_port())},
                       60s);
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "redis-py ok\n");
}

TEST_CASE("cache: malformed RESP and an oversized bulk get Redis's error, then close") {
  auto n = start_cache("127.0.0.24", {"--proto-max-bulk-len", "1mb"});
  REQUIRE(n.wait_ready());
  struct bad {
    std::string input, reply;
  };
  for (auto& b : {bad{"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
                  bad{"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
                  bad{"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
                  bad{"SET k \"x\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
                  bad{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
                      "-ERR Protocol error: invalid bulk length\r\n"}}) {
    int fd = connect_to(n.host(), n.resp_port());
    REQUIRE(fd >= 0);
    send_all(fd, "PING\r\n" + b.input);
    bool closed = false;
    auto got = read_until_close(fd, 5s, closed);
    close(fd);
    CHECK(got == "+PONG\r\n" + b.reply);
    CHECK(closed);
  }
  // A bulk at the limit is accepted.
  int fd = connect_to(n.host(), n.resp_port());
  send_all(fd, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n" + std::string(1 << 20, 'x')
                 + "\r\n*2\r\n$6\r\nSTRLEN\r\n$1\r\nk\r\nQUIT\r\n");
  bool closed = false;
  CHECK(read_until_close(fd, 10s, closed) == "+OK\r\n:1048576\r\n+OK\r\n");
  close(fd);
  CHECK(cli(n, {"PING"}).out == "PONG\n"); // the node is fine
}

TEST_CASE("cache: a client that sends without reading is cut off at the output limit") {
  auto n = start_cache("127.0.0.25", {"--cache-output-buffer-limit", "1mb"});
  REQUIRE(n.wait_ready());
  REQUIRE(cli(n, {"SET", "big", std::string(100000, 'v')}).out == "OK\n");
  int fd = connect_to(n.host(), n.resp_port());
  REQUIRE(fd >= 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  std::string gets;
  for (int i = 0; i < 2000; ++i)
    gets += "GET big\r\n";
  send_all(fd, gets); // 200 MB of replies, never read
  std::this_thread::sleep_for(1s);
  bool closed = false;
  auto got = read_until_close(fd, 10s, closed);
  close(fd);
  CHECK(closed);
  CHECK(got.size() < size_t{200} << 20);
  auto info = cli(n, {"INFO", "stats"}).out;
  CHECK(info.find("client_output_buffer_limit_disconnections:1") != std::string::npos);
  CHECK(cli(n, {"PING"}).out == "PONG\n");
}

TEST_CASE("cache: connections past --cache-max-clients are refused with Redis's error") {
  auto n = start_cache("127.0.0.26", {"--cache-max-clients", "2"});
  REQUIRE(n.wait_ready());
  int a = connect_to(n.host(), n.resp_port());
  int b = connect_to(n.host(), n.resp_port());
  send_all(a, "PING\r\n");
  send_all(b, "PING\r\n");
  bool closed = false;
  read_until_close(a, 300ms, closed);
  read_until_close(b, 300ms, closed);
  int c = connect_to(n.host(), n.resp_port());
  auto got = read_until_close(c, 5s, closed);
  CHECK(got == "-ERR max number of clients reached\r\n");
  CHECK(closed);
  close(a);
  close(b);
  close(c);
}
