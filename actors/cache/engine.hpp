// The cache's command engine: Redis commands over a keyspace of 16 shards
// (slot % 16), each behind its own mutex, so that every I/O thread executes
// commands itself and threads meet only when they touch the same shard.
// Plain C++ (no CAF, no I/O): the server (server.hpp) parses RESP and calls
// execute(). Command semantics and error texts follow Redis 7.0; docs/cache.md
// lists the commands and where troupe differs.
#pragma once

#include "actors/cache/repl.hpp"
#include "actors/cache/store.hpp"
#include "net/resp.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace troupe::cache {

struct engine_config {
  std::string node_id;
  uint16_t port = 6379;
  uint64_t max_memory_bytes = 0;          // 0: no limit
  int64_t proto_max_bulk_len = int64_t{512} << 20;
  uint64_t max_clients = 10000;
  uint64_t output_buffer_limit_bytes = 0; // reported by CONFIG GET
  uint32_t io_threads = 1;                // reported by INFO
  /// A cluster shard's engine keeps a replication backlog of this many
  /// bytes (repl.hpp); 0: a standalone engine, no replication.
  uint64_t repl_backlog_bytes = 0;
};

class engine;

/// One client connection's state, owned by its connection.
struct client_state {
  uint64_t id = 0;
  std::string name;
  std::string addr;  // "ip:port" of the peer
  int protocol = 2;  // 2 or 3 (HELLO)
  bool close_after_reply = false; // QUIT, protocol errors
  int64_t connected_ms = 0;
  /// The last write this connection made on a replicated shard here, and
  /// the shard's stream offset after it: what WAIT waits for.
  engine* last_write = nullptr;
  uint64_t last_write_offset = 0;
  /// The last write went to another node (proxy mode).
  bool last_write_forwarded = false;
};

/// Process-wide counters the server updates; read by INFO and /metrics.
struct server_counters {
  std::atomic<uint64_t> connected_clients{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> total_commands{0};
  std::atomic<uint64_t> output_limit_disconnects{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> next_client_id{1};
};

/// Sums over every shard, taken shard by shard (not one snapshot).
struct keyspace_totals {
  uint64_t keys = 0;
  uint64_t expires = 0;
  uint64_t used_bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t expired = 0;
  uint64_t evicted = 0;

  keyspace_totals& operator+=(const keyspace_totals& o) {
    keys += o.keys;
    expires += o.expires;
    used_bytes += o.used_bytes;
    hits += o.hits;
    misses += o.misses;
    expired += o.expired;
    evicted += o.evicted;
    return *this;
  }
};

/// What a command handler sees.
struct command_ctx {
  engine& eng;
  client_state& client;
  resp::reply_writer& out;
  std::span<const std::string_view> args;
  int64_t now_ms;
  std::string_view arg(size_t i) const {
    return args[i];
  }
  size_t argc() const {
    return args.size();
  }
};

using command_handler = void (*)(command_ctx&);

/// One command's table entry, with what COMMAND reports about it.
struct command_def {
  std::string name;  // lowercase
  int arity = 0;     // Redis convention: >0 exact, <0 at least -arity
  std::string flags; // comma list, e.g. "write,denyoom,fast"
  int first_key = 0;
  int last_key = 0;
  int step = 0;
  command_handler fn = nullptr;
  bool write = false; // flags has "write": replicated, routed to the primary

  /// Whether `argc` arguments (the name included) fit the arity.
  bool accepts(size_t argc) const {
    auto n = static_cast<int>(argc);
    return arity > 0 ? n == arity : n >= -arity;
  }
};

using command_table = std::unordered_map<std::string, command_def>;

class engine {
public:
  static constexpr size_t shard_count = 16;

  /// `now_ms`: wall clock milliseconds (tests inject their own).
  engine(engine_config cfg, std::function<int64_t()> now_ms);

  /// Runs one command (args non-empty) and appends its reply. Sets
  /// client.close_after_reply for QUIT. Thread-safe.
  void execute(std::span<const std::string_view> args, client_state& client,
               resp::reply_writer& out);
  /// The same with the table entry already looked up (find_command; null:
  /// unknown), so that a router does not look it up twice.
  void execute(const command_def* def, std::span<const std::string_view> args,
               client_state& client, resp::reply_writer& out);

  /// Active expiry for shard `i`: samples 20 keys with a TTL, repeating
  /// while more than a quarter of a sample had expired, for at most
  /// `budget_us` microseconds. Returns the keys deleted.
  size_t active_expire(size_t i, int64_t budget_us);

  keyspace_totals totals();
  void reset_stats();
  server_counters& counters() noexcept {
    return counters_;
  }
  const engine_config& config() const noexcept {
    return cfg_;
  }
  int64_t now_ms() const {
    return clock_();
  }
  int64_t started_ms() const noexcept {
    return started_ms_;
  }
  const command_table& commands() const noexcept {
    return table_;
  }
  /// The table entry for a command name (any case), or null.
  const command_def* find_command(std::string_view name) const;

  /// Replication (repl.hpp). While recording, every write command that
  /// does not fail is appended to the backlog in the order the writes ran
  /// (writes are serialised for it; reads are not), with its
  /// nondeterminism removed: relative expiry times become PEXPIREAT, SPOP
  /// becomes the set's new content, evictions become DEL.
  repl_backlog* backlog() noexcept {
    return backlog_.get();
  }
  void set_recording(bool on);
  bool recording() const noexcept {
    return recording_.load(std::memory_order_acquire);
  }
  /// Runs a command of the replication stream (no reply, not recorded).
  void apply(std::span<const std::string_view> args);
  /// Appends a dump of every key (FLUSHALL first) and returns the stream
  /// offset it corresponds to. Writes wait while it runs; reads do not.
  uint64_t dump(std::string& out);
  /// Deletes every key (a replica before a full sync).
  void clear();

  /// CLUSTER subcommands other than KEYSLOT, answered by the node's
  /// cluster (cluster.hpp); unset: "cluster support disabled".
  std::function<void(command_ctx&)> cluster_hook;
  /// INFO's "cluster_enabled" (cluster clients check it first); unset: 0.
  std::function<bool()> cluster_enabled;
  /// INFO's keyspace figures in cluster mode (the shards that are primary
  /// on this node); unset: this engine's own.
  std::function<keyspace_totals()> served_totals;

  /// A shard with its lock held, for command handlers.
  struct locked {
    std::unique_lock<std::mutex> lock;
    shard& s;
  };
  locked lock_key(std::string_view key);
  locked lock_shard(size_t i);
  static size_t shard_of(std::string_view key);

private:
  struct alignas(64) slot_shard {
    std::mutex mtx;
    shard s;
  };

  engine_config cfg_;
  std::function<int64_t()> clock_;
  int64_t started_ms_;
  std::array<slot_shard, shard_count> shards_;
  server_counters counters_;
  command_table table_;
  std::unique_ptr<repl_backlog> backlog_;
  std::atomic<bool> recording_{false};
  std::mutex write_mtx_;
  std::vector<std::string> evicted_; // keys evicted by the running write
  void record(const command_def& def, std::span<const std::string_view> args,
              client_state& client, int64_t now_ms);
  /// Appends a DEL per key the running write evicted, and forgets them.
  void take_evicted(std::string& out);
};

// -- shared by the command files ---------------------------------------------

void register_string_commands(command_table& t);
void register_key_commands(command_table& t);
void register_type_commands(command_table& t); // lists, hashes, sets, zsets
void register_server_commands(command_table& t);

namespace err {
inline constexpr std::string_view wrongtype
  = "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view not_integer = "ERR value is not an integer or out of range";
inline constexpr std::string_view not_float = "ERR value is not a valid float";
inline constexpr std::string_view syntax = "ERR syntax error";
inline constexpr std::string_view overflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view too_big
  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
} // namespace err

/// Redis's string2ll: the whole text is a base-10 int64, no spaces, no '+'.
bool parse_int(std::string_view s, int64_t& out);
/// Redis's string2ld/strtod for scores and increments: no spaces, no NaN.
bool parse_double(std::string_view s, double& out);
bool parse_long_double(std::string_view s, long double& out);
/// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b);
/// Redis's glob matching (stringmatchlen): * ? [abc] [^a-z] and \ escapes.
bool glob_match(std::string_view pattern, std::string_view text, bool nocase = false);
/// "ERR wrong number of arguments for 'name' command".
std::string arity_error(std::string_view name);

/// Looks up `key` for reading; on a type mismatch replies WRONGTYPE and
/// sets `wrong`. Returns null when missing (or wrong).
entry* find_typed(command_ctx& c, shard& s, std::string_view key, vtype t,
                  bool& wrong, access a = access::read);

} // namespace troupe::cache
