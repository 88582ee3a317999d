// Tests for net/address, runtime/config_file and runtime/config.
#include "net/address.hpp"
#include "net/errors.hpp"
#include "runtime/config.hpp"
#include "runtime/config_file.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace troupe;

namespace {

using env_map = std::map<std::string, std::string>;
using args_list = std::vector<std::string>;

// The text of an error, e.g. "bad address 'x': missing port".
std::string text_of(const caf::error& err) {
  auto full = describe(err);
  auto prefix = std::string{"invalid_argument: "};
  return full.starts_with(prefix) ? full.substr(prefix.size()) : full;
}

// A file in the temp dir, removed when the test ends.
struct temp_file {
  std::string path;

  explicit temp_file(const std::string& content) {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path()
            / ("troupe-config-test-" + std::to_string(getpid()) + "-"
               + std::to_string(counter++) + ".toml"))
             .string();
    std::ofstream{path, std::ios::binary} << content;
  }

  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

// Loads with a fixed node id unless the test sets one, so results do not
// depend on this machine's hostname.
config_outcome load(args_list args, env_map env = {}) {
  if (!env.count("TROUPE_NODE_ID"))
    env["TROUPE_NODE_ID"] = "test-node";
  return load_node_config(args, env);
}

node_config load_ok(args_list args, env_map env = {}) {
  auto out = load(std::move(args), std::move(env));
  INFO("error: ", out.error);
  REQUIRE(out.config);
  CHECK(out.error.empty());
  return *out.config;
}

std::string load_error(args_list args, env_map env = {}) {
  auto out = load(std::move(args), std::move(env));
  CHECK_FALSE(out.config);
  CHECK_EQ(out.exit_code, 2);
  return out.error;
}

// Drops comment lines and trailing "  # origin" comments of a dump.
std::string without_comments(const std::string& dump) {
  std::istringstream in{dump};
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (!line.starts_with("#"))
      out += line.substr(0, line.rfind("  # ")) + "\n";
  return out;
}

std::string sample_config_path() {
  // tests/unit/config_test.cpp -> <source root>/deploy/troupe.toml
  auto root = std::filesystem::path{__FILE__}.parent_path().parent_path()
                .parent_path();
  return (root / "deploy" / "troupe.toml").string();
}

} // namespace

// -- address ----------------------------------------------------------------

TEST_CASE("address: accepted forms") {
  auto parse = [](std::string_view text) {
    auto x = parse_host_port(text, 7400);
    REQUIRE_MESSAGE(x, text_of(x.error()));
    return *x;
  };
  CHECK_EQ(parse("10.0.0.1:7401"), host_port{"10.0.0.1", 7401});
  CHECK_EQ(parse("node-1.example.com"), host_port{"node-1.example.com", 7400});
  CHECK_EQ(parse(" localhost:1 "), host_port{"localhost", 1});
  CHECK_EQ(parse("[::1]:9000"), host_port{"::1", 9000});
  CHECK_EQ(parse("[fe80::1%eth0]"), host_port{"fe80::1%eth0", 7400});
  CHECK_EQ(parse("h:65535").port, 65535);
}

TEST_CASE("address: to_string round-trips") {
  for (auto text : {"10.0.0.1:7401", "[::1]:9000", "a_b.c-d:1"}) {
    auto x = parse_host_port(text, 7400);
    REQUIRE(x);
    CHECK_EQ(x->to_string(), text);
    CHECK_EQ(parse_host_port(x->to_string(), 1), x);
  }
}

TEST_CASE("address: rejected forms name the problem") {
  auto error = [](std::string_view text) {
    auto x = parse_host_port(text, 7400);
    REQUIRE_FALSE(x);
    CHECK(is(x.error(), errc::invalid_argument));
    return text_of(x.error());
  };
  CHECK_EQ(error("x:99999"), "bad address 'x:99999': port must be 1-65535");
  CHECK_EQ(error("x:0"), "bad address 'x:0': port must be 1-65535");
  CHECK_EQ(error("x:http"),
           "bad address 'x:http': port 'http' is not a number");
  CHECK_EQ(error("x:-1"), "bad address 'x:-1': port '-1' is not a number");
  CHECK_EQ(error("x:"), "bad address 'x:': missing port after ':'");
  CHECK_EQ(error(":7400"), "bad address ':7400': missing host");
  CHECK_EQ(error(""), "bad address '': missing host");
  CHECK_EQ(error("::1"),
           "bad address '::1': IPv6 addresses need brackets, e.g. "
           "'[::1]:7400'");
  CHECK_EQ(error("[::1"), "bad address '[::1': missing ']' after IPv6 address");
  CHECK_EQ(error("[::1]7400"),
           "bad address '[::1]7400': expected ':' after ']'");
  CHECK_EQ(error("[host]:1"),
           "bad address '[host]:1': not an IPv6 address inside '[...]'");
  CHECK(error("a b:1").find("host may only contain") != std::string::npos);
  CHECK(error(std::string(254, 'a')).find("longer than 253")
        != std::string::npos);
}

TEST_CASE("address: port zero only when allowed") {
  CHECK_FALSE(parse_host_port("h:0", 1));
  auto x = parse_host_port("h:0", 1, port_zero::allow);
  REQUIRE(x);
  CHECK_EQ(x->port, 0);
  auto no_default = parse_host_port("h", 0);
  REQUIRE_FALSE(no_default);
  CHECK_EQ(text_of(no_default.error()),
           "bad address 'h': missing port (expected HOST:PORT)");
}

TEST_CASE("address: lists") {
  auto xs = parse_host_port_list("a:1, b ,[::1]:3", 7400);
  REQUIRE(xs);
  CHECK_EQ(*xs, std::vector<host_port>{{"a", 1}, {"b", 7400}, {"::1", 3}});
  auto none = parse_host_port_list("  ", 7400);
  REQUIRE(none);
  CHECK(none->empty());
  auto empty_item = parse_host_port_list("a:1,,b:2", 7400);
  REQUIRE_FALSE(empty_item);
  CHECK_EQ(text_of(empty_item.error()),
           "bad address list 'a:1,,b:2': empty item");
  auto bad = parse_host_port_list("a:1,b:99999", 7400);
  REQUIRE_FALSE(bad);
  CHECK_EQ(text_of(bad.error()), "bad address 'b:99999': port must be 1-65535");
}

// -- config file syntax -----------------------------------------------------

TEST_CASE("config file: accepted TOML subset") {
  auto text = "\xEF\xBB\xBF# comment\r\n"
              "\n"
              "a = \"x # not a comment \\\" \\\\ \\n\"  # comment\n"
              "b = 'C:\\dir'\n"
              "c = 1_000\n"
              "d = -5\n"
              "e = true\n"
              "f = [ \"p\", 'q', ]\n"
              "g = []\n";
  auto entries = parse_config_text(text, "t.toml");
  REQUIRE_MESSAGE(entries, text_of(entries.error()));
  REQUIRE_EQ(entries->size(), 7u);
  auto& xs = *entries;
  CHECK_EQ(std::get<std::string>(xs[0].value), "x # not a comment \" \\ \n");
  CHECK_EQ(xs[0].line, 3);
  CHECK_EQ(std::get<std::string>(xs[1].value), "C:\\dir");
  CHECK_EQ(std::get<int64_t>(xs[2].value), 1000);
  CHECK_EQ(std::get<int64_t>(xs[3].value), -5);
  CHECK_EQ(std::get<bool>(xs[4].value), true);
  CHECK_EQ(std::get<std::vector<std::string>>(xs[5].value),
           std::vector<std::string>{"p", "q"});
  CHECK(std::get<std::vector<std::string>>(xs[6].value).empty());
}

TEST_CASE("config file: syntax errors carry file and line") {
  auto error = [](std::string_view text) {
    auto x = parse_config_text(text, "t.toml");
    REQUIRE_FALSE(x);
    return text_of(x.error());
  };
  CHECK_EQ(error("\n[node]\n"), "t.toml:2: tables ('[...]') are not "
                                "supported: all troupe keys are top-level");
  CHECK_EQ(error("a.b = 1"), "t.toml:1: dotted keys are not supported");
  CHECK_EQ(error("a = 1\na = 2"),
           "t.toml:2: duplicate key 'a' (first set on line 1)");
  CHECK_EQ(error("a = \"x"), "t.toml:1: unterminated string (strings must "
                             "end on the same line)");
  CHECK_EQ(error("a = [\"x\",\n\"y\"]"), "t.toml:1: unterminated array "
                                         "(arrays must end on the same line)");
  CHECK_EQ(error("a = 127.0.0.1:7400"),
           "t.toml:1: invalid value '127.0.0.1:7400' (strings need quotes, "
           "e.g. key = \"text\")");
  CHECK_EQ(error("a = 1.5"), "t.toml:1: invalid value '1.5' (strings need "
                             "quotes, e.g. key = \"text\")");
  CHECK_EQ(error("a = 007").substr(0, 27), "t.toml:1: invalid value '00");
  CHECK_EQ(error("a = \"x\" y"),
           "t.toml:1: unexpected text after the value: 'y'");
  CHECK_EQ(error("a"), "t.toml:1: expected '=' after key 'a'");
  CHECK_EQ(error("a ="), "t.toml:1: missing value");
  CHECK_EQ(error("a = \"\\u0041\""), "t.toml:1: unsupported escape '\\u'");
  CHECK_EQ(error("a = [1]"), "t.toml:1: arrays may only hold strings");
  CHECK_EQ(error("a = 99999999999999999999").substr(0, 25),
           "t.toml:1: invalid value '");
}

TEST_CASE("config file: toml_quote round-trips") {
  std::string tricky = "a \"b\" \\c\n\td\re #f 'g'";
  auto entries = parse_config_text("k = " + toml_quote(tricky), "t");
  REQUIRE(entries);
  CHECK_EQ(std::get<std::string>(entries->at(0).value), tricky);
}

// -- node config: defaults and precedence -----------------------------------

TEST_CASE("config: defaults") {
  auto out = load_node_config(args_list{}, env_map{});
  REQUIRE_MESSAGE(out.config, out.error);
  auto& cfg = *out.config;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  CHECK_EQ(cfg.node_id, host);
  CHECK_EQ(cfg.roles, std::vector<std::string>{"all"});
  CHECK_EQ(cfg.listen, host_port{"127.0.0.1", 7400});
  CHECK_EQ(cfg.advertise, host_port{"127.0.0.1", 7400});
  CHECK(cfg.seeds.empty());
  CHECK_EQ(cfg.data_dir, "./data");
  CHECK_EQ(cfg.admin_listen, host_port{"127.0.0.1", 7480});
  CHECK_EQ(cfg.config_file, "");
  CHECK_EQ(cfg.log_level, "info");
  CHECK_EQ(cfg.log_format, "text");
  CHECK_EQ(cfg.heartbeat_interval_ms, 500u);
  CHECK_EQ(cfg.connection_timeout_ms, 5000u);
  CHECK_EQ(cfg.mailbox_capacity, 10000u);
  CHECK_EQ(cfg.max_restarts, 3u);
  CHECK_EQ(cfg.restart_period_ms, 5000u);
  CHECK_EQ(cfg.raft_election_timeout_ms, 150u);
  CHECK_EQ(cfg.raft_heartbeat_interval_ms, 30u);
  CHECK_EQ(cfg.raft_snapshot_entries, 10000u);
  CHECK_EQ(cfg.tls_ca, "");
  CHECK_EQ(cfg.tls_cert, "");
  CHECK_EQ(cfg.tls_key, "");
  CHECK_FALSE(cfg.insecure);
  CHECK_EQ(cfg.edge.http_listen.to_string(), "127.0.0.1:8080");
  CHECK(cfg.edge.origins.empty());
  CHECK_EQ(cfg.edge.purge_token, "");
  CHECK_EQ(cfg.member_heartbeat_interval_ms, 100u);
  CHECK_EQ(cfg.member_down_after_ms, 600u);
  CHECK_EQ(cfg.origin.size(), 53u); // 52 settings plus "config"
  for (auto& [key, origin] : cfg.origin) {
    CAPTURE(key);
    CHECK_EQ(origin, "default");
  }
}

TEST_CASE("config: every precedence pair, for text, integer and list keys") {
  struct key_values {
    std::string key, env, file_value, env_value, flag_value;
    std::function<std::string(const node_config&)> get;
  };
  std::vector<key_values> keys{
    {"log-level", "TROUPE_LOG_LEVEL", "\"warn\"", "error", "debug",
     [](const node_config& c) { return c.log_level; }},
    {"heartbeat-interval-ms", "TROUPE_HEARTBEAT_INTERVAL_MS", "100", "200",
     "300",
     [](const node_config& c) {
       return std::to_string(c.heartbeat_interval_ms);
     }},
    {"seeds", "TROUPE_SEEDS", "[\"f:1\"]", "e:2", "g:3",
     [](const node_config& c) {
       return c.seeds.empty() ? std::string{} : c.seeds[0].to_string();
     }},
  };
  for (auto& k : keys) {
    auto file_seen = k.file_value.substr(k.file_value.find_first_not_of("[\""));
    file_seen = file_seen.substr(0, file_seen.find('"'));
    temp_file file{k.key + " = " + k.file_value + "\n"};
    // Each layer is present or not: 8 combinations, the highest one wins.
    for (int mask = 0; mask < 8; ++mask) {
      bool has_file = mask & 1, has_env = mask & 2, has_flag = mask & 4;
      CAPTURE(k.key);
      CAPTURE(mask);
      args_list args;
      env_map env;
      if (has_file)
        args.push_back("--config=" + file.path);
      if (has_env)
        env[k.env] = k.env_value;
      if (has_flag)
        args.push_back("--" + k.key + "=" + k.flag_value);
      auto cfg = load_ok(args, env);
      auto expected_origin = has_flag  ? "flag"
                             : has_env ? "env"
                             : has_file ? "file"
                                        : "default";
      CHECK_EQ(cfg.origin.at(k.key), expected_origin);
      auto expected = has_flag   ? k.flag_value
                      : has_env  ? k.env_value
                      : has_file ? file_seen
                                 : k.get(load_ok({}));
      CHECK_EQ(k.get(cfg), expected);
    }
  }
}

TEST_CASE("config: --config beats TROUPE_CONFIG, and origin says so") {
  temp_file a{"data-dir = \"/a\"\n"};
  temp_file b{"data-dir = \"/b\"\n"};
  auto from_env = load_ok({}, {{"TROUPE_CONFIG", a.path}});
  CHECK_EQ(from_env.data_dir, "/a");
  CHECK_EQ(from_env.config_file, a.path);
  CHECK_EQ(from_env.origin.at("config"), "env");
  auto from_flag = load_ok({"--config", b.path}, {{"TROUPE_CONFIG", a.path}});
  CHECK_EQ(from_flag.data_dir, "/b");
  CHECK_EQ(from_flag.origin.at("config"), "flag");
  CHECK_EQ(from_flag.origin.at("data-dir"), "file");
}

TEST_CASE("config: empty environment variables count as unset") {
  auto cfg = load_ok({}, {{"TROUPE_LOG_LEVEL", ""}, {"TROUPE_CONFIG", ""}});
  CHECK_EQ(cfg.log_level, "info");
  CHECK_EQ(cfg.origin.at("log-level"), "default");
  CHECK_EQ(cfg.config_file, "");
}

TEST_CASE("config: roles") {
  CHECK_EQ(load_ok({"--role", "cache, consensus,cache"}).roles,
           std::vector<std::string>{"cache", "consensus"});
  CHECK_EQ(load_ok({"--role", "edge,all"}).roles,
           std::vector<std::string>{"all"});
  temp_file file{"role = [\"edge\", \"dashboard\"]\n"};
  auto cfg = load_ok({"--config", file.path});
  CHECK_EQ(cfg.roles, std::vector<std::string>{"edge", "dashboard"});
  CHECK(has_role(cfg, "edge"));
  CHECK_FALSE(has_role(cfg, "cache"));
  CHECK(has_role(load_ok({}), "cache"));
  CHECK_EQ(known_roles().size(), 6u);
}

TEST_CASE("config: unknown role names the valid roles") {
  CHECK_EQ(load_error({"--role", "cache,bogus"}),
           "--role: unknown role 'bogus' (valid roles: edge, cache, "
           "consensus, analytics, scheduler, dashboard, all)");
  CHECK_EQ(load_error({}, {{"TROUPE_ROLE", "Edge"}}),
           "TROUPE_ROLE: unknown role 'Edge' (valid roles: edge, cache, "
           "consensus, analytics, scheduler, dashboard, all)");
  CHECK(load_error({"--role", "edge,,cache"}).starts_with(
    "--role: empty role in 'edge,,cache'"));
}

TEST_CASE("config: bad addresses name their source") {
  CHECK_EQ(load_error({"--listen", "x:99999"}),
           "--listen: bad address 'x:99999': port must be 1-65535");
  CHECK_EQ(load_error({}, {{"TROUPE_SEEDS", "a:1,::1"}}),
           "TROUPE_SEEDS: bad address '::1': IPv6 addresses need brackets, "
           "e.g. '[::1]:7400'");
  temp_file file{"# x\nadmin-listen = \"h:0\"\n"};
  CHECK_EQ(load_error({"--config", file.path}),
           file.path + ":2: admin-listen: bad address 'h:0': port must be "
                       "1-65535");
}

TEST_CASE("config: derived addresses") {
  auto cfg = load_ok({"--listen", "10.0.0.5:7500"});
  CHECK_EQ(cfg.advertise, host_port{"10.0.0.5", 7500});
  CHECK_EQ(cfg.admin_listen, host_port{"10.0.0.5", 7480});
  CHECK_EQ(cfg.origin.at("advertise"), "default");
  CHECK_EQ(cfg.origin.at("admin-listen"), "default");
  cfg = load_ok({"--listen", "0.0.0.0:7500", "--advertise", "node5",
                 "--admin-listen", "10.0.0.6"});
  CHECK_EQ(cfg.advertise, host_port{"node5", 7500});
  CHECK_EQ(cfg.admin_listen, host_port{"10.0.0.6", 7480});
  CHECK_EQ(load_ok({"--listen", "h"}).listen, host_port{"h", 7400});
  auto resp = resolve_listen_address(std::nullopt, cfg.listen, 6379);
  REQUIRE(resp);
  CHECK_EQ(*resp, host_port{"0.0.0.0", 6379});
  resp = resolve_listen_address(std::string{"h2"}, cfg.listen, 8080);
  REQUIRE(resp);
  CHECK_EQ(*resp, host_port{"h2", 8080});
}

TEST_CASE("config: a wildcard listen address needs --advertise") {
  CHECK_EQ(load_error({"--listen", "0.0.0.0"}),
           "advertise address 0.0.0.0:7400 is a wildcard that peers cannot "
           "connect to; set --advertise (it defaults to --listen)");
}

TEST_CASE("config: node id") {
  CHECK_EQ(load_ok({"--node-id", "n1.a_b-c"}).node_id, "n1.a_b-c");
  CHECK_EQ(load_ok({"--node-id", std::string(63, 'x')}).node_id.size(), 63u);
  for (const std::string& bad :
       {std::string{}, std::string{"-n1"}, std::string{"n 1"},
        std::string{"n/1"}, std::string(64, 'x')}) {
    CAPTURE(bad);
    CHECK(load_error({"--node-id", bad})
            .find("must match [A-Za-z0-9][A-Za-z0-9._-]{0,62}")
          != std::string::npos);
  }
}

TEST_CASE("config: integers, bounds and the timeout rule") {
  CHECK(load_error({"--mailbox-capacity", "lots"}) ==
        "--mailbox-capacity: expected an integer from 1 to 100000000, got "
        "'lots'");
  CHECK_EQ(load_error({"--max-restarts", "-1"}),
           "--max-restarts: expected an integer from 0 to 1000, got '-1'");
  CHECK_EQ(load_error({"--heartbeat-interval-ms", "5"}),
           "--heartbeat-interval-ms: expected an integer from 10 to 60000, "
           "got '5'");
  CHECK_EQ(load_error({"--connection-timeout-ms", "1000"}),
           "connection-timeout-ms 1000 (flag) must exceed twice "
           "heartbeat-interval-ms 500 (default)");
  CHECK_EQ(load_ok({"--connection-timeout-ms", "1001"}).connection_timeout_ms,
           1001u);
  CHECK_EQ(load_ok({"--max-restarts", "0"}).max_restarts, 0u);
}

TEST_CASE("config: log level and format are validated") {
  CHECK_EQ(load_error({"--log-level", "verbose"}),
           "--log-level: unknown value 'verbose' (valid values: trace, "
           "debug, info, warn, error, off)");
  CHECK_EQ(load_error({}, {{"TROUPE_LOG_FORMAT", "xml"}}),
           "TROUPE_LOG_FORMAT: unknown value 'xml' (valid values: text, "
           "json)");
}

// -- node config: files -----------------------------------------------------

TEST_CASE("config: unreadable config file") {
  CHECK_EQ(load_error({"--config", "/nonexistent/x.toml"}),
           "cannot read config file '/nonexistent/x.toml': No such file or "
           "directory");
  CHECK_EQ(load_error({}, {{"TROUPE_CONFIG", "/nonexistent/y.toml"}}),
           "cannot read config file '/nonexistent/y.toml': No such file or "
           "directory");
  auto dir = std::filesystem::temp_directory_path().string();
  CHECK_EQ(load_error({"--config", dir}),
           "cannot read config file '" + dir + "': Is a directory");
}

TEST_CASE("config: unknown key in file gives the line") {
  temp_file file{"listen = \"h:1\"\n\nlisten-port = 7400\n"};
  CHECK_EQ(load_error({"--config", file.path}),
           file.path + ":3: unknown key 'listen-port' (valid keys: node-id, "
                       "role, listen, advertise, seeds, data-dir, "
                       "admin-listen, log-level, log-format, "
                       "heartbeat-interval-ms, connection-timeout-ms, "
                       "mailbox-capacity, max-restarts, restart-period-ms, "
                       "raft-election-timeout-ms, raft-heartbeat-interval-ms, "
                       "raft-snapshot-entries, tls-ca, tls-cert, tls-key, "
                       "insecure, http-listen, origin, edge-threads, "
                       "edge-cache-bytes, edge-max-object-bytes, edge-max-body-bytes, "
                       "edge-connect-timeout-ms, edge-origin-timeout-ms, "
                       "edge-health-interval-ms, edge-health-path, edge-breaker-failures, "
                       "edge-breaker-open-ms, edge-rate-limit, edge-rate-burst, "
                       "edge-stale-grace-ms, edge-purge-token, member-heartbeat-interval-ms, "
                       "member-down-after-ms, resp-listen, cache-max-memory, "
                       "proto-max-bulk-len, cache-output-buffer-limit, "
                       "cache-max-clients, cache-proxy, cache-repl-backlog, "
                       "cache-io-threads, bind-source, "
                       "enable-fault-injection, labels, dashboard-token, "
                       "dashboard-allow-origin)");
  temp_file typo{"lisen = \"h:1\"\n"};
  CHECK_EQ(load_error({"--config", typo.path}),
           typo.path + ":1: unknown key 'lisen' (did you mean 'listen'?)");
  temp_file nested{"config = \"other.toml\"\n"};
  CHECK(load_error({"--config", nested.path}).starts_with(
    nested.path + ":1: unknown key 'config'"));
}

TEST_CASE("config: wrong value type in file names key and file") {
  temp_file a{"heartbeat-interval-ms = \"500\"\n"};
  CHECK_EQ(load_error({"--config", a.path}),
           a.path + ":1: key 'heartbeat-interval-ms' must be an integer, "
                    "not a string");
  temp_file b{"listen = 7400\n"};
  CHECK_EQ(load_error({"--config", b.path}),
           b.path + ":1: key 'listen' must be a string, not an integer");
  temp_file c{"seeds = true\n"};
  CHECK_EQ(load_error({"--config", c.path}),
           c.path + ":1: key 'seeds' must be an array of strings or a comma "
                    "list string, not a boolean");
}

TEST_CASE("config: the sample deploy/troupe.toml loads and mirrors defaults") {
  auto path = sample_config_path();
  auto cfg = load_ok({"--config", path});
  CHECK(same_settings(cfg, load_ok({})));
  CHECK_EQ(cfg.origin.at("listen"), "file");
  CHECK_EQ(cfg.origin.at("mailbox-capacity"), "file");
}

// -- node config: command line ----------------------------------------------

TEST_CASE("config: --help, --version and bad flags") {
  auto help = load({"--help"});
  CHECK_FALSE(help.config);
  CHECK_EQ(help.exit_code, 0);
  CHECK(help.output.find("--heartbeat-interval-ms") != std::string::npos);
  CHECK(help.output.find("Precedence") != std::string::npos);
  auto version = load({"--version"});
  CHECK_EQ(version.exit_code, 0);
  CHECK_EQ(version.output, "0.1.0\n");
  CHECK(load_error({"--bogus"}).find("--bogus") != std::string::npos);
  CHECK(load_error({"stray"}).find("stray") != std::string::npos);
  CHECK(load_error({"--listen"}).find("--listen") != std::string::npos);
}

TEST_CASE("config: argc/argv entry point") {
  const char* argv[] = {"troupe-node", "--node-id=a1", "--role", "cache"};
  auto out = load_node_config(4, argv, env_map{});
  REQUIRE_MESSAGE(out.config, out.error);
  CHECK_EQ(out.config->node_id, "a1");
  CHECK_EQ(out.config->roles, std::vector<std::string>{"cache"});
}

// -- dump -------------------------------------------------------------------

TEST_CASE("config: --dump-config prints TOML with origins and exits 0") {
  temp_file file{"max-restarts = 7\n"};
  auto out = load({"--dump-config", "--config", file.path, "--listen", "h:9"},
                  {{"TROUPE_LOG_LEVEL", "debug"}});
  CHECK_FALSE(out.config);
  CHECK_EQ(out.exit_code, 0);
  CHECK(out.error.empty());
  auto& text = out.output;
  CHECK(text.find("listen = \"h:9\"  # flag --listen\n") != std::string::npos);
  CHECK(text.find("log-level = \"debug\"  # env TROUPE_LOG_LEVEL\n")
        != std::string::npos);
  CHECK(text.find("max-restarts = 7  # file\n") != std::string::npos);
  CHECK(text.find("data-dir = \"./data\"  # default\n") != std::string::npos);
  CHECK(text.find("# config file: " + file.path) != std::string::npos);
}

TEST_CASE("config: dump round trip gives the same effective config") {
  temp_file file{"seeds = \"a:1, [::1]:2\"\nmax-restarts = 9\n"};
  auto original = load_ok({"--config", file.path, "--role", "edge,cache",
                           "--listen", "0.0.0.0:7000", "--advertise", "n7",
                           "--data-dir", "/var/lib/\"troupe\"\\x",
                           "--log-format", "json"},
                          {{"TROUPE_NODE_ID", "n7"},
                           {"TROUPE_CONNECTION_TIMEOUT_MS", "9000"}});
  temp_file dumped{dump_config(original)};
  auto again = load_node_config(args_list{"--config", dumped.path}, env_map{});
  REQUIRE_MESSAGE(again.config, again.error);
  CHECK(same_settings(original, *again.config));
  for (auto& [key, origin] : again.config->origin)
    if (key != "config") {
      CAPTURE(key);
      CHECK_EQ(origin, "file");
    }
  // And the reloaded config dumps the same values, apart from comments.
  CHECK_EQ(without_comments(dump_config(*again.config)),
           without_comments(dump_config(original)));
}

TEST_CASE("config: the raft heartbeat must stay below a third of the election timeout") {
  CHECK_EQ(load_error({"--raft-election-timeout-ms", "90", "--raft-heartbeat-interval-ms", "40"}),
           "raft-heartbeat-interval-ms 40 must be below a third of raft-election-timeout-ms 90");
  auto ok = load_node_config(std::vector<std::string>{"--raft-election-timeout-ms", "300",
                                                      "--raft-heartbeat-interval-ms", "100"},
                             {});
  REQUIRE(ok.config);
  CHECK_EQ(ok.config->raft_election_timeout_ms, 300u);
  CHECK(load_error({"--raft-snapshot-entries", "5"}).find("from 10 to 100000000") != std::string::npos);
}

TEST_CASE("config: TLS files and --insecure, from every layer") {
  auto cfg = load_ok({"--tls-ca", "/c.pem", "--tls-cert", "/n.pem", "--tls-key", "/n.key"});
  CHECK_EQ(cfg.tls_ca, "/c.pem");
  CHECK_EQ(cfg.tls_cert, "/n.pem");
  CHECK_EQ(cfg.tls_key, "/n.key");
  CHECK_FALSE(cfg.insecure);
  CHECK_EQ(cfg.origin.at("tls-cert"), "flag");
  CHECK(load_ok({"--insecure"}).insecure);
  CHECK_EQ(load_ok({"--insecure"}).origin.at("insecure"), "flag");
  auto env = load_node_config(args_list{}, env_map{{"TROUPE_INSECURE", "yes"},
                                                   {"TROUPE_TLS_CA", "/e.pem"}});
  REQUIRE(env.config);
  CHECK(env.config->insecure);
  CHECK_EQ(env.config->tls_ca, "/e.pem");
  temp_file file{"insecure = true\ntls-key = \"/f.key\"\n"};
  auto from_file = load_ok({"--config", file.path});
  CHECK(from_file.insecure);
  CHECK_EQ(from_file.tls_key, "/f.key");
  auto bad = load_node_config(args_list{}, env_map{{"TROUPE_INSECURE", "maybe"}});
  CHECK_FALSE(bad.config);
  CHECK_EQ(bad.error, "TROUPE_INSECURE: expected true or false, got 'maybe'");
  temp_file wrong{"insecure = 1\n"};
  auto typed = load_node_config(args_list{"--config", wrong.path}, env_map{});
  CHECK_FALSE(typed.config);
  CHECK(typed.error.find("key 'insecure' must be a boolean") != std::string::npos);
}

TEST_CASE("config: edge settings") {
  auto cfg = load_ok({"--listen", "10.0.0.5:7400", "--origin", "http://o1:81", "--origin",
                      "http://o2,http://o3:82/", "--edge-rate-limit", "50"});
  CHECK_EQ(cfg.edge.http_listen.to_string(), "10.0.0.5:8080"); // follows --listen's host
  REQUIRE_EQ(cfg.edge.origins.size(), 3u);
  CHECK_EQ(cfg.edge.origins[0].to_string(), "o1:81");
  CHECK_EQ(cfg.edge.origins[1].to_string(), "o2:80");
  CHECK_EQ(cfg.edge.origins[2].to_string(), "o3:82");
  CHECK_EQ(cfg.edge.rate_limit_rps, 50u);
  CHECK_EQ(cfg.origin.at("origin"), "flag");
  CHECK(load_error({"--origin", "https://o1"}).find("https origins are not supported yet")
        != std::string::npos);
  CHECK(load_error({"--origin", "o1:80"}).find("must look like http://HOST[:PORT]")
        != std::string::npos);
  CHECK(load_error({"--origin", "http://o1/path"}).find("a path is not supported")
        != std::string::npos);
  CHECK(load_error({"--edge-health-path", "nope"}).find("must start with /") != std::string::npos);
  CHECK(load_error({"--edge-breaker-failures", "0"}).find("from 1 to 1000") != std::string::npos);
}

TEST_CASE("config: the membership lease must span at least four heartbeats") {
  CHECK_EQ(load_error({"--member-down-after-ms", "300", "--member-heartbeat-interval-ms", "100"}),
           "member-down-after-ms 300 must be at least 4x member-heartbeat-interval-ms 100");
  auto ok = load_node_config(std::vector<std::string>{"--member-down-after-ms", "2000",
                                                      "--member-heartbeat-interval-ms", "250"},
                             {});
  REQUIRE(ok.config);
  CHECK_EQ(ok.config->member_down_after_ms, 2000u);
}

TEST_CASE("config: cache settings take Redis's memory units and have bounds") {
  auto cfg = load_ok({"--listen", "10.0.0.5:7400"});
  CHECK_EQ(cfg.resp_listen.to_string(), "10.0.0.5:6379");
  CHECK_EQ(cfg.cache_max_memory_bytes, uint64_t{1} << 30);
  CHECK_EQ(cfg.proto_max_bulk_len, uint64_t{512} << 20);
  auto set = load_ok({"--cache-max-memory", "100mb", "--proto-max-bulk-len", "2m",
                      "--resp-listen", "127.0.0.9", "--cache-io-threads", "3"});
  CHECK_EQ(set.cache_max_memory_bytes, uint64_t{100} << 20);
  CHECK_EQ(set.proto_max_bulk_len, 2'000'000u);
  CHECK_EQ(set.resp_listen.to_string(), "127.0.0.9:6379");
  CHECK_EQ(set.cache_io_threads, 3u);
  CHECK(load_error({"--cache-max-memory", "12parsecs"}).find("--cache-max-memory") == 0);
  CHECK(load_error({"--proto-max-bulk-len", "1kb"}).find("expected a size from") != std::string::npos);
}
