// troupe-node's configuration: command-line flags, TROUPE_* environment
// variables, a TOML config file and the defaults in runtime/defaults.hpp.
//
// Precedence, highest first: flag > environment > config file > default.
// docs/configuration.md lists every setting, its flag, variable, file key
// and default, and explains why we merge the layers ourselves.
#pragma once

#include "net/address.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// The edge role's settings (docs/edge.md). Validated always, used only when
/// the node runs the edge role.
struct edge_settings {
  host_port http_listen;           // the edge's HTTP/1.1 port
  std::vector<host_port> origins;  // from --origin http://HOST[:PORT]
  uint32_t threads = 0;            // I/O threads; 0 = one per core
  uint64_t cache_bytes = 0;        // L1 byte budget
  uint64_t max_object_bytes = 0;   // largest origin response body handled
  uint64_t max_body_bytes = 0;     // largest request body (413 beyond)
  uint32_t connect_timeout_ms = 0;
  uint32_t origin_timeout_ms = 0;  // a whole origin exchange
  uint32_t health_interval_ms = 0; // active health checks; 0 = off
  std::string health_path;
  uint32_t breaker_failures = 0;   // consecutive failures that open it
  uint32_t breaker_open_ms = 0;    // open this long, then half-open
  uint32_t rate_limit_rps = 0;     // per client address; 0 = off
  uint32_t rate_limit_burst = 0;
  uint32_t stale_grace_ms = 0;     // beyond stale-if-error, origins down
  std::string purge_token;         // empty: HTTP PURGE refused

  friend bool operator==(const edge_settings&, const edge_settings&) = default;
};

/// The effective configuration of one troupe-node process. Every field holds
/// a validated value; `origin` says which layer each one came from.
struct node_config {
  std::string node_id;            // [A-Za-z0-9][A-Za-z0-9._-]{0,62}
  std::vector<std::string> roles; // known role names, no duplicates; or {"all"}
  host_port listen;               // the cluster (BASP) port
  host_port advertise;            // what peers connect to; never a wildcard
  std::vector<host_port> seeds;   // empty: this node starts alone
  std::string data_dir;
  host_port admin_listen;
  std::string config_file;        // empty: no file was read
  std::string log_level;          // one of known_log_levels()
  std::string log_format;         // one of known_log_formats()
  uint32_t heartbeat_interval_ms = 0;
  uint32_t connection_timeout_ms = 0; // always > 2 * heartbeat_interval_ms
  uint64_t mailbox_capacity = 0;
  uint32_t max_restarts = 0;
  uint32_t restart_period_ms = 0;
  uint32_t raft_election_timeout_ms = 0;
  uint32_t raft_heartbeat_interval_ms = 0; // <= a third of the election timeout
  uint64_t raft_snapshot_entries = 0;
  // Transport security (docs/security.md). The loader only parses these;
  // the node checks at startup that it has all three files or `insecure`.
  std::string tls_ca;   // PEM CA certificate(s) that sign cluster certificates
  std::string tls_cert; // this node's PEM certificate (chain)
  std::string tls_key;  // its unencrypted PEM private key
  bool insecure = false; // plain TCP, no authentication (development only)
  edge_settings edge;
  uint32_t member_heartbeat_interval_ms = 0;
  uint32_t member_down_after_ms = 0;  // >= 4x the member heartbeat interval
  // -- cache role (docs/cache.md) --
  host_port resp_listen;                 // RESP port; default host of listen, 6379
  uint64_t cache_max_memory_bytes = 0;   // evict past this; 0: no limit
  uint64_t proto_max_bulk_len = 0;       // largest bulk string a client may send
  uint64_t cache_output_buffer_limit_bytes = 0; // cut off a client past this
  uint64_t cache_max_clients = 0;
  uint32_t cache_io_threads = 0;         // 0: one per core
  bool cache_proxy = true;               // forward other shards' keys (else -MOVED)
  uint64_t cache_repl_backlog_bytes = 0; // per primary shard
  std::string bind_source;          // local IP for outgoing cluster connections; "" = any
  bool enable_fault_injection = false; // accept `troupectl fault ...` (docs/faults.md)
  /// Free-form labels of this node, e.g. region and zone; peers see them in
  /// its MemberInfo and the dashboard groups nodes by region and zone.
  std::map<std::string, std::string> labels;
  /// dashboard: the token that unlocks actions (kill an actor); empty =
  /// read-only, no actions offered.
  std::string dashboard_token;
  /// dashboard: origins ("http://host:port", or "*") whose pages may open
  /// the WebSocket besides the dashboard's own origin.
  std::vector<std::string> dashboard_allow_origins;
  /// Setting key (file key spelling, e.g. "admin-listen", plus "config")
  /// -> "default", "file", "env" or "flag".
  std::map<std::string, std::string> origin;
};

/// Compares the settings only, ignoring `origin` and `config_file`: two
/// configs are equal when a node would behave the same.
bool same_settings(const node_config& x, const node_config& y);

/// What troupe-node's main should do after reading its configuration.
struct config_outcome {
  /// Set when the node should start. Empty on errors, --help, --version
  /// and --dump-config.
  std::optional<node_config> config;
  /// Process exit code when `config` is empty: 0 after --help, --version or
  /// --dump-config; 2 for any configuration error (bad flag or value, unknown
  /// role or key, unreadable config file).
  int exit_code = 0;
  /// Text for stdout (help, version or dumped config), possibly empty.
  std::string output;
  /// One line for stderr describing the error, empty on success.
  std::string error;
};

/// Loads the configuration from the command line `argc`/`argv` (argv[0] is
/// the program name) and the environment `env` (only TROUPE_* names are
/// read; an empty value counts as unset). Reads the file named by --config
/// or TROUPE_CONFIG, if any; there is no implicit default file. Never prints
/// and never exits. Typical use in main:
///   auto out = load_node_config(argc, argv, troupe_environment());
///   fputs(out.output.c_str(), stdout);
///   if (!out.error.empty()) fprintf(stderr, "troupe-node: %s\n", ...);
///   if (!out.config) return out.exit_code;
config_outcome load_node_config(int argc, const char* const* argv,
                                const std::map<std::string, std::string>& env);

/// Same, with the arguments after the program name as strings.
config_outcome load_node_config(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env);

/// Returns the TROUPE_* variables of this process's environment.
std::map<std::string, std::string> troupe_environment();

/// Renders `cfg` as a TOML config file, every line commented with the
/// origin of its value. Loading the result with --config gives a config for
/// which same_settings() holds.
std::string dump_config(const node_config& cfg);

/// The concrete role names: edge, cache, consensus, analytics, scheduler,
/// dashboard. "all" is accepted by --role as well and means all of these.
std::vector<std::string> known_roles();

/// Whether `cfg` asks this node to run `role` (directly or through "all").
bool has_role(const node_config& cfg, std::string_view role);

/// Resolves a secondary listen address such as --admin-listen, --resp-listen
/// or --http-listen: with no value, `cluster_listen`'s host and
/// `default_port`; `HOST` alone gets `default_port`; `HOST:PORT` is taken
/// as is. Errors: errc::invalid_argument, as parse_host_port.
caf::expected<host_port>
resolve_listen_address(const std::optional<std::string>& value,
                       const host_port& cluster_listen, uint16_t default_port);

} // namespace troupe
