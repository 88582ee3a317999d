// The cache as a cluster (docs/cache-cluster.md): 16384 hash slots split
// among shards; each shard is a pair of placements, cache/<shard>/primary
// (which carries the shard's slot ranges) and cache/<shard>/replica, placed
// and failed over by the control plane. The slot map is therefore part of
// the committed placements in Raft, and every node learns it with its
// heartbeat acks (runtime/node_context.hpp, placement_feed).
//
// `cluster` is the node's side, used by the RESP server's I/O threads:
// - a command whose key lives in a shard that is primary here runs on that
//   shard's engine on the I/O thread, as in standalone mode;
// - one for another node's shard is forwarded to it through the actor
//   runtime (proxy mode, the default) or answered with -MOVED;
// - keys of different slots in one command get -CROSSSLOT;
// - with no shards placed at all, the node is a standalone cache.
// Plain C++; the transport for forwarded commands is set by the cache
// actor (cache_role.cpp).
#pragma once

#include "actors/cache/engine.hpp"
#include "actors/cache/slot.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe::v1 {
class HeartbeatAck;
}

namespace troupe::cache {


/// Placement names of a shard's two members.
std::string primary_placement(const std::string& shard);
std::string replica_placement(const std::string& shard);
/// "cache/shard-0/primary" with suffix "/primary" -> "shard-0"; "" if the
/// name is not of that form.
std::string shard_of_placement(const std::string& name, std::string_view suffix);
inline constexpr std::string_view primary_type = "cache-primary";
inline constexpr std::string_view replica_type = "cache-replica";

struct shard_member {
  std::string node;    // "" : not placed
  std::string address; // its RESP HOST:PORT
  std::string cluster_address;
};

struct shard_view {
  std::string name; // e.g. "shard-0"
  std::vector<std::pair<uint16_t, uint16_t>> ranges;
  shard_member primary;
  std::vector<shard_member> replicas;
  uint64_t epoch = 0;
};

/// The slot map, as the committed placements say.
struct slot_map {
  std::vector<shard_view> shards;
  std::array<int16_t, slot_count> owner; // index into shards; -1: no shard
  size_t assigned = 0;
  uint64_t epoch = 0; // the highest placement epoch of a primary
  slot_map() {
    owner.fill(-1);
  }
  bool enabled() const {
    return !shards.empty();
  }
};

slot_map build_slot_map(const v1::HeartbeatAck& ack);

/// A stable 40-hex-digit id for CLUSTER NODES/SLOTS (Redis clients expect
/// that shape).
std::string cluster_node_id(std::string_view name);

struct cluster_config {
  std::string node_id;
  std::string resp_address; // this node's
  bool proxy = true;        // forward instead of -MOVED (--cache-proxy)
  engine_config engine;     // template for the shards' engines
  uint64_t repl_backlog_bytes = 64ull << 20;
  size_t max_forwards = 10000; // forwarded commands in flight
  int64_t forward_timeout_ms = 3000;
};

/// What the connection does after execute().
struct route {
  enum kind_t { done, forward, wait } kind = done;
  std::string node;         // forward: the owner's node id
  int64_t replicas = 0;     // wait
  int64_t timeout_ms = 0;   // wait
};

struct cluster_counters {
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> forward_errors{0};
  std::atomic<uint64_t> forward_shed{0};
  std::atomic<uint64_t> moved{0};
  std::atomic<uint64_t> crossslot{0};
  std::atomic<uint64_t> unserved{0};
};

class cluster {
public:
  explicit cluster(cluster_config cfg);
  ~cluster();

  const cluster_config& config() const noexcept {
    return cfg_;
  }
  engine& standalone() noexcept {
    return *standalone_;
  }
  cluster_counters& counters() noexcept {
    return counters_;
  }

  /// Runs one command, or says that the connection must forward it or
  /// wait (WAIT). Thread-safe; called on the I/O threads.
  route execute(std::span<const std::string_view> args, client_state& client,
                resp::reply_writer& out);

  /// A command another node forwarded: runs here, or answers -MOVED /
  /// -TRYAGAIN; never forwards again. Returns the RESP reply.
  std::string execute_forwarded(std::span<const std::string_view> args, int protocol,
                                std::string& shard, uint64_t& offset);

  /// Replicas that acknowledged this connection's last write (WAIT).
  size_t acked(const client_state& client) const;

  // -- forwarding ------------------------------------------------------------------
  /// Hands commands for one owner to the transport as one message (a
  /// connection's pipeline). Each `done` gets its RESP reply (an error
  /// reply when the owner did not answer), on any thread. false when they
  /// would exceed the limit in flight (the caller replies with an error).
  using done_fn = std::function<void(std::string)>;
  struct forward_item {
    std::vector<std::string> args;
    done_fn done;
  };
  bool forward_batch(const std::string& node, std::vector<forward_item> items, int protocol);
  /// The transport: sends calls first .. first + n - 1 (their args, in
  /// order) to the owner; false if it cannot.
  using transport_fn = std::function<bool(uint64_t first, const std::string& node,
                                          std::vector<std::vector<std::string>>, int)>;
  void set_transport(transport_fn fn);
  /// The transport's answer for call `id`.
  void complete(uint64_t id, std::string reply);
  /// Fails forwarded calls older than the timeout (the I/O threads' tick).
  void sweep(int64_t now_ms);

  // -- shards on this node -------------------------------------------------------------
  /// The engine of `shard` on this node, created on first use.
  std::shared_ptr<engine> shard_engine(const std::string& shard);
  /// The shard's primary actor runs here (true) or stopped (false).
  void set_primary(const std::string& shard, bool on);
  /// The committed placements changed.
  void set_map(slot_map map);
  std::shared_ptr<const slot_map> map() const;

  /// Active expiry over every engine, for I/O thread `index` of `threads`.
  void active_expire(size_t index, size_t threads);
  /// Bytes the primary shards here wrote that their slowest replica has
  /// not acknowledged (the largest over the shards).
  uint64_t replication_lag_bytes() const;
  /// Counters over the standalone engine and every shard engine.
  keyspace_totals totals();
  /// CLUSTER INFO|SLOTS|SHARDS|NODES|MYID (engine::cluster_hook).
  void cluster_command(command_ctx& c);

private:
  struct local_shard {
    std::shared_ptr<engine> eng;
    std::atomic<bool> primary{false};
  };
  struct view {
    std::shared_ptr<const slot_map> map;
    // Index as map->shards: this node's engine of that shard, or null.
    std::vector<std::shared_ptr<local_shard>> local;
  };
  void refresh();
  /// The local shard, created (and the view refreshed) on first use;
  /// mtx_ held.
  local_shard& slot_of(const std::string& shard);
  std::shared_ptr<const view> current() const;
  engine* local_primary(const view& v, int16_t shard) const;
  void keyspace_walk(const std::vector<engine*>& primaries, const std::string& name,
                     std::span<const std::string_view> args, client_state& client,
                     resp::reply_writer& out);
  void run_keyless(const view& v, const command_def* def,
                   std::span<const std::string_view> args, client_state& client,
                   resp::reply_writer& out);

  cluster_config cfg_;
  std::unique_ptr<engine> standalone_;
  cluster_counters counters_;

  mutable std::mutex mtx_; // shards_, map_, view_
  std::map<std::string, std::shared_ptr<local_shard>> shards_;
  std::shared_ptr<const slot_map> map_;
  std::shared_ptr<const view> view_;

  std::mutex calls_mtx_;
  struct pending_call {
    done_fn done;
    int64_t started_ms;
  };
  std::unordered_map<uint64_t, pending_call> calls_;
  uint64_t next_call_ = 1;
  transport_fn transport_;
};

} // namespace troupe::cache
