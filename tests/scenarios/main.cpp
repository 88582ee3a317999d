// troupe-scenarios: runs failure-injection scenarios and prints a pass/fail
// table (docs/scenarios.md).
//
//   troupe-scenarios --list            names and summaries
//   troupe-scenarios                   every scenario (make scenarios)
//   troupe-scenarios --fast            the fast subset (also ctest entries)
//   troupe-scenarios NAME...           just these
//
// Each scenario runs as a child process under `unshare -n -m` (plus -r when
// not root, a user namespace): a private
// network namespace (its own loopback, addresses and iptables) and mount
// namespace (its own tmpfs mounts), gone when it exits. A scenario that
// outlives its time limit is killed and counts as failed.
#include "tests/scenarios/scenario.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace troupe::scenario;

namespace {

constexpr const char* inside_marker = "TROUPE_SCENARIO_NAMESPACE";
constexpr auto scenario_time_limit = std::chrono::seconds{300};

struct outcome_row {
  std::string name;
  std::string result;
  double seconds = 0;
};

const scenario_info* find(const std::string& name) {
  for (auto& s : registry())
    if (s.name == name)
      return &s;
  return nullptr;
}

// Inside the namespace: bring loopback up and run the body.
int run_inside(const std::string& name) {
  if (!std::getenv(inside_marker)) {
    std::fprintf(
        stderr,
        "troupe-scenarios: --run is internal; use `troupe-scenarios %s`, "
        "which makes the private namespace first\n",
        name.c_str());
    return 2;
  }
  auto* info = find(name);
  if (!info)
    return 2;
  auto up = troupe::test::run_command(
      {"/usr/sbin/ip", "link", "set", "lo", "up"}, std::chrono::seconds{10});
  if (up.exit_code != 0) {
    std::fprintf(stderr, "cannot bring up loopback in the namespace: %s\n",
                 up.err.c_str());
    return 1;
  }
  report s{name};
  s.step(info->summary);
  try {
    info->body(s);
  } catch (const scenario_failed& e) {
    s.step(std::string{"stopped: "} + e.what());
    return 1;
  } catch (const std::exception& e) {
    s.check("no exception", false, e.what());
    return 1;
  }
  s.step(s.passed() ? "passed"
                    : std::to_string(s.failures()) + " check(s) failed");
  return s.passed() ? 0 : 1;
}

// Runs one scenario in a fresh namespace; its output goes straight through.
outcome_row run_one(const std::string& self, const scenario_info& info) {
  auto start = std::chrono::steady_clock::now();
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setenv(inside_marker, "1", 1);
    // Not root: a user namespace too (-r), in which we are root for the
    // network and mount namespaces only.
    if (geteuid() == 0)
      execl("/usr/bin/unshare", "unshare", "-n", "-m", "--propagation",
            "private", self.c_str(), "--run", info.name.c_str(),
            static_cast<char*>(nullptr));
    else
      execl("/usr/bin/unshare", "unshare", "-r", "-n", "-m", "--propagation",
            "private", self.c_str(), "--run", info.name.c_str(),
            static_cast<char*>(nullptr));
    std::perror("exec unshare");
    _exit(127);
  }
  int status = 0;
  std::string result;
  while (result.empty()) {
    auto r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      result = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "pass" : "FAIL";
    else if (std::chrono::steady_clock::now() - start > scenario_time_limit) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result = "FAIL (time limit)";
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }
  auto secs
      = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  return {info.name, result, secs};
}

void print_table(const std::vector<outcome_row>& rows) {
  std::printf("\n%-28s %-18s %8s\n", "SCENARIO", "RESULT", "SECONDS");
  for (auto& r : rows)
    std::printf("%-28s %-18s %8.1f\n", r.name.c_str(), r.result.c_str(),
                r.seconds);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--run")
    return run_inside(args[1]);
  if (args.size() == 1 && args[0] == "--list") {
    for (auto& s : registry())
      std::printf("%-28s %s%s\n", s.name.c_str(), s.summary.c_str(),
                  s.fast ? " [fast]" : "");
    return 0;
  }
  bool only_fast = !args.empty() && args[0] == "--fast";
  std::vector<const scenario_info*> chosen;
  for (auto& s : registry())
    if (args.empty() || (only_fast && s.fast))
      chosen.push_back(&s);
  for (auto& a : args) {
    if (a == "--fast")
      continue;
    auto* s = find(a);
    if (!s) {
      std::fprintf(stderr, "troupe-scenarios: no scenario '%s' (see --list)\n",
                   a.c_str());
      return 2;
    }
    chosen.push_back(s);
  }
  std::string self = "/proc/self/exe";
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0)
    self.assign(buf, static_cast<std::size_t>(n));
  std::vector<outcome_row> rows;
  for (auto* s : chosen)
    rows.push_back(run_one(self, *s));
  print_table(rows);
  for (auto& r : rows)
    if (r.result != "pass")
      return 1;
  return 0;
}
