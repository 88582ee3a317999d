#include "cli/cache_commands.hpp"

#include "net/address.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace troupe::cli {

namespace {

// One RESP reply, as far as troupectl needs it.
struct reply {
  char type = 0; // + - : $ * _ (null)
  std::string text;
  int64_t number = 0;
  std::vector<reply> items;
};

class resp_conn {
public:
  ~resp_conn() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  std::string open(const std::string& endpoint, uint32_t timeout_ms) {
    timeout_ms_ = static_cast<int>(timeout_ms);
    auto hp = parse_host_port(endpoint, 6379);
    if (!hp)
      return "bad --resp address '" + endpoint + "'";
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(hp->host.c_str(), std::to_string(hp->port).c_str(), &hints, &res) != 0)
      return "cannot resolve " + hp->host;
    fd_ = ::socket(res->ai_family, SOCK_STREAM, 0);
    int rc = ::connect(fd_, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0)
      return "cannot connect to the cache at " + endpoint + ": " + std::strerror(errno);
    return {};
  }

  bool send(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (auto& a : args)
      out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  }

  // Reads one reply; false on EOF, timeout or a malformed reply.
  bool read(reply& r, int depth = 0) {
    std::string line;
    if (depth > 8 || !read_line(line) || line.empty())
      return false;
    r.type = line[0];
    r.text = line.substr(1);
    if (r.type == '+' || r.type == '-')
      return true;
    if (r.type == '_')
      return true;
    r.number = std::strtoll(r.text.c_str(), nullptr, 10);
    if (r.type == ':')
      return true;
    if (r.type == '$') {
      if (r.number < 0) {
        r.type = '_';
        return true;
      }
      std::string data;
      if (!read_bytes(static_cast<size_t>(r.number) + 2, data))
        return false;
      r.text = data.substr(0, static_cast<size_t>(r.number));
      return true;
    }
    if (r.type == '*' || r.type == '%' || r.type == '~') {
      if (r.number < 0) {
        r.type = '_';
        return true;
      }
      auto n = r.number * (r.type == '%' ? 2 : 1);
      r.items.resize(static_cast<size_t>(std::min<int64_t>(n, 1 << 20)));
      for (auto& item : r.items)
        if (!read(item, depth + 1))
          return false;
      r.type = '*';
      return true;
    }
    return false;
  }

private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms_) <= 0)
      return false;
    char buf[16384];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      return false;
    buf_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool read_line(std::string& line) {
    size_t pos;
    while ((pos = buf_.find("\r\n")) == std::string::npos)
      if (!fill())
        return false;
    line = buf_.substr(0, pos);
    buf_.erase(0, pos + 2);
    return true;
  }
  bool read_bytes(size_t n, std::string& out) {
    while (buf_.size() < n)
      if (!fill())
        return false;
    out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }
  int fd_ = -1;
  int timeout_ms_ = 10000;
  std::string buf_;
};

struct cache_args {
  std::string resp;
  std::vector<std::string> words;
};

// Runs one command; prints an error and returns its exit code on failure.
int call(const cache_args& a, const options& opts, const std::vector<std::string>& cmd,
         reply& r) {
  resp_conn conn;
  if (auto err = conn.open(a.resp, opts.timeout_ms); !err.empty())
    return fail({exit_unreachable, err});
  if (!conn.send(cmd) || !conn.read(r))
    return fail({exit_unreachable, "no reply from the cache at " + a.resp});
  if (r.type == '-')
    return fail({exit_failed, r.text});
  return exit_ok;
}

std::string resp_default() {
  const char* env = std::getenv("TROUPECTL_RESP");
  return env && *env ? env : "127.0.0.1:6379";
}

void print(const options& opts, const nlohmann::json& j, const std::string& table) {
  std::fputs(opts.json() ? (j.dump() + "\n").c_str() : table.c_str(), stdout);
}

int run_get(const cache_args& a, const options& opts) {
  reply r;
  if (int rc = call(a, opts, {"GET", a.words[0]}, r))
    return rc;
  bool found = r.type == '$';
  print(opts, {{"key", a.words[0]}, {"found", found}, {"value", found ? r.text : ""}},
        found ? r.text + "\n" : "(nil)\n");
  return found ? exit_ok : exit_failed;
}

int run_set(const cache_args& a, const options& opts, uint64_t ttl_ms) {
  std::vector<std::string> cmd{"SET", a.words[0], a.words[1]};
  if (ttl_ms > 0) {
    cmd.push_back("PX");
    cmd.push_back(std::to_string(ttl_ms));
  }
  reply r;
  if (int rc = call(a, opts, cmd, r))
    return rc;
  print(opts, {{"key", a.words[0]}, {"result", r.text}}, r.text + "\n");
  return exit_ok;
}

int run_del(const cache_args& a, const options& opts) {
  std::vector<std::string> cmd{"DEL"};
  cmd.insert(cmd.end(), a.words.begin(), a.words.end());
  reply r;
  if (int rc = call(a, opts, cmd, r))
    return rc;
  print(opts, {{"deleted", r.number}}, std::to_string(r.number) + "\n");
  return exit_ok;
}

int run_stats(const cache_args& a, const options& opts) {
  reply r;
  if (int rc = call(a, opts, {"INFO"}, r))
    return rc;
  static const char* fields[]
    = {"troupe_node", "connected_clients", "used_memory", "maxmemory", "keyspace_hits",
       "keyspace_misses", "evicted_keys", "expired_keys", "total_commands_processed",
       "client_output_buffer_limit_disconnections", "db0"};
  nlohmann::json j = nlohmann::json::object();
  std::string table;
  size_t pos = 0;
  while (pos < r.text.size()) {
    auto end = r.text.find("\r\n", pos);
    auto line = r.text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? r.text.size() : end + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    auto key = line.substr(0, colon), value = line.substr(colon + 1);
    for (auto* f : fields)
      if (key == f) {
        char* tail = nullptr;
        auto num = std::strtoll(value.c_str(), &tail, 10);
        j[key] = (tail && *tail == '\0' && !value.empty()) ? nlohmann::json(num)
                                                           : nlohmann::json(value);
        table += key + std::string(std::max<size_t>(1, 44 - key.size()), ' ') + value + "\n";
      }
  }
  print(opts, j, table);
  return exit_ok;
}

} // namespace

void add_cache_commands(CLI::App& app, chosen_command& chosen, const options& opts) {
  auto* cache = app.add_subcommand(
    "cache", "the cache role: stats, get, set, del over RESP (--resp HOST:PORT); create, slots, shards of a cache cluster");
  cache->require_subcommand(1);
  auto args = std::make_shared<cache_args>();
  args->resp = resp_default();
  cache->add_option("--resp", args->resp,
                    "a cache node's RESP address (env TROUPECTL_RESP; default 127.0.0.1:6379)");
  auto* o = &opts;
  cache->add_subcommand("stats", "keys, hits, misses, memory, evictions (INFO)")
    ->callback([&chosen, args, o] { chosen.offline = [args, o] { return run_stats(*args, *o); }; });
  cache->add_subcommand("get", "print KEY's value; exit 1 when missing")
    ->callback([&chosen, args, o] { chosen.offline = [args, o] { return run_get(*args, *o); }; })
    ->add_option("KEY", args->words, "the key")->required()->expected(1);
  auto ttl = std::make_shared<uint64_t>(0);
  auto* set = cache->add_subcommand("set", "set KEY to VALUE");
  set->add_option("KEY VALUE", args->words, "the key and the value")->required()->expected(2);
  set->add_option("--ttl-ms", *ttl, "expire after this many ms");
  set->callback([&chosen, args, o, ttl] {
    chosen.offline = [args, o, ttl] { return run_set(*args, *o, *ttl); };
  });
  cache->add_subcommand("del", "delete keys; prints how many existed")
    ->callback([&chosen, args, o] { chosen.offline = [args, o] { return run_del(*args, *o); }; })
    ->add_option("KEYS", args->words, "the keys")->required();
  add_cache_cluster_commands(*cache, chosen);
}

} // namespace troupe::cli
