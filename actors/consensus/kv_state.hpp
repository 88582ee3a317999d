// The replicated key-value state machine: an etcd-shaped MVCC store that the
// Raft shell feeds committed KvCommands (proto/troupe/kv.proto). A plain class:
// no CAF, no I/O, no clock. Every output is a function of the applied commands
// alone, so all replicas produce byte-identical replies and snapshots.
// Semantics, limits and protocols: docs/kv.md.
#pragma once

#include "troupe/kv.pb.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::kv {

/// Keys under this prefix hold cluster metadata (membership, directory,
/// placements). Only commands with `system` set may write them; anyone may
/// read.
inline constexpr std::string_view system_prefix = "/troupe/sys/";

/// Every bound of the store. Exceeding one is KV_STATUS_LIMIT_EXCEEDED with an
/// error_message that names the field. All replicas must use equal limits.
struct limits {
  std::size_t max_key_bytes = 1536;      // 1.5 KiB
  std::size_t max_value_bytes = 1 << 20; // 1 MiB, as etcd's request limit
  std::size_t max_command_bytes = (3 << 20) / 2; // 1.5 MiB per log entry
  std::size_t max_keys = 1'000'000;              // live keys
  std::size_t max_range_keys = 10'000;           // keys in one range reply
  std::size_t max_range_bytes = 4 << 20;         // key+value bytes in one reply
  std::size_t max_txn_ops = 128;                 // compares, and ops per branch
  std::size_t max_clients = 10'000;              // exactly-once table (LRU)
  std::size_t max_leases = 100'000;
  std::int64_t max_lease_ttl_seconds = 30 * 24 * 3600;
  std::size_t max_watch_events = 10'000; // events in one events_since reply
};

/// For a prefix p, the range_end that selects every key starting with p:
/// p with its last byte below 0xff incremented; "\0" (all keys) if none is.
std::string prefix_end(std::string_view prefix);

/// The MVCC store plus leases and the exactly-once client table.
class kv_state {
public:
  explicit kv_state(limits lim = {});

  /// Applies the committed log entry at `index` (a serialized KvCommand) and
  /// returns the serialized KvReply. `index` must exceed applied_index()
  /// (asserted: std::logic_error). The only time used is the command's
  /// leader_time_ms. A retry of the client's last request returns the cached
  /// reply unchanged and changes nothing.
  std::string apply(std::uint64_t index, std::string_view command);

  /// A read on the local replica (serializable, or after ReadIndex). Returns a
  /// KvReply with `range` set, or an error status.
  v1::KvReply range(const v1::RangeRequest& request) const;

  /// Leases whose deadline is <= now_ms, ascending id, at most `max_ids`. The
  /// leader's shell proposes them in a LeaseExpireRequest; never revoke
  /// locally (docs/kv.md, "Lease expiry").
  std::vector<std::int64_t> expired_leases(std::int64_t now_ms,
                                           std::size_t max_ids) const;

  /// Put and delete events in [key, range_end) with revision >= start_revision
  /// (0 = none yet: an empty reply resuming at revision() + 1), ascending
  /// (revision, key), cut at a revision boundary after max_watch_events.
  /// KV_STATUS_COMPACTED if start_revision <= compact_revision().
  v1::WatchResponse events_since(std::string_view key,
                                 std::string_view range_end,
                                 std::int64_t start_revision) const;

  /// Drops history older than `revision` (reads at >= revision still work).
  /// Replicas must call it only when applying a committed CompactionRequest;
  /// it is public for tests and for apply.
  v1::KvStatus compact(std::int64_t revision,
                       std::string* error_message = nullptr);

  /// The whole state as a serialized KvSnapshot, for Raft snapshots.
  std::string serialize() const;
  /// Replaces the state with a serialize() result. Returns false (and leaves
  /// the state unchanged) if the bytes do not parse or are inconsistent.
  bool restore(std::string_view snapshot);

  std::uint64_t applied_index() const {
    return applied_index_;
  }
  std::int64_t revision() const {
    return revision_;
  }
  std::int64_t compact_revision() const {
    return compact_revision_;
  }
  std::size_t key_count() const {
    return live_keys_;
  }
  std::size_t lease_count() const {
    return leases_.size();
  }
  /// The TTL a lease was granted with; 0 if there is no such lease.
  std::int64_t lease_ttl_seconds(std::int64_t id) const {
    auto i = leases_.find(id);
    return i == leases_.end() ? 0 : i->second.ttl_seconds;
  }
  std::size_t client_count() const {
    return clients_.size();
  }

  /// One stored version of a key.
  struct record {
    std::int64_t mod_revision = 0;
    std::int64_t create_revision = 0;
    std::int64_t version = 0;
    std::int64_t lease = 0;
    std::string value;
    bool tombstone = false;
  };
  struct lease {
    std::int64_t ttl_seconds = 0;
    std::int64_t deadline_ms = 0;
    std::set<std::string> keys; // derived from the live records
  };
  struct client_session {
    std::uint64_t request_id = 0;
    std::string reply;
    std::uint64_t last_index = 0;
  };

private:
  struct context; // one command being applied; defined in the .cpp

  v1::KvReply execute(const v1::KvCommand& command, context& ctx);
  v1::KvReply put(const v1::PutRequest& request, context& ctx);
  v1::KvReply delete_range(const v1::DeleteRangeRequest& request, context& ctx);
  v1::KvReply txn(const v1::TxnRequest& request, context& ctx);
  v1::KvReply lease_grant(const v1::LeaseGrantRequest& request, context& ctx);
  v1::KvReply lease_revoke(const v1::LeaseRevokeRequest& request, context& ctx);
  v1::KvReply lease_keep_alive(const v1::LeaseKeepAliveRequest& request,
                               context& ctx);
  v1::KvReply lease_expire(const v1::LeaseExpireRequest& request, context& ctx);
  /// A range read where `latest` is the newest visible revision. The result
  /// limits are checked as if `extra_keys` more keys of `extra_bytes` more
  /// bytes matched (a txn's pending puts).
  v1::KvReply range_at(const v1::RangeRequest& request, std::int64_t latest,
                       std::size_t extra_keys, std::size_t extra_bytes) const;

  bool check_put(const v1::PutRequest& request, const context& ctx,
                 v1::KvReply& error) const;
  bool check_delete(const v1::DeleteRangeRequest& request, const context& ctx,
                    v1::KvReply& error) const;
  bool check_txn(const v1::TxnRequest& request, bool succeeded,
                 const context& ctx, v1::KvReply& error) const;
  bool compare_holds(const v1::Compare& compare) const;

  const record* latest(const std::string& key) const;
  const record* at_revision(const std::string& key,
                            std::int64_t revision) const;
  void write(const std::string& key, record rec, context& ctx);
  void delete_key(const std::string& key, context& ctx);
  std::vector<std::string> live_keys_in(std::string_view key,
                                        std::string_view range_end) const;
  void revoke(std::int64_t id, context& ctx);

  std::string remember(std::uint64_t index, const v1::KvCommand& command,
                       std::string reply);

  limits limits_;
  std::uint64_t applied_index_ = 0;
  std::int64_t revision_ = 0;
  std::int64_t compact_revision_ = 0;
  std::int64_t next_lease_id_ = 1;
  std::size_t live_keys_ = 0;
  /// Ordered maps only: iteration order may decide replies and snapshots.
  std::map<std::string, std::vector<record>> history_;
  std::map<std::int64_t, lease> leases_;
  std::map<std::uint64_t, client_session> clients_;
  std::map<std::uint64_t, std::uint64_t>
      clients_by_index_; // last_index -> client_id
};

} // namespace troupe::kv
