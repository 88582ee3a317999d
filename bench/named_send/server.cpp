// The server child process: spawning it, its readiness pipe, and killing it
// whatever happens to the client.
#include "server.hpp"

#include "actors.hpp"
#include "report.hpp"

#include "runtime/caf_setup.hpp"
#include "runtime/defaults.hpp"
#include "runtime/gateway.hpp"
#include "runtime/node_context.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace troupe::bench {

namespace {

using namespace std::chrono_literals;

std::atomic<pid_t> server_pid{0};

void kill_server_now() {
  auto pid = server_pid.exchange(0);
  if (pid > 0)
    ::kill(pid, SIGKILL);
}

extern "C" void on_stop_signal(int sig) {
  kill_server_now(); // async-signal-safe: an atomic exchange and kill(2)
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// The server's actors: a gateway whose table holds a named echo, and a bare
// echo with the same protobuf work.
struct server_actors {
  node_context_ptr ctx;
  caf::actor echo;
  caf::actor bare;

  void stop() const {
    for (auto& a : {echo, bare, ctx->gateway})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

server_actors spawn_server_actors(caf::actor_system& sys) {
  server_actors result;
  result.ctx = std::make_shared<node_context>();
  result.ctx->self.node_id = "bench-server";
  add_bystanders(*result.ctx, 32);
  auto gate = std::make_shared<mailbox_gate>(defaults::mailbox_capacity);
  result.echo = sys.spawn(troupe_echo, gate);
  host_named(*result.ctx, "echo", result.echo, gate);
  result.ctx->gateway = spawn_gateway(sys, result.ctx);
  result.bare = sys.spawn(bare_echo);
  return result;
}

[[noreturn]] void exec_server(pid_t parent, int in, int out, char** argv) {
  // Only async-signal-safe calls between fork and exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(1); // the client died before prctl
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::execv("/proc/self/exe", argv);
  ::_exit(127);
}

// Reads the server's "ready GATEWAY_PORT BARE_PORT" line.
std::optional<std::pair<uint16_t, uint16_t>> read_ready(int fd) {
  std::string line;
  auto deadline = bench_clock::now() + 30s;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - bench_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return std::nullopt;
    char buf[64];
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      return std::nullopt;
    line.append(buf, static_cast<size_t>(n));
  }
  unsigned gateway = 0;
  unsigned bare = 0;
  if (std::sscanf(line.c_str(), "ready %u %u", &gateway, &bare) != 2)
    return std::nullopt;
  return std::pair{static_cast<uint16_t>(gateway), static_cast<uint16_t>(bare)};
}

} // namespace

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "named_send_bench: %s\n", what.c_str());
  kill_server_now();
  // The actor system may still run stuck actors; do not wait for them.
  std::_Exit(2);
}

void kill_server_on_stop_signals() {
  for (auto sig : {SIGINT, SIGTERM, SIGHUP})
    ::signal(sig, on_stop_signal);
}

// Serves until its stdin closes (the client is done) or the client dies
// (PR_SET_PDEATHSIG, set before exec).
int run_server(const options& opts) {
  ::signal(SIGPIPE, SIG_IGN);
  caf::actor_system_config cfg;
  configure_caf(cfg, defaults::heartbeat_interval,
                defaults::connection_timeout);
  caf::actor_system sys{cfg};
  auto actors = spawn_server_actors(sys);
  auto& mm = sys.middleman();
  auto gateway_port
      = mm.publish(actors.ctx->gateway, opts.port, "127.0.0.1", true);
  auto bare_port = mm.publish(actors.bare, opts.port == 0 ? 0 : opts.port + 1,
                              "127.0.0.1", true);
  if (!gateway_port || !bare_port) {
    std::fprintf(
        stderr, "named_send_bench server: cannot publish: %s\n",
        sys.render(gateway_port ? bare_port.error() : gateway_port.error())
            .c_str());
    actors.stop(); // the actor system waits for every actor before exiting
    return 1;
  }
  std::printf("ready %u %u\n", unsigned{*gateway_port}, unsigned{*bare_port});
  std::fflush(stdout);
  ::dup2(STDERR_FILENO, STDOUT_FILENO); // the client stops reading the pipe
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  actors.stop();
  return 0;
}

server_handle start_server(const options& opts) {
  // Everything exec needs is allocated before fork: the child may not malloc.
  std::vector<std::string> args{"named_send_bench", "--role", "server",
                                "--port", std::to_string(opts.port)};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    fatal("pipe2 failed");
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0)
    fatal("fork failed");
  if (pid == 0)
    exec_server(parent, in[0], out[1], argv.data());
  server_pid = pid;
  ::close(in[0]);
  ::close(out[1]);
  auto ports = read_ready(out[0]);
  ::close(out[0]);
  if (!ports)
    fatal("the server exited or did not report its ports within 30 s "
          "(see its error above)");
  return {pid, in[1], ports->first, ports->second};
}

void stop_server(server_handle& server) {
  ::close(server.to_child);
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(server.pid, nullptr, WNOHANG) == server.pid) {
      server_pid = 0;
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  kill_server_now();
  ::waitpid(server.pid, nullptr, 0);
}

} // namespace troupe::bench
