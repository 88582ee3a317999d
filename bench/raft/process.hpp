// The cluster member processes (etcd, troupe-node) the benchmark starts: each
// one is a child that dies with the benchmark (PR_SET_PDEATHSIG), is killed
// by PID on SIGINT/SIGTERM/SIGHUP and on fatal(), and is stopped by PID at the
// end of every scenario. Nothing here ever kills by name.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace troupe::kvbench {

/// Most children alive at once (two clusters of three, with headroom).
constexpr size_t max_children = 16;

/// What to run: argv[0] is the program's path; stdout and stderr go to
/// `log_path` (appended, so a restarted member keeps one log).
struct child_spec {
  std::vector<std::string> argv;
  std::string log_path;
};

/// Starts `spec` and registers its PID for cleanup; fatal on failure. Call
/// from the main thread only: PR_SET_PDEATHSIG fires when the *thread* that
/// forked exits.
pid_t spawn_child(const child_spec& spec);

/// Sends `sig` to `pid` (a child from spawn_child) and reaps it, sending
/// SIGKILL after `grace`. Returns the wait status. Unregisters the PID.
int stop_child(pid_t pid, int sig, std::chrono::milliseconds grace);

/// Whether `pid` (a child) still runs; reaps and unregisters it if not.
bool child_running(pid_t pid);

/// Makes SIGINT, SIGTERM and SIGHUP kill every child before the benchmark.
void kill_children_on_stop_signals();

/// Prints `what`, SIGKILLs every child and exits with 2 at once (an actor
/// system may still run stuck actors; do not wait for them).
[[noreturn]] void fatal(const std::string& what);

/// Creates a fresh directory under `parent` (mkdtemp); fatal on failure.
std::string make_temp_dir(const std::string& parent, const std::string& prefix);

/// Removes `dir` and everything under it (only paths made by make_temp_dir).
void remove_tree(const std::string& dir);

/// The file system type of `path` as statfs reports it, e.g. "ext4",
/// "tmpfs"; tmpfs would make fsync free and the benchmark meaningless.
std::string filesystem_type(const std::string& path);

} // namespace troupe::kvbench
