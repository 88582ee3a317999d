// Replication of one cache shard (docs/cache-cluster.md, "Replication"), as
// Redis does it: the primary appends every write it executes, as a RESP
// command, to a bounded backlog; a byte offset numbers the stream. A replica
// asks for the stream from its offset and applies the commands; asking
// from offset X acknowledges every byte before X, which is what WAIT counts.
// A replica whose offset the backlog no longer holds (or that comes from
// another history, a different replid) gets a dump of the shard first.
//
// Plain C++, no CAF: the engine appends on the I/O threads, the shard's
// primary actor reads and counts acknowledgements.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace troupe::cache {

class shard;
struct entry;

class repl_backlog {
public:
  /// Keeps at most `limit_bytes` of history (at least one block).
  explicit repl_backlog(uint64_t limit_bytes);

  /// Starts a new history (a new primary): a fresh replid, and offsets
  /// continue from where they were, so none is ever reused.
  void restart(std::string replid);
  std::string replid() const;

  /// Appends to the stream; returns the offset after it.
  uint64_t append(std::string_view bytes);
  uint64_t end_offset() const;
  /// The oldest offset still held.
  uint64_t start_offset() const;

  /// Copies up to `max` bytes from `from` into `out`. false if `from` is
  /// not held (trimmed away, or past the end).
  bool read(uint64_t from, size_t max, std::string& out) const;

  /// A replica's acknowledgement (it asked for the stream from `offset`).
  void ack(const std::string& replica, uint64_t offset, int64_t now_ms);
  /// Replicas that acknowledged `offset` or more, among those heard from
  /// within the last `fresh_ms` before now_ms.
  size_t acked(uint64_t offset, int64_t now_ms, int64_t fresh_ms = 5000) const;
  /// Acknowledged offset per replica (INFO replication, metrics).
  std::map<std::string, uint64_t> replica_offsets() const;
  /// Whether `replica` streams (acknowledged within fresh_ms, not in a full
  /// sync: a full sync forgets it until it streams again).
  bool streaming(const std::string& replica, int64_t now_ms, int64_t fresh_ms = 1000) const;
  void forget(const std::string& replica);

  /// Called after an append while a reader waits for data (the primary
  /// actor parks fetches); the waker then stays unarmed until arm() again.
  void set_waker(std::function<void()> fn);
  void arm() noexcept {
    armed_.store(true, std::memory_order_release);
  }

private:
  mutable std::mutex mtx_;
  uint64_t limit_;
  std::string replid_;
  std::deque<std::string> blocks_;
  uint64_t start_ = 0; // offset of blocks_.front()[0]
  uint64_t end_ = 0;
  uint64_t held_ = 0;
  struct replica_ack {
    uint64_t offset = 0;
    int64_t seen_ms = 0;
  };
  std::map<std::string, replica_ack> acks_;
  std::function<void()> waker_;
  std::atomic<bool> armed_{false};
};

/// Appends `args` as one RESP multibulk command.
void encode_command(std::string& out, std::span<const std::string_view> args);
void encode_command(std::string& out, std::initializer_list<std::string_view> args);

/// Appends commands that recreate `e` (its value and absolute expiry) on
/// an empty key, as a replica or a full sync needs them.
void encode_entry(std::string& out, const entry& e);

/// A random 40-hex-digit replication id, as Redis's.
std::string random_replid();

} // namespace troupe::cache
