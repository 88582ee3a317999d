// Starting and stopping real processes from tests.
//
// Every child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test
// process even when a test aborts; node_process also kills its node and
// removes its temporary data dir in its destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace troupe::test {

struct command_result {
  int exit_code = -1;   // -1 if killed on timeout
  std::string out;
  std::string err;
};

/// Runs `argv` to completion (killed after `timeout`), capturing output.
/// `env` entries are added to (or override) the test's environment.
command_result run_command(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout
                           = std::chrono::seconds{30},
                           const std::map<std::string, std::string>& env = {});

/// Runs troupectl with `args`.
command_result troupectl(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout
                         = std::chrono::seconds{30});

/// A TCP port that was free on `host` a moment ago.
uint16_t free_port(const std::string& host);

/// GET http://host:port/path; returns the status code (0 if unreachable)
/// and fills `body`.
int http_get(const std::string& host, uint16_t port, const std::string& path,
             std::string* body = nullptr);

/// Polls `pred` every 50 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds{15});

struct node_options {
  node_options(std::string id, std::string on_host,
               std::vector<std::string> seed_list = {},
               std::vector<std::string> extra = {})
    : node_id(std::move(id)), host(std::move(on_host)),
      seeds(std::move(seed_list)), extra_args(std::move(extra)) {
  }

  std::string node_id;
  std::string host = "127.0.0.1";
  std::vector<std::string> seeds;       // HOST:PORT
  std::vector<std::string> extra_args;  // appended as given
  std::map<std::string, std::string> env;
  std::string role = "all";
  std::string data_dir; // empty: a fresh temporary directory
};

/// One troupe-node process on `host` with free ports and a temporary data
/// dir.
class node_process {
public:
  explicit node_process(node_options opts);
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Waits until /readyz answers 200. False on timeout or early exit.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds{20});

  /// Sends `sig` and waits for the exit; returns the exit code, or nullopt
  /// if the process did not exit within `timeout` (it is then SIGKILLed).
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout
                                   = std::chrono::seconds{10});

  /// Starts the node again with the same ports and data dir (after a crash
  /// or stop; a running node is SIGKILLed first). The log is appended to.
  void restart();

  /// Waits for the process to exit by itself.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  bool running();
  /// Sends `sig` (e.g. SIGSTOP) without waiting; false if not running.
  bool signal(int sig);
  const std::string& node_id() const { return opts_.node_id; }
  std::string cluster_address() const;
  const std::string& host() const { return opts_.host; }
  uint16_t cluster_port() const { return cluster_port_; }
  uint16_t admin_port() const { return admin_port_; }
  const std::string& data_dir() const { return data_dir_; }
  /// Everything the node wrote to stdout and stderr so far.
  std::string log() const;

private:
  void launch(int log_mode);

  node_options opts_;
  uint16_t cluster_port_ = 0;
  uint16_t admin_port_ = 0;
  std::string work_dir_;
  std::string data_dir_;
  int pid_ = -1;
  std::optional<int> exit_code_;
};

} // namespace troupe::test
