// Why we merge the layers ourselves: CLI11's env and config support gives
// flag > config file > environment, but operators (and container platforms)
// expect an environment variable to override a file baked into an image.
// So CLI11 only parses flags (for its --help and its error messages), and
// the four layers are merged here, recording where every value came from.
#include "runtime/config.hpp"

#include "net/errors.hpp"
#include "runtime/config_file.hpp"
#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>

extern char** environ;

namespace troupe {

namespace {

// -- the settings table ----------------------------------------------------

enum class value_kind { text, integer, list, boolean };

// One setting that all three layers can set. --config and --dump-config are
// handled apart: a config file naming another file would be a loop, and
// dumping is an action, not a setting.
struct setting {
  std::string key;        // file key; also the flag without "--"
  value_kind kind;
  std::string value_name; // for --help
  std::string help;       // for --help, with the default
  std::function<std::string(const node_config&)> render; // as TOML
};

std::string quote_list(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (const auto& x : xs)
    out += (out.size() > 1 ? ", " : "") + toml_quote(x);
  return out + "]";
}

std::string quote_addresses(const std::vector<host_port>& xs) {
  std::vector<std::string> texts;
  for (const auto& x : xs)
    texts.push_back(x.to_string());
  return quote_list(texts);
}

std::vector<std::string> label_texts(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> out;
  for (const auto& [k, v] : labels)
    out.push_back(k + "=" + v);
  return out;
}

std::string ms(std::chrono::milliseconds x) {
  return std::to_string(x.count());
}

const std::vector<setting>& settings() {
  using namespace defaults;
  using k = value_kind;
  using nc = const node_config&;
  static const std::vector<setting> table{
    {"node-id", k::text, "ID",
     "this node's unique name (default: the hostname)",
     [](nc c) { return toml_quote(c.node_id); }},
    {"role", k::list, "ROLES",
     "comma list of edge, cache, consensus, analytics, scheduler, dashboard, "
     "or all (default: all)",
     [](nc c) { return quote_list(c.roles); }},
    {"listen", k::text, "HOST:PORT",
     "cluster address to bind (default: " + std::string{listen_host} + ":"
       + std::to_string(cluster_port) + ")",
     [](nc c) { return toml_quote(c.listen.to_string()); }},
    {"advertise", k::text, "HOST:PORT",
     "cluster address peers connect to (default: --listen)",
     [](nc c) { return toml_quote(c.advertise.to_string()); }},
    {"seeds", k::list, "LIST",
     "comma list of HOST:PORT to join (default: none, start alone)",
     [](nc c) { return quote_addresses(c.seeds); }},
    {"data-dir", k::text, "DIR",
     "directory for persistent state (default: " + std::string{data_dir} + ")",
     [](nc c) { return toml_quote(c.data_dir); }},
    {"admin-listen", k::text, "HOST:PORT",
     "admin API address (default: host of --listen, port "
       + std::to_string(admin_port) + ")",
     [](nc c) { return toml_quote(c.admin_listen.to_string()); }},
    {"log-level", k::text, "LEVEL",
     "trace, debug, info, warn, error or off (default: "
       + std::string{log_level} + ")",
     [](nc c) { return toml_quote(c.log_level); }},
    {"log-format", k::text, "FORMAT",
     "text or json (default: " + std::string{log_format} + ")",
     [](nc c) { return toml_quote(c.log_format); }},
    {"heartbeat-interval-ms", k::integer, "MS",
     "BASP heartbeat interval (default: " + ms(heartbeat_interval) + ")",
     [](nc c) { return std::to_string(c.heartbeat_interval_ms); }},
    {"connection-timeout-ms", k::integer, "MS",
     "drop a silent peer after this long; must exceed 2x the heartbeat "
     "interval (default: " + ms(connection_timeout) + ")",
     [](nc c) { return std::to_string(c.connection_timeout_ms); }},
    {"mailbox-capacity", k::integer, "N",
     "messages a named actor may queue (default: "
       + std::to_string(mailbox_capacity) + ")",
     [](nc c) { return std::to_string(c.mailbox_capacity); }},
    {"max-restarts", k::integer, "N",
     "restarts a supervisor allows per period (default: "
       + std::to_string(max_restarts) + ")",
     [](nc c) { return std::to_string(c.max_restarts); }},
    {"restart-period-ms", k::integer, "MS",
     "the supervisor's restart period (default: " + ms(restart_period) + ")",
     [](nc c) { return std::to_string(c.restart_period_ms); }},
    {"raft-election-timeout-ms", k::integer, "MS",
     "consensus: a follower campaigns after a random [T, 2T) of silence (default: "
       + ms(raft_election_timeout) + ")",
     [](nc c) { return std::to_string(c.raft_election_timeout_ms); }},
    {"raft-heartbeat-interval-ms", k::integer, "MS",
     "consensus: the leader's heartbeat; must be below a third of the election "
     "timeout (default: " + ms(raft_heartbeat_interval) + ")",
     [](nc c) { return std::to_string(c.raft_heartbeat_interval_ms); }},
    {"raft-snapshot-entries", k::integer, "N",
     "consensus: snapshot the state machine and compact the log every N "
     "applied entries (default: " + std::to_string(raft_snapshot_entries) + ")",
     [](nc c) { return std::to_string(c.raft_snapshot_entries); }},
    {"tls-ca", k::text, "FILE",
     "PEM CA certificate that signs every cluster certificate (default: none)",
     [](nc c) { return toml_quote(c.tls_ca); }},
    {"tls-cert", k::text, "FILE",
     "this node's PEM certificate, CN = node id, OU = node (default: none)",
     [](nc c) { return toml_quote(c.tls_cert); }},
    {"tls-key", k::text, "FILE",
     "the certificate's unencrypted PEM private key (default: none)",
     [](nc c) { return toml_quote(c.tls_key); }},
    {"insecure", k::boolean, "",
     "plain TCP without authentication, for development only; required "
     "when no --tls-* files are given (default: false)",
     [](nc c) { return std::string{c.insecure ? "true" : "false"}; }},
    {"http-listen", k::text, "HOST:PORT",
     "edge: HTTP address (default: host of --listen, port "
       + std::to_string(edge_http_port) + ")",
     [](nc c) { return toml_quote(c.edge.http_listen.to_string()); }},
    {"origin", k::list, "URL",
     "edge: an origin server http://HOST[:PORT]; repeat or comma-list for a "
     "pool (default: none)",
     [](nc c) {
       std::vector<std::string> urls;
       for (const auto& o : c.edge.origins)
         urls.push_back("http://" + o.to_string());
       return quote_list(urls);
     }},
    {"edge-threads", k::integer, "N",
     "edge: I/O threads, one io_context each; 0 = one per core (default: 0)",
     [](nc c) { return std::to_string(c.edge.threads); }},
    {"edge-cache-bytes", k::integer, "BYTES",
     "edge: L1 cache budget (default: " + std::to_string(edge_cache_bytes) + ")",
     [](nc c) { return std::to_string(c.edge.cache_bytes); }},
    {"edge-max-object-bytes", k::integer, "BYTES",
     "edge: largest origin response body; larger ones get 502 (default: "
       + std::to_string(edge_max_object_bytes) + ")",
     [](nc c) { return std::to_string(c.edge.max_object_bytes); }},
    {"edge-max-body-bytes", k::integer, "BYTES",
     "edge: largest request body; larger ones get 413 (default: "
       + std::to_string(edge_max_body_bytes) + ")",
     [](nc c) { return std::to_string(c.edge.max_body_bytes); }},
    {"edge-connect-timeout-ms", k::integer, "MS",
     "edge: connecting to an origin (default: " + ms(edge_connect_timeout) + ")",
     [](nc c) { return std::to_string(c.edge.connect_timeout_ms); }},
    {"edge-origin-timeout-ms", k::integer, "MS",
     "edge: a whole origin exchange (default: " + ms(edge_origin_timeout) + ")",
     [](nc c) { return std::to_string(c.edge.origin_timeout_ms); }},
    {"edge-health-interval-ms", k::integer, "MS",
     "edge: active origin health checks, 0 = off (default: "
       + ms(edge_health_interval) + ")",
     [](nc c) { return std::to_string(c.edge.health_interval_ms); }},
    {"edge-health-path", k::text, "PATH",
     "edge: the path health checks GET (default: "
       + std::string{edge_health_path} + ")",
     [](nc c) { return toml_quote(c.edge.health_path); }},
    {"edge-breaker-failures", k::integer, "N",
     "edge: consecutive failures that open an origin's breaker (default: "
       + std::to_string(edge_breaker_failures) + ")",
     [](nc c) { return std::to_string(c.edge.breaker_failures); }},
    {"edge-breaker-open-ms", k::integer, "MS",
     "edge: an open breaker turns half-open after this (default: "
       + ms(edge_breaker_open) + ")",
     [](nc c) { return std::to_string(c.edge.breaker_open_ms); }},
    {"edge-rate-limit", k::integer, "RPS",
     "edge: requests per second per client address, 0 = off (default: 0)",
     [](nc c) { return std::to_string(c.edge.rate_limit_rps); }},
    {"edge-rate-burst", k::integer, "N",
     "edge: token bucket size per client, 0 = the rate (default: 0)",
     [](nc c) { return std::to_string(c.edge.rate_limit_burst); }},
    {"edge-stale-grace-ms", k::integer, "MS",
     "edge: with every origin down, serve stale objects this long beyond "
     "stale-if-error (default: " + ms(edge_stale_grace) + ")",
     [](nc c) { return std::to_string(c.edge.stale_grace_ms); }},
    {"edge-purge-token", k::text, "TOKEN",
     "edge: HTTP PURGE needs header X-Purge-Token with this value; empty = "
     "HTTP PURGE refused (default: empty)",
     [](nc c) { return toml_quote(c.edge.purge_token); }},
    {"member-heartbeat-interval-ms", k::integer, "MS",
     "how often a node renews its membership lease with the Raft leader (default: "
       + ms(member_heartbeat_interval) + ")",
     [](nc c) { return std::to_string(c.member_heartbeat_interval_ms); }},
    {"member-down-after-ms", k::integer, "MS",
     "a node without a heartbeat for this long is down and its actors move; "
     "suspect after half of it; at least 4x the heartbeat interval (default: "
       + ms(member_down_after) + ")",
     [](nc c) { return std::to_string(c.member_down_after_ms); }},
    {"resp-listen", k::text, "HOST:PORT",
     "cache: RESP (Redis protocol) address (default: host of --listen, port "
       + std::to_string(resp_port) + ")",
     [](nc c) { return toml_quote(c.resp_listen.to_string()); }},
    {"cache-max-memory", k::text, "BYTES",
     "cache: evict (S3-FIFO) above this many bytes; units kb, mb, gb (default: 1gb)",
     [](nc c) { return toml_quote(std::to_string(c.cache_max_memory_bytes)); }},
    {"proto-max-bulk-len", k::text, "BYTES",
     "cache: largest bulk string a client may send, as Redis (default: 512mb)",
     [](nc c) { return toml_quote(std::to_string(c.proto_max_bulk_len)); }},
    {"cache-output-buffer-limit", k::text, "BYTES",
     "cache: disconnect a client whose unsent replies exceed this (default: 64mb)",
     [](nc c) { return toml_quote(std::to_string(c.cache_output_buffer_limit_bytes)); }},
    {"cache-max-clients", k::integer, "N",
     "cache: open RESP connections allowed (default: "
       + std::to_string(cache_max_clients) + ")",
     [](nc c) { return std::to_string(c.cache_max_clients); }},
    {"cache-proxy", k::text, "on|off",
     "cache cluster: serve keys of other nodes' shards by forwarding the command "
     "through the runtime (on), or answer -MOVED as Redis Cluster does (off) "
     "(default: on)",
     [](nc c) { return toml_quote(c.cache_proxy ? "on" : "off"); }},
    {"cache-repl-backlog", k::text, "BYTES",
     "cache cluster: replication backlog per primary shard; a replica further "
     "behind gets a full sync (default: 64mb)",
     [](nc c) { return toml_quote(std::to_string(c.cache_repl_backlog_bytes)); }},
    {"cache-io-threads", k::integer, "N",
     "cache: RESP I/O threads, 0 for one per core (default: 0)",
     [](nc c) { return std::to_string(c.cache_io_threads); }},
    {"bind-source", k::text, "HOST",
     "bind outgoing cluster connections to this local IP, so that firewall "
     "rules can tell nodes apart (default: none, the kernel picks)",
     [](nc c) { return toml_quote(c.bind_source); }},
    {"enable-fault-injection", k::boolean, "",
     "accept `troupectl fault ...` commands (default: off; docs/faults.md)",
     [](nc c) { return std::string{c.enable_fault_injection ? "true" : "false"}; }},
    {"labels", k::list, "LIST",
     "comma list of KEY=VALUE labels of this node, e.g. region=eu,zone=a "
     "(default: none)",
     [](nc c) { return quote_list(label_texts(c.labels)); }},
    {"dashboard-token", k::text, "TOKEN",
     "dashboard: token a page must send to get actions such as kill; without "
     "it the dashboard is read-only (default: none)",
     [](nc c) { return toml_quote(c.dashboard_token); }},
    {"dashboard-allow-origin", k::list, "LIST",
     "dashboard: origins (http://host:port, or *) whose pages may open its "
     "WebSocket besides its own (default: none)",
     [](nc c) { return quote_list(c.dashboard_allow_origins); }},
  };
  return table;
}

const setting* find_setting(std::string_view key) {
  for (const auto& s : settings())
    if (s.key == key)
      return &s;
  return nullptr;
}

std::string env_name(std::string_view key) {
  std::string out = "TROUPE_";
  for (char c : key)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

std::string join(const std::vector<std::string>& xs, std::string_view sep) {
  std::string out;
  for (const auto& x : xs)
    out += (out.empty() ? "" : std::string{sep}) + x;
  return out;
}

caf::error invalid(std::string msg) {
  return make_error(errc::invalid_argument, std::move(msg));
}

// -- layers ----------------------------------------------------------------

// A value as some layer gave it, before validation.
struct raw_value {
  std::string text;
  std::string origin; // "file", "env" or "flag"
  std::string where;  // prefix for errors: "--listen", "TROUPE_LISTEN",
                      // "/etc/troupe.toml:3: listen"
};

using layer = std::map<std::string, raw_value>;

struct cli_result {
  layer flags;
  std::optional<std::string> config_path;
  bool dump_config = false;
};

config_outcome finished(int exit_code, std::string output, std::string error) {
  config_outcome out;
  out.exit_code = exit_code;
  out.output = std::move(output);
  out.error = std::move(error);
  return out;
}

// Usage errors exit with 2, like most Unix tools (and unlike CLI11's own
// codes, which differ per error).
constexpr int usage_exit_code = 2;

// Returns an outcome when parsing ends the program (help, version, error).
std::optional<config_outcome> parse_flags(const std::vector<std::string>& args,
                                          cli_result& out) {
  CLI::App app{"troupe-node: one node of a troupe cluster.", "troupe-node"};
  app.footer("Precedence: flags > TROUPE_* environment variables > "
             "--config file > defaults. See docs/configuration.md.");
  app.set_version_flag("--version", std::string{defaults::version});
  std::map<std::string, std::string> values; // references stay valid
  std::map<std::string, bool> switches;
  for (const auto& s : settings()) {
    auto help = s.help + " [" + env_name(s.key) + "]";
    if (s.kind == value_kind::boolean) {
      app.add_flag("--" + s.key, switches[s.key], help);
      continue;
    }
    auto* opt = app.add_option("--" + s.key, values[s.key], help)->type_name(s.value_name);
    // --origin a --origin b is the same as --origin a,b.
    if (s.key == "origin")
      opt->multi_option_policy(CLI::MultiOptionPolicy::Join)->delimiter(',');
  }
  std::string config_path;
  auto* config_opt = app.add_option("--config", config_path,
                                    "TOML config file (default: none) "
                                    "[TROUPE_CONFIG]")
                       ->type_name("FILE");
  app.add_flag("--dump-config", out.dump_config,
               "print the effective configuration as TOML and exit");
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return finished(0, app.help(), "");
  } catch (const CLI::CallForVersion& e) {
    return finished(0, std::string{e.what()} + "\n", "");
  } catch (const CLI::ParseError& e) {
    return finished(usage_exit_code, "",
                    std::string{e.what()} + " (see troupe-node --help)");
  }
  for (const auto& s : settings())
    if (app.count("--" + s.key) > 0)
      out.flags[s.key] = {s.kind == value_kind::boolean
                            ? std::string{switches[s.key] ? "true" : "false"}
                            : values[s.key],
                          "flag", "--" + s.key};
  if (config_opt->count() > 0)
    out.config_path = config_path;
  return std::nullopt;
}

// Empty variables count as unset: orchestrators often define a variable
// with an empty value rather than leaving it out.
std::optional<std::string>
env_value(const std::map<std::string, std::string>& env,
          const std::string& name) {
  auto i = env.find(name);
  if (i == env.end() || i->second.empty())
    return std::nullopt;
  return i->second;
}

layer env_layer(const std::map<std::string, std::string>& env) {
  layer out;
  for (const auto& s : settings()) {
    auto name = env_name(s.key);
    if (auto value = env_value(env, name))
      out[s.key] = {*value, "env", name};
  }
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& key) {
  std::vector<std::string> keys;
  for (const auto& s : settings()) {
    if (edit_distance(key, s.key) <= 2)
      return "unknown key '" + key + "' (did you mean '" + s.key + "'?)";
    keys.push_back(s.key);
  }
  return "unknown key '" + key + "' (valid keys: " + join(keys, ", ") + ")";
}

// Checks the TOML type against the setting's kind and renders the value as
// the text a flag would carry, so all layers share one validation.
std::optional<std::string> as_text(value_kind kind, const config_value& x) {
  if (auto str = std::get_if<std::string>(&x);
      str && kind != value_kind::integer)
    return *str;
  if (auto num = std::get_if<int64_t>(&x); num && kind == value_kind::integer)
    return std::to_string(*num);
  if (auto arr = std::get_if<std::vector<std::string>>(&x);
      arr && kind == value_kind::list)
    return join(*arr, ",");
  if (auto flag = std::get_if<bool>(&x); flag && kind == value_kind::boolean)
    return std::string{*flag ? "true" : "false"};
  return std::nullopt;
}

std::string_view expected_type(value_kind kind) {
  switch (kind) {
    case value_kind::integer: return "an integer";
    case value_kind::list: return "an array of strings or a comma list string";
    case value_kind::boolean: return "a boolean";
    default: return "a string";
  }
}

caf::expected<layer> file_layer(const std::string& path) {
  auto text = read_config_file(path);
  if (!text)
    return std::move(text.error());
  auto entries = parse_config_text(*text, path);
  if (!entries)
    return std::move(entries.error());
  layer out;
  for (const auto& e : *entries) {
    auto at = path + ":" + std::to_string(e.line) + ": ";
    const auto* s = find_setting(e.key);
    if (!s)
      return invalid(at + unknown_key_message(e.key));
    auto value = as_text(s->kind, e.value);
    if (!value)
      return invalid(at + "key '" + e.key + "' must be "
                     + std::string{expected_type(s->kind)} + ", not "
                     + std::string{type_name(e.value)});
    out[e.key] = {*value, "file", at + e.key};
  }
  return out;
}

// Picks the config file (flag beats env), reads it and stacks the layers.
caf::expected<layer> merge_layers(const cli_result& cli,
                                  const std::map<std::string, std::string>& env,
                                  node_config& cfg) {
  auto env_config = env_value(env, "TROUPE_CONFIG");
  cfg.origin["config"] = cli.config_path ? "flag"
                         : env_config    ? "env"
                                         : "default";
  cfg.config_file = cli.config_path.value_or(env_config.value_or(""));
  layer merged;
  if (!cfg.config_file.empty()) {
    auto file = file_layer(cfg.config_file);
    if (!file)
      return std::move(file.error());
    merged = std::move(*file);
  }
  for (auto& [key, value] : env_layer(env))
    merged[key] = std::move(value);
  for (const auto& [key, value] : cli.flags)
    merged[key] = value;
  return merged;
}

// -- validation, one setting at a time -----------------------------------

// The value given for `key`, or nullptr for its default; records the origin.
const raw_value* given(const layer& m, const std::string& key,
                       node_config& cfg) {
  auto i = m.find(key);
  cfg.origin[key] = i == m.end() ? "default" : i->second.origin;
  return i == m.end() ? nullptr : &i->second;
}

caf::error invalid(const raw_value& raw, const std::string& problem) {
  return invalid(raw.where + ": " + problem);
}

bool valid_node_id(std::string_view id) {
  auto alnum = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
  };
  auto tail_ok = [&](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '-';
  };
  return !id.empty() && id.size() <= 63 && alnum(id.front())
         && std::all_of(id.begin() + 1, id.end(), tail_ok);
}

std::string local_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0)
    return {};
  return buf;
}

caf::error set_node_id(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "node-id", cfg);
  cfg.node_id = raw ? raw->text : local_hostname();
  if (valid_node_id(cfg.node_id))
    return caf::none;
  auto rule = "must match [A-Za-z0-9][A-Za-z0-9._-]{0,62}";
  if (!raw)
    return invalid("the default node id is the hostname '" + cfg.node_id
                   + "', which " + rule + "; set --node-id");
  return invalid(*raw, "node id '" + cfg.node_id + "' " + rule);
}

caf::expected<std::vector<std::string>> parse_roles(std::string_view text) {
  auto valid = known_roles();
  valid.push_back("all");
  auto valid_text = " (valid roles: " + join(valid, ", ") + ")";
  std::vector<std::string> roles;
  for (size_t pos = 0; pos <= text.size();) {
    auto comma = std::min(text.find(',', pos), text.size());
    std::string role{text.substr(pos, comma - pos)};
    role.erase(0, role.find_first_not_of(' '));
    role.erase(role.find_last_not_of(' ') + 1);
    if (role.empty())
      return invalid("empty role in '" + std::string{text} + "'" + valid_text);
    if (std::find(valid.begin(), valid.end(), role) == valid.end())
      return invalid("unknown role '" + role + "'" + valid_text);
    if (std::find(roles.begin(), roles.end(), role) == roles.end())
      roles.push_back(role);
    pos = comma + 1;
  }
  if (std::find(roles.begin(), roles.end(), "all") != roles.end())
    return std::vector<std::string>{"all"};
  return roles;
}

caf::error set_roles(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "role", cfg);
  if (!raw) {
    cfg.roles = {"all"};
    return caf::none;
  }
  auto roles = parse_roles(raw->text);
  if (!roles)
    return invalid(*raw, message_of(roles.error()));
  cfg.roles = std::move(*roles);
  return caf::none;
}

caf::error set_listen(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "listen", cfg);
  if (!raw) {
    cfg.listen = {std::string{defaults::listen_host}, defaults::cluster_port};
    return caf::none;
  }
  auto addr = parse_host_port(raw->text, defaults::cluster_port);
  if (!addr)
    return invalid(*raw, message_of(addr.error()));
  cfg.listen = std::move(*addr);
  return caf::none;
}

// A host-only --advertise keeps the listen port: the usual case is a NAT or
// container whose outside name differs but whose port is forwarded 1:1.
caf::error set_advertise(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "advertise", cfg);
  cfg.advertise = cfg.listen;
  if (raw) {
    auto addr = parse_host_port(raw->text, cfg.listen.port);
    if (!addr)
      return invalid(*raw, message_of(addr.error()));
    cfg.advertise = std::move(*addr);
  }
  if (!is_wildcard_host(cfg.advertise.host))
    return caf::none;
  auto problem = "advertise address " + cfg.advertise.to_string()
                 + " is a wildcard that peers cannot connect to; set "
                   "--advertise (it defaults to --listen)";
  return raw ? invalid(*raw, problem) : invalid(problem);
}

caf::error set_seeds(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "seeds", cfg);
  cfg.seeds.clear();
  if (!raw)
    return caf::none;
  auto seeds = parse_host_port_list(raw->text, defaults::cluster_port);
  if (!seeds)
    return invalid(*raw, message_of(seeds.error()));
  cfg.seeds = std::move(*seeds);
  return caf::none;
}

// A listen address of its own (admin, RESP, edge HTTP): HOST:PORT, a host
// alone with `port`, or by default the host of --listen with `port`.
caf::error set_listen(const layer& m, node_config& cfg, const char* key, uint16_t port,
                      host_port& out) {
  const auto* raw = given(m, key, cfg);
  auto text = raw ? std::optional<std::string>{raw->text} : std::nullopt;
  auto addr = resolve_listen_address(text, cfg.listen, port);
  if (!addr)
    return invalid(*raw, message_of(addr.error())); // the default is valid
  out = std::move(*addr);
  return caf::none;
}

caf::error set_admin_listen(const layer& m, node_config& cfg) {
  return set_listen(m, cfg, "admin-listen", defaults::admin_port, cfg.admin_listen);
}

// A comma list, each item trimmed of spaces, empty items dropped.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= text.size();) {
    auto comma = std::min(text.find(',', pos), text.size());
    std::string item{text.substr(pos, comma - pos)};
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty())
      out.push_back(std::move(item));
    pos = comma + 1;
  }
  return out;
}

caf::error set_data_dir(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "data-dir", cfg);
  cfg.data_dir = raw ? raw->text : std::string{defaults::data_dir};
  auto control = [](char c) { return static_cast<unsigned char>(c) < 0x20; };
  if (!raw || (!cfg.data_dir.empty()
               && std::none_of(cfg.data_dir.begin(), cfg.data_dir.end(),
                               control)))
    return caf::none;
  return invalid(*raw, "data dir must be a non-empty path without control "
                       "characters");
}

caf::error set_bind_source(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "bind-source", cfg);
  cfg.bind_source = raw ? raw->text : std::string{};
  unsigned char buf[sizeof(in6_addr)];
  if (!raw || raw->text.empty() || inet_pton(AF_INET, raw->text.c_str(), buf) == 1
      || inet_pton(AF_INET6, raw->text.c_str(), buf) == 1)
    return caf::none;
  return invalid(*raw, "expected an IPv4 or IPv6 address of this machine, got '"
                         + raw->text + "'");
}

// A flag on the command line; a boolean in the file, true/false (or
// 1/0, yes/no, on/off) in the variable.
caf::error set_flag(const layer& m, node_config& cfg, const std::string& key,
                    bool node_config::*field) {
  const auto* raw = given(m, key, cfg);
  cfg.*field = false;
  if (!raw)
    return caf::none;
  static const std::vector<std::string> yes{"true", "1", "yes", "on"};
  static const std::vector<std::string> no{"false", "0", "no", "off"};
  auto has = [&](const std::vector<std::string>& xs) {
    return std::find(xs.begin(), xs.end(), raw->text) != xs.end();
  };
  if (!has(yes) && !has(no))
    return invalid(*raw, "expected true or false, got '" + raw->text + "'");
  cfg.*field = has(yes);
  return caf::none;
}

caf::error set_fault_injection(const layer& m, node_config& cfg) {
  return set_flag(m, cfg, "enable-fault-injection", &node_config::enable_fault_injection);
}

caf::error set_choice(const layer& m, node_config& cfg, const std::string& key,
                      std::string node_config::*field,
                      std::string_view fallback,
                      const std::vector<std::string>& valid) {
  const auto* raw = given(m, key, cfg);
  cfg.*field = raw ? raw->text : std::string{fallback};
  if (!raw || std::find(valid.begin(), valid.end(), cfg.*field) != valid.end())
    return caf::none;
  return invalid(*raw, "unknown value '" + cfg.*field + "' (valid values: "
                         + join(valid, ", ") + ")");
}

caf::error set_logging(const layer& m, node_config& cfg) {
  if (auto err = set_choice(m, cfg, "log-level", &node_config::log_level,
                            defaults::log_level, known_log_levels()))
    return err;
  return set_choice(m, cfg, "log-format", &node_config::log_format,
                    defaults::log_format, known_log_formats());
}

bool parse_uint(std::string_view text, uint64_t& out) {
  auto last = text.data() + text.size();
  auto [end, ec] = std::from_chars(text.data(), last, out);
  return !text.empty() && ec == std::errc{} && end == last;
}

template <class T>
caf::error set_uint(const layer& m, node_config& cfg, const std::string& key,
                    T node_config::*field, uint64_t fallback, uint64_t lo,
                    uint64_t hi) {
  const auto* raw = given(m, key, cfg);
  uint64_t value = fallback;
  if (raw && (!parse_uint(raw->text, value) || value < lo || value > hi))
    return invalid(*raw, "expected an integer from " + std::to_string(lo)
                           + " to " + std::to_string(hi) + ", got '"
                           + raw->text + "'");
  cfg.*field = static_cast<T>(value);
  return caf::none;
}

// A connection must survive one lost heartbeat, else a single delayed
// packet drops a healthy peer; hence timeout > 2 x interval.
caf::error check_timeouts(const node_config& cfg) {
  if (cfg.connection_timeout_ms > 2 * uint64_t{cfg.heartbeat_interval_ms})
    return caf::none;
  return invalid("connection-timeout-ms "
                 + std::to_string(cfg.connection_timeout_ms) + " ("
                 + cfg.origin.at("connection-timeout-ms")
                 + ") must exceed twice heartbeat-interval-ms "
                 + std::to_string(cfg.heartbeat_interval_ms) + " ("
                 + cfg.origin.at("heartbeat-interval-ms") + ")");
}

// Bounds: a heartbeat below 10 ms keeps the BASP broker busy with
// heartbeats; above a minute, failure detection is too slow to matter. Every
// other bound is a sanity limit against typos (an extra zero or three).
caf::error set_heartbeat_interval(const layer& m, node_config& cfg) {
  return set_uint(m, cfg, "heartbeat-interval-ms",
                  &node_config::heartbeat_interval_ms,
                  defaults::heartbeat_interval.count(), 10, 60'000);
}

caf::error set_connection_timeout(const layer& m, node_config& cfg) {
  auto fallback = std::chrono::milliseconds{defaults::connection_timeout};
  if (auto err = set_uint(m, cfg, "connection-timeout-ms",
                          &node_config::connection_timeout_ms,
                          fallback.count(), 1, 600'000))
    return err;
  return check_timeouts(cfg);
}

caf::error set_mailbox_capacity(const layer& m, node_config& cfg) {
  return set_uint(m, cfg, "mailbox-capacity", &node_config::mailbox_capacity,
                  defaults::mailbox_capacity, 1, 100'000'000);
}

caf::error set_max_restarts(const layer& m, node_config& cfg) {
  return set_uint(m, cfg, "max-restarts", &node_config::max_restarts,
                  defaults::max_restarts, 0, 1000);
}

caf::error set_restart_period(const layer& m, node_config& cfg) {
  auto fallback = std::chrono::milliseconds{defaults::restart_period};
  return set_uint(m, cfg, "restart-period-ms", &node_config::restart_period_ms,
                  fallback.count(), 1, 3'600'000);
}

// The election timeout must cover several heartbeats, so that one late
// heartbeat on a loaded machine does not start an election; the bounds keep
// the tick-based core (10 ms ticks) meaningful.
caf::error set_raft_timing(const layer& m, node_config& cfg) {
  if (auto err = set_uint(m, cfg, "raft-election-timeout-ms",
                          &node_config::raft_election_timeout_ms,
                          defaults::raft_election_timeout.count(), 50, 60'000))
    return err;
  if (auto err = set_uint(m, cfg, "raft-heartbeat-interval-ms",
                          &node_config::raft_heartbeat_interval_ms,
                          defaults::raft_heartbeat_interval.count(), 10, 20'000))
    return err;
  if (auto err = set_uint(m, cfg, "raft-snapshot-entries",
                          &node_config::raft_snapshot_entries,
                          defaults::raft_snapshot_entries, 10, 100'000'000))
    return err;
  if (3 * uint64_t{cfg.raft_heartbeat_interval_ms} <= cfg.raft_election_timeout_ms)
    return caf::none;
  return invalid("raft-heartbeat-interval-ms "
                 + std::to_string(cfg.raft_heartbeat_interval_ms)
                 + " must be below a third of raft-election-timeout-ms "
                 + std::to_string(cfg.raft_election_timeout_ms));
}

// File paths are only parsed here; troupe-node checks at startup that the
// files exist, match and chain to the CA (runtime/tls.hpp), so that
// --dump-config and config tests work without certificates.
caf::error set_tls(const layer& m, node_config& cfg) {
  for (auto [key, field] : {std::pair{"tls-ca", &node_config::tls_ca},
                            {"tls-cert", &node_config::tls_cert},
                            {"tls-key", &node_config::tls_key}}) {
    const auto* raw = given(m, key, cfg);
    cfg.*field = raw ? raw->text : std::string{}; // "" (as dumped): none
  }
  const auto* raw = given(m, "insecure", cfg);
  cfg.insecure = false;
  if (!raw)
    return caf::none;
  static const std::vector<std::string> yes{"true", "1", "yes", "on"};
  static const std::vector<std::string> no{"false", "0", "no", "off"};
  auto has = [&](const std::vector<std::string>& xs) {
    return std::find(xs.begin(), xs.end(), raw->text) != xs.end();
  };
  if (!has(yes) && !has(no))
    return invalid(*raw, "expected true or false, got '" + raw->text + "'");
  cfg.insecure = has(yes);
  return caf::none;
}

// -- edge settings ------------------------------------------------------------

// http://HOST[:PORT] with an optional trailing "/". Anything else names what
// is missing: TLS to origins is not built.
caf::expected<host_port> parse_origin_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.starts_with("https://"))
    return invalid("origin '" + std::string{url} + "': https origins are not "
                   "supported yet; use http:// (TLS to origins is not built)");
  if (!url.starts_with(scheme))
    return invalid("origin '" + std::string{url} + "' must look like "
                   "http://HOST[:PORT]");
  auto rest = url.substr(scheme.size());
  if (rest.ends_with("/"))
    rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos)
    return invalid("origin '" + std::string{url} + "': a path is not "
                   "supported, give http://HOST[:PORT]");
  auto addr = parse_host_port(rest, 80);
  if (!addr)
    return invalid("origin '" + std::string{url} + "': "
                   + message_of(addr.error()));
  return addr;
}

caf::error set_origins(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "origin", cfg);
  cfg.edge.origins.clear();
  if (!raw)
    return caf::none;
  for (auto& item : split_list(raw->text)) {
    auto addr = parse_origin_url(item);
    if (!addr)
      return invalid(*raw, message_of(addr.error()));
    if (cfg.edge.origins.size() >= 64)
      return invalid(*raw, "at most 64 origins");
    cfg.edge.origins.push_back(std::move(*addr));
  }
  return caf::none;
}

caf::error set_http_listen(const layer& m, node_config& cfg) {
  if (auto err = set_listen(m, cfg, "http-listen", defaults::edge_http_port,
                            cfg.edge.http_listen))
    return err;
  return set_origins(m, cfg);
}

caf::error set_edge_text(const layer& m, node_config& cfg) {
  const auto* path = given(m, "edge-health-path", cfg);
  cfg.edge.health_path = path ? path->text : std::string{defaults::edge_health_path};
  auto printable = [](char c) { return c > 0x20 && c < 0x7f; };
  if (!cfg.edge.health_path.starts_with("/")
      || !std::all_of(cfg.edge.health_path.begin(), cfg.edge.health_path.end(),
                      printable))
    return invalid(*path, "health path must start with / and hold no spaces "
                          "or control characters");
  const auto* token = given(m, "edge-purge-token", cfg);
  cfg.edge.purge_token = token ? token->text : std::string{};
  if (!std::all_of(cfg.edge.purge_token.begin(), cfg.edge.purge_token.end(),
                   printable))
    return invalid(*token, "purge token must be printable ASCII without spaces");
  return caf::none;
}

caf::error set_edge_numbers(const layer& m, node_config& cfg) {
  using namespace defaults;
  auto& e = cfg.edge;
  auto msec = [](auto x) {
    return static_cast<uint64_t>(std::chrono::milliseconds{x}.count());
  };
  struct item {
    const char* key;
    std::function<void(uint64_t)> store;
    uint64_t fallback, lo, hi;
  };
  std::vector<item> items{
    {"edge-threads", [&](uint64_t v) { e.threads = static_cast<uint32_t>(v); },
     edge_threads, 0, 256},
    {"edge-cache-bytes", [&](uint64_t v) { e.cache_bytes = v; },
     edge_cache_bytes, 0, uint64_t{1} << 40},
    {"edge-max-object-bytes", [&](uint64_t v) { e.max_object_bytes = v; },
     edge_max_object_bytes, 1024, uint64_t{1} << 32},
    {"edge-max-body-bytes", [&](uint64_t v) { e.max_body_bytes = v; },
     edge_max_body_bytes, 0, uint64_t{1} << 32},
    {"edge-connect-timeout-ms",
     [&](uint64_t v) { e.connect_timeout_ms = static_cast<uint32_t>(v); },
     msec(edge_connect_timeout), 1, 600'000},
    {"edge-origin-timeout-ms",
     [&](uint64_t v) { e.origin_timeout_ms = static_cast<uint32_t>(v); },
     msec(edge_origin_timeout), 1, 600'000},
    {"edge-health-interval-ms",
     [&](uint64_t v) { e.health_interval_ms = static_cast<uint32_t>(v); },
     msec(edge_health_interval), 0, 600'000},
    {"edge-breaker-failures",
     [&](uint64_t v) { e.breaker_failures = static_cast<uint32_t>(v); },
     edge_breaker_failures, 1, 1000},
    {"edge-breaker-open-ms",
     [&](uint64_t v) { e.breaker_open_ms = static_cast<uint32_t>(v); },
     msec(edge_breaker_open), 1, 3'600'000},
    {"edge-rate-limit",
     [&](uint64_t v) { e.rate_limit_rps = static_cast<uint32_t>(v); },
     edge_rate_limit_rps, 0, 10'000'000},
    {"edge-rate-burst",
     [&](uint64_t v) { e.rate_limit_burst = static_cast<uint32_t>(v); },
     edge_rate_limit_burst, 0, 10'000'000},
    {"edge-stale-grace-ms",
     [&](uint64_t v) { e.stale_grace_ms = static_cast<uint32_t>(v); },
     msec(edge_stale_grace), 0, 86'400'000},
  };
  for (const auto& x : items) {
    const auto* raw = given(m, x.key, cfg);
    uint64_t value = x.fallback;
    if (raw && (!parse_uint(raw->text, value) || value < x.lo || value > x.hi))
      return invalid(*raw, "expected an integer from " + std::to_string(x.lo)
                             + " to " + std::to_string(x.hi) + ", got '"
                             + raw->text + "'");
    x.store(value);
  }
  return caf::none;
}

// The lease must span several heartbeats, so that a loaded machine delaying
// one or two does not down a live node.
caf::error set_member_timing(const layer& m, node_config& cfg) {
  if (auto err = set_uint(m, cfg, "member-heartbeat-interval-ms",
                          &node_config::member_heartbeat_interval_ms,
                          defaults::member_heartbeat_interval.count(), 10, 60'000))
    return err;
  if (auto err = set_uint(m, cfg, "member-down-after-ms", &node_config::member_down_after_ms,
                          defaults::member_down_after.count(), 40, 600'000))
    return err;
  if (cfg.member_down_after_ms >= 4 * uint64_t{cfg.member_heartbeat_interval_ms})
    return caf::none;
  return invalid("member-down-after-ms " + std::to_string(cfg.member_down_after_ms)
                 + " must be at least 4x member-heartbeat-interval-ms "
                 + std::to_string(cfg.member_heartbeat_interval_ms));
}

// Bytes with Redis's units: k=1000, kb=1024, m, mb, g, gb (case-insensitive).
bool parse_bytes(std::string_view text, uint64_t& out) {
  std::string lower;
  for (char c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, uint64_t> units[]
    = {{"kb", 1024},    {"mb", 1024 * 1024}, {"gb", uint64_t{1} << 30},
       {"k", 1000},     {"m", 1000 * 1000},  {"g", 1000 * 1000 * 1000}};
  uint64_t mul = 1;
  std::string_view digits = lower;
  for (auto& [suffix, m] : units)
    if (digits.ends_with(suffix)) {
      digits.remove_suffix(std::string_view{suffix}.size());
      mul = m;
      break;
    }
  uint64_t v = 0;
  if (!parse_uint(digits, v) || (v != 0 && mul > UINT64_MAX / v))
    return false;
  out = v * mul;
  return true;
}

caf::error set_bytes(const layer& m, node_config& cfg, const std::string& key,
                     uint64_t node_config::*field, uint64_t fallback, uint64_t lo,
                     uint64_t hi) {
  const auto* raw = given(m, key, cfg);
  uint64_t value = fallback;
  if (raw && (!parse_bytes(raw->text, value) || value < lo || value > hi))
    return invalid(*raw, "expected a size from " + std::to_string(lo) + " to "
                           + std::to_string(hi) + " bytes (units kb, mb, gb), got '"
                           + raw->text + "'");
  cfg.*field = value;
  return caf::none;
}

// The cache role's settings. Bounds: at least 1 MiB of memory (Redis's own
// minimum for a useful maxmemory is similar), a bulk limit from 1 MiB
// (Redis's minimum) to 4 GiB, an output buffer of at least 64 KiB.
caf::error set_cache(const layer& m, node_config& cfg) {
  if (auto err = set_listen(m, cfg, "resp-listen", defaults::resp_port, cfg.resp_listen))
    return err;
  using nc = node_config;
  if (auto err = set_bytes(m, cfg, "cache-max-memory", &nc::cache_max_memory_bytes,
                           defaults::cache_max_memory_bytes, 1 << 20, uint64_t{1} << 42))
    return err;
  if (auto err = set_bytes(m, cfg, "proto-max-bulk-len", &nc::proto_max_bulk_len,
                           defaults::proto_max_bulk_len, 1 << 20, uint64_t{1} << 32))
    return err;
  if (auto err = set_bytes(m, cfg, "cache-output-buffer-limit",
                           &nc::cache_output_buffer_limit_bytes,
                           defaults::cache_output_buffer_limit_bytes, 64 << 10,
                           uint64_t{1} << 40))
    return err;
  if (auto err = set_uint(m, cfg, "cache-max-clients", &nc::cache_max_clients,
                          defaults::cache_max_clients, 1, 1'000'000))
    return err;
  if (auto err = set_flag(m, cfg, "cache-proxy", &nc::cache_proxy))
    return err;
  if (!given(m, "cache-proxy", cfg))
    cfg.cache_proxy = true;
  if (auto err = set_bytes(m, cfg, "cache-repl-backlog", &nc::cache_repl_backlog_bytes,
                           defaults::cache_repl_backlog_bytes, 1 << 20, uint64_t{1} << 34))
    return err;
  return set_uint(m, cfg, "cache-io-threads", &nc::cache_io_threads,
                  defaults::cache_io_threads, 0, 256);
}

caf::error set_labels(const layer& m, node_config& cfg) {
  const auto* raw = given(m, "labels", cfg);
  cfg.labels.clear();
  if (!raw)
    return caf::none;
  for (auto& item : split_list(raw->text)) {
    auto eq = item.find('=');
    if (eq == 0 || eq == std::string::npos || item.size() > 128)
      return invalid(*raw, "label '" + item + "' must be KEY=VALUE (at most 128 bytes)");
    cfg.labels[item.substr(0, eq)] = item.substr(eq + 1);
  }
  if (cfg.labels.size() > 16)
    return invalid(*raw, "at most 16 labels");
  return caf::none;
}

// The token is compared in full on every action; a short one is guessable.
caf::error set_dashboard(const layer& m, node_config& cfg) {
  const auto* token = given(m, "dashboard-token", cfg);
  cfg.dashboard_token = token ? token->text : std::string{};
  // "" means none, so that --dump-config's output reads back.
  if (token && !cfg.dashboard_token.empty()
      && (cfg.dashboard_token.size() < 8 || cfg.dashboard_token.size() > 256))
    return invalid(*token, "dashboard token must have 8 to 256 characters");
  const auto* origins = given(m, "dashboard-allow-origin", cfg);
  cfg.dashboard_allow_origins = origins ? split_list(origins->text)
                                        : std::vector<std::string>{};
  return caf::none;
}

// Order matters: advertise and admin-listen default to listen, and the
// connection timeout is checked against the heartbeat interval.
caf::error build(const layer& m, node_config& cfg) {
  using step = caf::error (*)(const layer&, node_config&);
  for (step f : {set_node_id, set_roles, set_listen, set_advertise,
                 set_seeds, set_admin_listen, set_data_dir, set_logging,
                 set_heartbeat_interval, set_connection_timeout,
                 set_mailbox_capacity, set_max_restarts, set_restart_period,
                 set_raft_timing, set_tls, set_member_timing, set_cache, set_bind_source,
                 set_fault_injection, set_http_listen, set_edge_text, set_edge_numbers,
                 set_labels, set_dashboard})
    if (auto err = f(m, cfg))
      return err;
  return caf::none;
}

std::string origin_note(const node_config& cfg, const std::string& key) {
  auto i = cfg.origin.find(key);
  auto origin = i == cfg.origin.end() ? std::string{"default"} : i->second;
  if (origin == "env")
    return "env " + env_name(key);
  if (origin == "flag")
    return "flag --" + key;
  return origin;
}

} // namespace

bool same_settings(const node_config& x, const node_config& y) {
  auto tie = [](const node_config& c) {
    return std::tie(c.node_id, c.roles, c.listen, c.advertise, c.seeds,
                    c.data_dir, c.admin_listen, c.log_level, c.log_format,
                    c.heartbeat_interval_ms, c.connection_timeout_ms,
                    c.mailbox_capacity, c.max_restarts, c.restart_period_ms,
                    c.raft_election_timeout_ms, c.raft_heartbeat_interval_ms,
                    c.raft_snapshot_entries, c.tls_ca, c.tls_cert,
                    c.tls_key, c.insecure, c.member_heartbeat_interval_ms,
                    c.member_down_after_ms, c.resp_listen,
                    c.cache_max_memory_bytes, c.proto_max_bulk_len,
                    c.cache_output_buffer_limit_bytes, c.cache_max_clients,
                    c.cache_io_threads, c.cache_proxy, c.cache_repl_backlog_bytes,
                    c.bind_source,
                    c.enable_fault_injection, c.edge, c.labels, c.dashboard_token,
                    c.dashboard_allow_origins);
  };
  return tie(x) == tie(y);
}

config_outcome load_node_config(const std::vector<std::string>& args,
                                const std::map<std::string, std::string>& env) {
  cli_result cli;
  if (auto early = parse_flags(args, cli))
    return std::move(*early);
  node_config cfg;
  auto merged = merge_layers(cli, env, cfg);
  caf::error err = merged ? build(*merged, cfg) : std::move(merged.error());
  if (err)
    return finished(usage_exit_code, "", message_of(err));
  if (cli.dump_config)
    return finished(0, dump_config(cfg), "");
  config_outcome out;
  out.config = std::move(cfg);
  return out;
}

config_outcome load_node_config(int argc, const char* const* argv,
                                const std::map<std::string, std::string>& env) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return load_node_config(args, env);
}

std::map<std::string, std::string> troupe_environment() {
  std::map<std::string, std::string> out;
  for (char** var = environ; var && *var; ++var) {
    std::string_view entry{*var};
    auto eq = entry.find('=');
    if (entry.starts_with("TROUPE_") && eq != std::string_view::npos)
      out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

std::string dump_config(const node_config& cfg) {
  std::string out = "# troupe-node effective configuration; each comment "
                    "names where the value came from.\n# config file: "
                    + (cfg.config_file.empty() ? "none" : cfg.config_file)
                    + "\n";
  for (const auto& s : settings())
    out += s.key + " = " + s.render(cfg) + "  # " + origin_note(cfg, s.key)
           + "\n";
  return out;
}

std::vector<std::string> known_roles() {
  return {"edge", "cache", "consensus", "analytics", "scheduler", "dashboard"};
}

bool has_role(const node_config& cfg, std::string_view role) {
  return std::any_of(cfg.roles.begin(), cfg.roles.end(),
                     [role](const std::string& x) {
                       return x == role || x == "all";
                     });
}

caf::expected<host_port>
resolve_listen_address(const std::optional<std::string>& value,
                       const host_port& cluster_listen, uint16_t default_port) {
  if (!value)
    return host_port{cluster_listen.host, default_port};
  return parse_host_port(*value, default_port);
}

} // namespace troupe
