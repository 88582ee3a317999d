#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace troupe::test {

namespace {

using clock = std::chrono::steady_clock;

std::vector<std::string> merged_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv{*e};
    auto eq = kv.find('=');
    if (eq != std::string::npos)
      all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : extra)
    all[k] = v;
  std::vector<std::string> out;
  for (auto& [k, v] : all)
    out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& xs) {
  std::vector<char*> out;
  for (auto& x : xs)
    out.push_back(x.data());
  out.push_back(nullptr);
  return out;
}

// Forks and execs; the child's stdout/stderr go to `out_fd`/`err_fd`.
int spawn(std::vector<std::string> argv,
          const std::map<std::string, std::string>& env, int out_fd,
          int err_fd) {
  auto envs = merged_env(env);
  auto c_argv = c_strings(argv);
  auto c_env = c_strings(envs);
  auto parent = getpid();
  int pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, 0);
  execve(c_argv[0], c_argv.data(), c_env.data());
  _exit(127);
}

std::optional<int> wait_pid(int pid, std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    int status = 0;
    int rc = waitpid(pid, &status, WNOHANG);
    if (rc == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (rc < 0)
      return -1;
    if (clock::now() > deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The harness's certificates: one directory per test process, made by
// deploy/tls/make-certs.sh on first use (EC keys: a few ms each).
class test_pki {
public:
  static test_pki& get() {
    static test_pki pki;
    return pki;
  }

  tls_files issue(const std::string& name, const std::string& role, bool rogue) {
    std::lock_guard guard{mtx_};
    auto& dir = rogue ? rogue_dir_ : dir_;
    if (made_.insert((rogue ? "rogue/" : "") + name).second) {
      std::vector<std::string> argv{script(), "-d", dir};
      if (role == "node")
        argv.insert(argv.end(), {"node", name});
      else
        argv.insert(argv.end(), {"client", name, role});
      make(argv);
    }
    return {dir + "/ca.pem", dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  }

  const std::string& ca() const { return ca_; }

  ~test_pki() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

private:
  test_pki() {
    char tmpl[] = "/tmp/troupe-pki-XXXXXX";
    root_ = mkdtemp(tmpl);
    dir_ = root_ + "/ca";
    rogue_dir_ = root_ + "/rogue";
    make({script(), "-d", dir_, "ca"});
    make({script(), "-d", rogue_dir_, "ca"});
    ca_ = dir_ + "/ca.pem";
  }

  static std::string script() {
    return std::string{TROUPE_SOURCE_DIR} + "/deploy/tls/make-certs.sh";
  }

  static void make(const std::vector<std::string>& argv) {
    auto res = run_command(argv, std::chrono::seconds{30});
    if (res.exit_code != 0)
      throw std::runtime_error("make-certs.sh failed (" + std::to_string(res.exit_code)
                               + "): " + res.err);
  }

  std::mutex mtx_;
  std::set<std::string> made_;
  std::string root_;
  std::string dir_;
  std::string rogue_dir_;
  std::string ca_;
};

bool chooses_transport(const std::vector<std::string>& args) {
  for (auto& a : args)
    if (a.rfind("--tls-", 0) == 0 || a == "--insecure")
      return true;
  return false;
}

} // namespace

const std::string& test_ca_file() {
  return test_pki::get().ca();
}

tls_files test_node_tls(const std::string& node_id) {
  return test_pki::get().issue(node_id, "node", false);
}

tls_files test_client_tls(const std::string& name, const std::string& role) {
  return test_pki::get().issue(name, role, false);
}

tls_files test_rogue_tls(const std::string& name, const std::string& role) {
  return test_pki::get().issue(name, role, true);
}

transport_security test_client_transport() {
  return {false, test_client_tls()};
}

std::vector<std::string> tls_args(const tls_files& files) {
  return {"--tls-ca", files.ca, "--tls-cert", files.cert, "--tls-key", files.key};
}

command_result run_command(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout,
                           const std::map<std::string, std::string>& env) {
  char out_path[] = "/tmp/troupe-cmd-out-XXXXXX";
  char err_path[] = "/tmp/troupe-cmd-err-XXXXXX";
  int out_fd = mkstemp(out_path);
  int err_fd = mkstemp(err_path);
  int pid = spawn(argv, env, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  command_result res;
  auto code = wait_pid(pid, timeout);
  if (!code) {
    kill(pid, SIGKILL);
    wait_pid(pid, std::chrono::seconds{5});
  }
  res.exit_code = code.value_or(-1);
  res.out = read_file(out_path);
  res.err = read_file(err_path);
  unlink(out_path);
  unlink(err_path);
  return res;
}

command_result troupectl(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{TROUPECTL_BINARY};
  if (!chooses_transport(args))
    for (auto& a : tls_args(test_client_tls()))
      argv.push_back(a);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout);
}

namespace {

// Binds port 0 on `host`; the socket stays open (closed by the caller), so
// that ports picked while it is open differ from its port.
int bind_any_port(const std::string& host, uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind " + host + ": " + strerror(errno));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// `n` distinct free ports: picked one by one with a free port closed at
// once, the kernel may hand out the same one twice (a node's admin and edge
// ports once collided that way).
std::vector<uint16_t> free_ports(const std::string& host, size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports(n);
  try {
    for (auto& p : ports)
      fds.push_back(bind_any_port(host, p));
  } catch (...) {
    for (int fd : fds)
      close(fd);
    throw;
  }
  for (int fd : fds)
    close(fd);
  return ports;
}

} // namespace

uint16_t free_port(const std::string& host) {
  uint16_t port = 0;
  close(bind_any_port(host, port));
  return port;
}

int http_get(const std::string& host, uint16_t port, const std::string& path,
             std::string* body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return 0;
  }
  auto req = "GET " + path + " HTTP/1.1\r\nHost: " + host
             + "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return 0;
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    auto n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (resp.size() < 12 || resp.compare(0, 5, "HTTP/") != 0)
    return 0;
  if (body != nullptr) {
    auto sep = resp.find("\r\n\r\n");
    *body = sep == std::string::npos ? "" : resp.substr(sep + 4);
  }
  return std::atoi(resp.c_str() + 9);
}

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return pred();
}

node_process::node_process(node_options opts) : opts_(std::move(opts)) {
  char tmpl[] = "/tmp/troupe-test-XXXXXX";
  work_dir_ = mkdtemp(tmpl);
  data_dir_ = opts_.data_dir.empty() ? work_dir_ + "/data" : opts_.data_dir;
  auto ports = free_ports(opts_.host, 4);
  cluster_port_ = ports[0];
  admin_port_ = ports[1];
  http_port_ = ports[2];
  resp_port_ = ports[3];
  launch(O_TRUNC);
}

void node_process::launch(int log_mode) {
  std::vector<std::string> argv{TROUPE_NODE_BINARY,
                                "--node-id", opts_.node_id,
                                "--role", opts_.role,
                                "--listen", cluster_address(),
                                "--admin-listen",
                                opts_.host + ":" + std::to_string(admin_port_),
                                "--data-dir", data_dir_,
                                // Every node gets its own edge and RESP
                                // ports, so that nodes running "all" never
                                // collide on 8080 or 6379.
                                "--http-listen",
                                opts_.host + ":" + std::to_string(http_port_),
                                "--resp-listen",
                                opts_.host + ":" + std::to_string(resp_port_)};
  std::string seeds;
  for (auto& s : opts_.seeds)
    seeds += (seeds.empty() ? "" : ",") + s;
  if (!seeds.empty()) {
    argv.push_back("--seeds");
    argv.push_back(seeds);
  }
  if (opts_.insecure)
    argv.push_back("--insecure");
  else if (!chooses_transport(opts_.extra_args))
    for (auto& a : tls_args(test_node_tls(opts_.node_id)))
      argv.push_back(a);
  argv.insert(argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  auto log_path = work_dir_ + "/node.log";
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | log_mode, 0644);
  pid_ = spawn(argv, opts_.env, fd, fd);
  close(fd);
  exit_code_.reset();
}

void node_process::restart() {
  if (running())
    stop(SIGKILL);
  launch(O_APPEND);
}

node_process::~node_process() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    wait_pid(pid_, std::chrono::seconds{5});
  }
  std::error_code ec;
  std::filesystem::remove_all(work_dir_, ec);
}

std::string node_process::cluster_address() const {
  return opts_.host + ":" + std::to_string(cluster_port_);
}

bool node_process::running() {
  if (exit_code_)
    return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                   : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

bool node_process::signal(int sig) {
  return running() && kill(pid_, sig) == 0;
}

bool node_process::wait_ready(std::chrono::milliseconds timeout) {
  return eventually(
    [&] {
      return running() && http_get(opts_.host, admin_port_, "/readyz") == 200;
    },
    timeout);
}

std::optional<int> node_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_)
    return exit_code_;
  exit_code_ = wait_pid(pid_, timeout);
  return exit_code_;
}

std::optional<int> node_process::stop(int sig, std::chrono::milliseconds timeout) {
  if (!running())
    return exit_code_;
  kill(pid_, sig);
  auto code = wait_exit(timeout);
  if (!code) {
    kill(pid_, SIGKILL);
    exit_code_ = wait_pid(pid_, std::chrono::seconds{5});
    return std::nullopt;
  }
  return code;
}

std::string node_process::log() const {
  return read_file(work_dir_ + "/node.log");
}

} // namespace troupe::test
