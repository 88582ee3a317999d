// Connection and server commands: PING, ECHO, SELECT, QUIT, HELLO, AUTH,
// CLIENT, INFO, CONFIG, COMMAND, TIME, CLUSTER KEYSLOT. Replies and error
// texts as Redis 7.0; troupe reports redis_version 7.0.0, the Redis release
// whose commands it follows (docs/cache.md).
#include "actors/cache/engine.hpp"

#include "actors/cache/slot.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace troupe::cache {

namespace {

constexpr const char* compat_version = "7.0.0";

void ping_cmd(command_ctx& c) {
  if (c.argc() > 2) {
    c.out.error(arity_error("ping"));
    return;
  }
  if (c.argc() == 2)
    c.out.bulk(c.arg(1));
  else
    c.out.simple("PONG");
}

void echo_cmd(command_ctx& c) {
  c.out.bulk(c.arg(1));
}

void select_cmd(command_ctx& c) {
  int64_t db = 0;
  if (!parse_int(c.arg(1), db)) {
    c.out.error(err::not_integer);
    return;
  }
  if (db != 0) {
    c.out.error("ERR DB index is out of range");
    return;
  }
  c.out.ok();
}

void quit_cmd(command_ctx& c) {
  c.client.close_after_reply = true;
  c.out.ok();
}

void auth_cmd(command_ctx& c) {
  if (c.argc() > 3) {
    c.out.error(err::syntax);
    return;
  }
  c.out.error("ERR AUTH <password> called without any password configured for the "
              "default user. Are you sure your configuration is correct?");
}

bool valid_client_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char ch) { return ch > ' ' && ch <= '~'; });
}

void hello_reply(command_ctx& c) {
  c.out.map(7);
  c.out.bulk("server");
  c.out.bulk("redis");
  c.out.bulk("version");
  c.out.bulk(compat_version);
  c.out.bulk("proto");
  c.out.integer(c.client.protocol);
  c.out.bulk("id");
  c.out.integer(static_cast<int64_t>(c.client.id));
  c.out.bulk("mode");
  c.out.bulk("standalone");
  c.out.bulk("role");
  c.out.bulk("master");
  c.out.bulk("modules");
  c.out.array(0);
}

void hello_cmd(command_ctx& c) {
  int64_t proto = c.client.protocol;
  size_t i = 1;
  if (c.argc() >= 2) {
    if (!parse_int(c.arg(1), proto)) {
      c.out.error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (proto != 2 && proto != 3) {
      c.out.error("NOPROTO unsupported protocol version");
      return;
    }
    i = 2;
  }
  std::string_view name;
  bool set_name = false;
  for (; i < c.argc(); ++i) {
    bool more = c.argc() - i - 1;
    if (iequals(c.arg(i), "AUTH") && c.argc() - i - 1 >= 2) {
      i += 2; // no passwords are configured: any credentials pass, as Redis's nopass user
    } else if (iequals(c.arg(i), "SETNAME") && more) {
      name = c.arg(++i);
      set_name = true;
    } else {
      c.out.error("ERR Syntax error in HELLO option '" + std::string{c.arg(i)} + "'");
      return;
    }
  }
  if (set_name && !valid_client_name(name)) {
    c.out.error("ERR Client names cannot contain spaces, newlines or special characters.");
    return;
  }
  if (set_name)
    c.client.name = name;
  c.client.protocol = static_cast<int>(proto);
  c.out.set_protocol(c.client.protocol);
  hello_reply(c);
}

std::string client_info_line(command_ctx& c) {
  auto age = (c.now_ms - c.client.connected_ms) / 1000;
  return "id=" + std::to_string(c.client.id) + " addr=" + c.client.addr
         + " name=" + c.client.name + " age=" + std::to_string(age)
         + " db=0 resp=" + std::to_string(c.client.protocol) + " cmd=client|info\n";
}

void client_cmd(command_ctx& c) {
  auto sub = c.arg(1);
  if (iequals(sub, "ID") && c.argc() == 2) {
    c.out.integer(static_cast<int64_t>(c.client.id));
  } else if (iequals(sub, "GETNAME") && c.argc() == 2) {
    c.client.name.empty() ? c.out.null() : c.out.bulk(c.client.name);
  } else if (iequals(sub, "SETNAME") && c.argc() == 3) {
    if (!valid_client_name(c.arg(2))) {
      c.out.error("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    c.client.name = c.arg(2);
    c.out.ok();
  } else if (iequals(sub, "INFO") && c.argc() == 2) {
    c.out.verbatim(client_info_line(c));
  } else if (iequals(sub, "SETINFO") && c.argc() == 4) {
    c.out.ok();
  } else if (iequals(sub, "ID") || iequals(sub, "GETNAME") || iequals(sub, "SETNAME")
             || iequals(sub, "INFO") || iequals(sub, "SETINFO")) {
    std::string lower{sub};
    for (auto& ch : lower)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.out.error(arity_error("client|" + lower));
  } else {
    c.out.error("ERR unknown subcommand '" + std::string{sub.substr(0, 128)}
                + "'. Try CLIENT HELP.");
  }
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n < 1024)
    std::snprintf(buf, sizeof(buf), "%lluB", static_cast<unsigned long long>(n));
  else if (n < (1u << 20))
    std::snprintf(buf, sizeof(buf), "%.2fK", n / 1024.0);
  else if (n < (1u << 30))
    std::snprintf(buf, sizeof(buf), "%.2fM", n / 1048576.0);
  else
    std::snprintf(buf, sizeof(buf), "%.2fG", n / 1073741824.0);
  return buf;
}

std::string kv(std::string_view k, const std::string& v) {
  return std::string{k} + ":" + v + "\r\n";
}

std::string kv(std::string_view k, uint64_t v) {
  return kv(k, std::to_string(v));
}

std::string info_section(command_ctx& c, std::string_view name, const keyspace_totals& t) {
  auto& cnt = c.eng.counters();
  auto& cfg = c.eng.config();
  if (name == "server")
    return "# Server\r\n" + kv("redis_version", std::string{compat_version})
           + kv("troupe_node", cfg.node_id) + kv("redis_mode", std::string{"standalone"})
           + kv("arch_bits", uint64_t{64}) + kv("multiplexing_api", std::string{"epoll"})
           + kv("process_id", static_cast<uint64_t>(::getpid()))
           + kv("tcp_port", uint64_t{cfg.port}) + kv("io_threads_active", uint64_t{cfg.io_threads})
           + kv("uptime_in_seconds", static_cast<uint64_t>((c.now_ms - c.eng.started_ms()) / 1000))
           + kv("hz", uint64_t{10});
  if (name == "clients")
    return "# Clients\r\n" + kv("connected_clients", cnt.connected_clients.load())
           + kv("maxclients", cfg.max_clients) + kv("blocked_clients", uint64_t{0});
  if (name == "memory")
    return "# Memory\r\n" + kv("used_memory", t.used_bytes)
           + kv("used_memory_human", human_bytes(t.used_bytes))
           + kv("maxmemory", cfg.max_memory_bytes)
           + kv("maxmemory_human", human_bytes(cfg.max_memory_bytes))
           + kv("maxmemory_policy", std::string{"allkeys-s3fifo"});
  if (name == "stats")
    return "# Stats\r\n" + kv("total_connections_received", cnt.total_connections.load())
           + kv("total_commands_processed", cnt.total_commands.load())
           + kv("rejected_connections", cnt.rejected_connections.load())
           + kv("expired_keys", t.expired) + kv("evicted_keys", t.evicted)
           + kv("keyspace_hits", t.hits) + kv("keyspace_misses", t.misses)
           + kv("client_output_buffer_limit_disconnections", cnt.output_limit_disconnects.load())
           + kv("total_error_replies_protocol", cnt.protocol_errors.load());
  if (name == "replication")
    return "# Replication\r\n" + kv("role", std::string{"master"})
           + kv("connected_slaves", uint64_t{0}) + kv("master_repl_offset", uint64_t{0});
  if (name == "cluster")
    return "# Cluster\r\n"
           + kv("cluster_enabled", uint64_t{c.eng.cluster_enabled && c.eng.cluster_enabled()});
  if (name == "keyspace") {
    std::string out = "# Keyspace\r\n";
    if (t.keys > 0)
      out += "db0:keys=" + std::to_string(t.keys) + ",expires=" + std::to_string(t.expires)
             + ",avg_ttl=0\r\n";
    return out;
  }
  return {};
}

void info_cmd(command_ctx& c) {
  static const std::vector<std::string> all
    = {"server", "clients", "memory", "stats", "replication", "cluster", "keyspace"};
  std::vector<std::string> wanted;
  for (size_t i = 1; i < c.argc(); ++i) {
    std::string s{c.arg(i)};
    for (auto& ch : s)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (s == "all" || s == "default" || s == "everything")
      wanted = all;
    else if (std::find(wanted.begin(), wanted.end(), s) == wanted.end())
      wanted.push_back(s);
  }
  if (wanted.empty())
    wanted = all;
  auto t = c.eng.served_totals ? c.eng.served_totals() : c.eng.totals();
  std::string text;
  for (auto& s : wanted) {
    auto section = info_section(c, s, t);
    if (section.empty())
      continue;
    if (!text.empty())
      text += "\r\n";
    text += section;
  }
  c.out.verbatim(text);
}

std::vector<std::pair<std::string, std::string>> config_params(const engine_config& cfg) {
  return {{"save", ""},
          {"appendonly", "no"},
          {"maxmemory", std::to_string(cfg.max_memory_bytes)},
          {"maxmemory-policy", "allkeys-s3fifo"},
          {"proto-max-bulk-len", std::to_string(cfg.proto_max_bulk_len)},
          {"maxclients", std::to_string(cfg.max_clients)},
          {"port", std::to_string(cfg.port)},
          {"databases", "1"},
          {"timeout", "0"},
          {"hz", "10"},
          {"io-threads", std::to_string(cfg.io_threads)},
          {"cluster-enabled", "no"},
          {"client-output-buffer-limit",
           "normal " + std::to_string(cfg.output_buffer_limit_bytes) + " 0 0"}};
}

void config_cmd(command_ctx& c) {
  auto sub = c.arg(1);
  if (iequals(sub, "GET")) {
    if (c.argc() < 3) {
      c.out.error(arity_error("config|get"));
      return;
    }
    std::vector<std::pair<std::string, std::string>> found;
    for (auto& [k, v] : config_params(c.eng.config()))
      for (size_t i = 2; i < c.argc(); ++i)
        if (glob_match(c.arg(i), k, true)) {
          found.emplace_back(k, v);
          break;
        }
    c.out.map(found.size());
    for (auto& [k, v] : found) {
      c.out.bulk(k);
      c.out.bulk(v);
    }
  } else if (iequals(sub, "RESETSTAT") && c.argc() == 2) {
    c.eng.reset_stats();
    c.out.ok();
  } else if (iequals(sub, "SET")) {
    c.out.error("ERR CONFIG SET is not supported: troupe's cache settings are node flags "
                "(--cache-max-memory, --proto-max-bulk-len; docs/configuration.md)");
  } else {
    c.out.error("ERR unknown subcommand '" + std::string{sub.substr(0, 128)}
                + "'. Try CONFIG HELP.");
  }
}

void command_info(command_ctx& c, const command_def& d) {
  c.out.array(10);
  c.out.bulk(d.name);
  c.out.integer(d.arity);
  size_t n = d.flags.empty() ? 0 : std::count(d.flags.begin(), d.flags.end(), ',') + 1;
  c.out.set(n);
  for (size_t pos = 0; n > 0 && pos <= d.flags.size();) {
    auto comma = std::min(d.flags.find(',', pos), d.flags.size());
    c.out.simple(std::string_view{d.flags}.substr(pos, comma - pos));
    pos = comma + 1;
  }
  c.out.integer(d.first_key);
  c.out.integer(d.last_key);
  c.out.integer(d.step);
  c.out.set(0);   // ACL categories
  c.out.set(0);   // tips
  c.out.array(0); // key specs
  c.out.array(0); // subcommands
}

const command_def* find_command(command_ctx& c, std::string_view name) {
  std::string lower{name};
  for (auto& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto it = c.eng.commands().find(lower);
  return it == c.eng.commands().end() ? nullptr : &it->second;
}

void command_docs(command_ctx& c) {
  std::vector<const command_def*> defs;
  if (c.argc() == 2)
    for (auto& [name, d] : c.eng.commands())
      defs.push_back(&d);
  for (size_t i = 2; i < c.argc(); ++i)
    if (auto* d = find_command(c, c.arg(i)))
      defs.push_back(d);
  c.out.map(defs.size());
  for (auto* d : defs) {
    c.out.bulk(d->name);
    c.out.map(2);
    c.out.bulk("summary");
    c.out.bulk("served by troupe's cache");
    c.out.bulk("group");
    c.out.bulk("generic");
  }
}

void command_cmd(command_ctx& c) {
  auto& table = c.eng.commands();
  if (c.argc() == 1) {
    c.out.array(table.size());
    for (auto& [name, d] : table)
      command_info(c, d);
  } else if (iequals(c.arg(1), "COUNT") && c.argc() == 2) {
    c.out.integer(static_cast<int64_t>(table.size()));
  } else if (iequals(c.arg(1), "INFO")) {
    c.out.array(c.argc() - 2);
    for (size_t i = 2; i < c.argc(); ++i)
      if (auto* d = find_command(c, c.arg(i)))
        command_info(c, *d);
      else
        c.out.null_array();
  } else if (iequals(c.arg(1), "DOCS")) {
    command_docs(c);
  } else if (iequals(c.arg(1), "LIST") && c.argc() == 2) {
    c.out.array(table.size());
    for (auto& [name, d] : table)
      c.out.bulk(name);
  } else {
    c.out.error("ERR unknown subcommand '" + std::string{c.arg(1).substr(0, 128)}
                + "'. Try COMMAND HELP.");
  }
}

void time_cmd(command_ctx& c) {
  c.out.array(2);
  c.out.bulk(std::to_string(c.now_ms / 1000));
  c.out.bulk(std::to_string((c.now_ms % 1000) * 1000));
}

void cluster_cmd(command_ctx& c) {
  if (iequals(c.arg(1), "KEYSLOT")) {
    if (c.argc() != 3) {
      c.out.error(arity_error("cluster|keyslot"));
      return;
    }
    c.out.integer(key_slot(c.arg(2)));
    return;
  }
  if (c.eng.cluster_hook) {
    c.eng.cluster_hook(c);
    return;
  }
  c.out.error("ERR This instance has cluster support disabled");
}

// The cluster's connection-level commands: troupe has no replica reads and
// no slot migration yet, so these only keep cluster clients' handshakes
// working (redis-py sends READONLY with read_from_replicas).
void ok_cmd(command_ctx& c) {
  c.out.ok();
}

// WAIT is answered by the connection (it waits without holding its
// thread, cluster.hpp); this entry gives COMMAND and arity checks.
void wait_cmd(command_ctx& c) {
  c.out.integer(0);
}

void add(command_table& t, std::string name, int arity, std::string flags, int first,
         int last, int step, command_handler fn) {
  t[name] = command_def{name, arity, std::move(flags), first, last, step, fn};
}

} // namespace

void register_server_commands(command_table& t) {
  add(t, "ping", -1, "fast", 0, 0, 0, ping_cmd);
  add(t, "echo", 2, "fast", 0, 0, 0, echo_cmd);
  add(t, "select", 2, "loading,stale,fast", 0, 0, 0, select_cmd);
  add(t, "quit", -1, "fast", 0, 0, 0, quit_cmd);
  add(t, "auth", -2, "noscript,loading,stale,fast", 0, 0, 0, auth_cmd);
  add(t, "hello", -1, "noscript,loading,stale,fast", 0, 0, 0, hello_cmd);
  add(t, "client", -2, "admin,noscript,loading,stale", 0, 0, 0, client_cmd);
  add(t, "info", -1, "loading,stale", 0, 0, 0, info_cmd);
  add(t, "config", -2, "admin,noscript,loading,stale", 0, 0, 0, config_cmd);
  add(t, "command", -1, "loading,stale", 0, 0, 0, command_cmd);
  add(t, "time", 1, "loading,stale,fast", 0, 0, 0, time_cmd);
  add(t, "cluster", -2, "", 0, 0, 0, cluster_cmd);
  add(t, "readonly", 1, "loading,stale,fast", 0, 0, 0, ok_cmd);
  add(t, "readwrite", 1, "loading,stale,fast", 0, 0, 0, ok_cmd);
  add(t, "asking", 1, "fast", 0, 0, 0, ok_cmd);
  add(t, "wait", 3, "noscript", 0, 0, 0, wait_cmd);
}

} // namespace troupe::cache
