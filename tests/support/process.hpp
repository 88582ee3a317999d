// Starting and stopping real processes from tests.
//
// Every child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the test
// process even when a test aborts; node_process also kills its node and
// removes its temporary data dir in its destructor.
//
// TLS (docs/security.md): troupe-node refuses to start without TLS files or
// an explicit --insecure, and troupectl refuses to connect without them. So
// by default this harness runs everything over mutual TLS with development
// certificates that it makes once per test process (deploy/tls/make-certs.sh,
// in a temporary directory removed at exit):
//   - node_process passes --tls-ca/--tls-cert/--tls-key with a certificate
//     for its node id (CN=<node id>, OU=node), unless `insecure` is set (then
//     it passes --insecure) or `extra_args` already holds a --tls-* or
//     --insecure flag (then it adds nothing: the test chose).
//   - troupectl() passes the admin client certificate (CN=admin, OU=admin)
//     the same way, unless `args` hold a --tls-* or --insecure flag.
//   - an in-process CAF client (kv_client) must use the same transport:
//     configure_transport(cfg, test_client_transport()) from runtime/tls.hpp,
//     connect through connection_manager(sys), and then prove its identity
//     to each gateway before asking anything (runtime/auth_client.hpp:
//     auth::prove_blocking with auth::signer::load(test_client_tls())); a
//     TLS node answers every request of an unproven caller with
//     permission_denied (docs/security.md, "Permissions").
// A test that starts troupe-node or troupectl by hand (run_command) must
// pass these flags itself: test_node_tls(id), test_client_tls(name, role).
#pragma once

#include "runtime/tls.hpp"

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

/// Runs troupectl with `args`, adding the admin certificate (see the top).
command_result troupectl(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout
                         = std::chrono::seconds{30});

/// The development CA every harness certificate chains to.
const std::string& test_ca_file();

/// A node certificate for `node_id` (CN=node_id, OU=node), made on first use.
tls_files test_node_tls(const std::string& node_id);

/// A client certificate (CN=name, OU=role; role admin or viewer).
tls_files test_client_tls(const std::string& name = "admin",
                          const std::string& role = "admin");

/// A certificate for (CN=name, OU=role) signed by a second, rogue CA that
/// no harness node trusts, with `ca` = that rogue CA: a process using it
/// passes its own startup checks, as a node of another cluster would.
tls_files test_rogue_tls(const std::string& name, const std::string& role);

/// The transport of an in-process test client: TLS with the admin
/// certificate.
transport_security test_client_transport();

/// `--tls-ca X --tls-cert Y --tls-key Z` for `files`.
std::vector<std::string> tls_args(const tls_files& files);

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
  bool insecure = false; // pass --insecure instead of the node's certificate
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
  int pid() const { return pid_; }
  /// Sends `sig` (e.g. SIGSTOP) without waiting; false if not running.
  bool signal(int sig);
  const std::string& node_id() const { return opts_.node_id; }
  std::string cluster_address() const;
  const std::string& host() const { return opts_.host; }
  uint16_t cluster_port() const { return cluster_port_; }
  uint16_t admin_port() const { return admin_port_; }
  /// The edge role's HTTP port (--http-listen), passed to every node.
  uint16_t http_port() const { return http_port_; }
  /// The cache role's RESP port (--resp-listen), chosen free like the others.
  uint16_t resp_port() const { return resp_port_; }
  const std::string& data_dir() const { return data_dir_; }
  /// Everything the node wrote to stdout and stderr so far.
  std::string log() const;

private:
  void launch(int log_mode);

  node_options opts_;
  uint16_t cluster_port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t http_port_ = 0;
  uint16_t resp_port_ = 0;
  std::string work_dir_;
  std::string data_dir_;
  int pid_ = -1;
  std::optional<int> exit_code_;
};

} // namespace troupe::test
