#include "process.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

// Slots hold live child PIDs (0 = free). Atomics, so the signal handler can
// read them without a lock.
std::atomic<pid_t> children[max_children];

void register_child(pid_t pid) {
  for (auto& slot : children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid))
      return;
  }
  ::kill(pid, SIGKILL);
  fatal("more than " + std::to_string(max_children) + " children");
}

void unregister_child(pid_t pid) {
  for (auto& slot : children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

void kill_all_children() {
  for (auto& slot : children) {
    auto pid = slot.exchange(0);
    if (pid > 0)
      ::kill(pid, SIGKILL); // async-signal-safe
  }
}

extern "C" void on_stop_signal(int sig) {
  kill_all_children();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

[[noreturn]] void exec_child(pid_t parent, int log_fd, int null_fd,
                             char** argv) {
  // Only async-signal-safe calls between fork and exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(1); // the benchmark died before prctl
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  ::execv(argv[0], argv);
  ::_exit(127);
}

std::mutex temp_dirs_mtx;
std::set<std::string> temp_dirs; // what remove_tree may delete

} // namespace

pid_t spawn_child(const child_spec& spec) {
  if (spec.argv.empty())
    fatal("spawn_child: empty argv");
  // Everything exec needs is allocated before fork: the child may not malloc.
  std::vector<char*> argv;
  for (auto& arg : spec.argv)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  auto log_fd = ::open(spec.log_path.c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0)
    fatal("cannot open " + spec.log_path + ": " + std::strerror(errno));
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0)
    fatal(std::string{"fork failed: "} + std::strerror(errno));
  if (pid == 0)
    exec_child(parent, log_fd, null_fd, argv.data());
  ::close(log_fd);
  ::close(null_fd);
  register_child(pid);
  return pid;
}

int stop_child(pid_t pid, int sig, std::chrono::milliseconds grace) {
  ::kill(pid, sig);
  auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  for (;;) {
    auto rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid || (rc < 0 && errno == ECHILD))
      break;
    if (std::chrono::steady_clock::now() >= deadline && sig != SIGKILL) {
      ::kill(pid, SIGKILL);
      sig = SIGKILL;
      deadline = std::chrono::steady_clock::now() + 10s;
    } else if (std::chrono::steady_clock::now() >= deadline) {
      fatal("child " + std::to_string(pid) + " survives SIGKILL");
    }
    std::this_thread::sleep_for(1ms);
  }
  unregister_child(pid);
  return status;
}

bool child_running(pid_t pid) {
  int status = 0;
  auto rc = ::waitpid(pid, &status, WNOHANG);
  if (rc == 0)
    return true;
  unregister_child(pid);
  return false;
}

void kill_children_on_stop_signals() {
  for (auto sig : {SIGINT, SIGTERM, SIGHUP})
    ::signal(sig, on_stop_signal);
}

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "troupe_kv_bench: %s\n", what.c_str());
  std::fflush(stdout);
  kill_all_children();
  std::_Exit(2);
}

std::string make_temp_dir(const std::string& parent,
                          const std::string& prefix) {
  std::string path = parent + "/" + prefix + "XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    fatal("mkdtemp " + path + ": " + std::strerror(errno));
  std::string result{buf.data()};
  std::lock_guard<std::mutex> guard{temp_dirs_mtx};
  temp_dirs.insert(result);
  return result;
}

void remove_tree(const std::string& dir) {
  {
    std::lock_guard<std::mutex> guard{temp_dirs_mtx};
    if (temp_dirs.erase(dir) == 0)
      fatal("remove_tree: " + dir + " was not made by make_temp_dir");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec)
    std::fprintf(stderr, "troupe_kv_bench: cannot remove %s: %s\n", dir.c_str(),
                 ec.message().c_str());
}

std::string filesystem_type(const std::string& path) {
  struct statfs info {};
  if (::statfs(path.c_str(), &info) != 0)
    return "unknown";
  switch (static_cast<unsigned long>(info.f_type)) {
  case 0xEF53:
    return "ext4";
  case 0x01021994:
    return "tmpfs";
  case 0x58465342:
    return "xfs";
  case 0x9123683E:
    return "btrfs";
  case 0x794C7630:
    return "overlayfs";
  default: {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%lx",
                  static_cast<unsigned long>(info.f_type));
    return buf;
  }
  }
}

} // namespace troupe::kvbench
