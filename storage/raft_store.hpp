// Durable storage of one Raft member's log and hard state.
//
// This layer knows nothing of the Raft core (actors/consensus): it stores
// plain records, and the consensus shell converts raft::entry and
// raft::hard_state to and from them. Implementations:
//  - memory_raft_store: for tests, no I/O;
//  - lmdb_raft_store (lmdb_raft_store.hpp): in the node's LMDB environment;
//  - faulty_raft_store: wraps another and fails writes on demand (tests).
// raft_writer (raft_writer.hpp) batches writes from many callers into one
// commit on a dedicated thread. docs/storage.md describes the format.
//
// Thread-safety: a store has one owner at a time (load at startup, then the
// raft_writer thread). Writes block on fsync: never call them in an actor
// handler.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace troupe::storage {

/// One log entry. `kind` is opaque here (raft::entry_kind in the core).
struct log_record {
  uint64_t index = 0;
  uint64_t term = 0;
  uint8_t kind = 0;
  std::string payload;
  friend bool operator==(const log_record&, const log_record&) = default;
};

/// What a member must persist before acting on it. voted_for 0 = no vote.
struct hard_state_record {
  uint64_t term = 0;
  uint64_t voted_for = 0;
  uint64_t commit = 0;
  friend bool operator==(const hard_state_record&, const hard_state_record&)
      = default;
};

/// A state machine snapshot with the Raft metadata it ends at. `membership`
/// and `data` are opaque here (raft::encode_membership, kv::kv_state).
struct snapshot_record {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string membership;
  std::string data;
  friend bool operator==(const snapshot_record&, const snapshot_record&)
      = default;
};

/// Everything load() returns. `log` is contiguous from `first_index`. With a
/// snapshot, first_index <= snapshot->index + 1 and the log reaches at least
/// snapshot->index (the entry there, or prev_term, has the snapshot's term);
/// without one, first_index is 1.
struct raft_log_state {
  std::optional<hard_state_record> hard_state;
  /// The newest snapshot, if one was stored.
  std::optional<snapshot_record> snapshot;
  /// Index of the first entry kept (1 unless a prefix was truncated).
  uint64_t first_index = 1;
  /// Term of entry first_index - 1 (0 if there is none).
  uint64_t prev_term = 0;
  std::vector<log_record> log;
};

/// Named for what the caller should do.
enum class raft_store_errc : uint8_t {
  ok,
  /// The stored data is damaged: refuse to start, restore the data dir from a
  /// replica. Never truncate past it.
  corrupted,
  /// The disk or LMDB map is full. Nothing was written: free space (or raise
  /// the map size), then retry. Report unhealthy meanwhile.
  no_space,
  /// An I/O error or failed fsync. For LMDB nothing was written (the
  /// transaction was aborted); retry later, or stop the node if it persists.
  io_error,
  /// Too many requests are waiting: back off and retry.
  overloaded,
  /// The writer is shutting down: the request was not written.
  stopped,
  /// A programmer error in the request (a gap, a decreasing term, an
  /// overwrite below the first index). Nothing was written; do not retry.
  invalid_argument,
};

/// The outcome of a store operation; `message` names the file and what to do.
struct raft_status {
  raft_store_errc code = raft_store_errc::ok;
  std::string message;
  bool ok() const noexcept {
    return code == raft_store_errc::ok;
  }
};

/// One write, applied in this order, all or nothing:
///  1. `snapshot`, if set, replaces the stored snapshot. It must not be older
///     than the stored one. With `reset_log`, the whole log is dropped too and
///     restarts after it (first_index = snapshot.index + 1, prev_term =
///     snapshot.term): a follower that installed a leader's snapshot;
///  2. `hard_state`, if set;
///  3. `entries`: every stored entry with index >= entries.front().index is
///     dropped, then they are appended;
///  4. `compact_before`, if nonzero: entries with index < compact_before are
///     dropped. It must be <= the stored snapshot's index + 1, so that no
///     entry goes that a snapshot does not cover (without a snapshot, only
///     1 is accepted). One at or below first_index() changes nothing.
/// Also refused as invalid_argument, because the stored log would contradict
/// the snapshot: `reset_log` without a snapshot; a snapshot without
/// `reset_log` outside [first_index() - 1, last_index()] or whose term is not
/// the term of the stored entry at its index; entries that replace the
/// entry at the snapshot's index with another term, or that end below it.
struct raft_write {
  std::optional<snapshot_record> snapshot;
  bool reset_log = false;
  std::optional<hard_state_record> hard_state;
  std::vector<log_record> entries;
  uint64_t compact_before = 0;
};

const char* to_string(raft_store_errc code) noexcept;

class raft_log_store {
public:
  virtual ~raft_log_store() = default;

  /// Reads the hard state and the whole log, verifying every checksum, that
  /// indexes are contiguous and that terms never decrease. Fails with
  /// `corrupted` and a message naming the file, the database and the index;
  /// never repairs anything. Call once, before any write.
  virtual raft_status load(raft_log_state& out) = 0;

  /// Applies `batch` in order, atomically (all or nothing), and returns only
  /// once it is durable (fsync). In each write, entries must have contiguous
  /// indexes, non-decreasing terms, and start in [first_index(),
  /// last_index() + 1] as left by the writes before it. On any error nothing
  /// of the batch is stored.
  virtual raft_status write(std::span<const raft_write> batch) = 0;

  /// Drops every entry with index < first_kept, which must be in
  /// [first_index(), last_index() + 1] and <= the stored snapshot's index + 1
  /// (so 1 without a snapshot). Durable on return. A write's
  /// `compact_before` does the same inside a batch.
  virtual raft_status truncate_prefix(uint64_t first_kept) = 0;

  /// Forces everything to disk (a no-op when every write already syncs).
  virtual raft_status sync() = 0;

  virtual uint64_t first_index() const = 0;
  /// first_index() - 1 when the log is empty.
  virtual uint64_t last_index() const = 0;
  /// Term of last_index(), or 0 for an empty log that never had entries.
  virtual uint64_t last_term() const = 0;

  /// Truncate-then-append of `entries`; durable on return.
  raft_status append(std::vector<log_record> entries);
  /// Stores `hs`; durable on return.
  raft_status save(const hard_state_record& hs);
};

/// Where a log ends, as writes are checked against it.
struct log_bounds {
  uint64_t first_index = 1;
  uint64_t last_index = 0;
  uint64_t last_term = 0;
  /// Term of entry first_index - 1 (0 if there is none).
  uint64_t prev_term = 0;
  /// Where the stored snapshot ends, if there is one.
  bool has_snapshot = false;
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
};

/// Reads the term of the stored entry `index`, first_index <= index <=
/// last_index. Fails only if the store cannot read it (corrupted, io_error).
using term_lookup = std::function<raft_status(uint64_t index, uint64_t& term)>;

/// The term of entry `index`: prev_term at first_index - 1, last_term at
/// last_index, `lookup` in between, 0 outside [first_index - 1, last_index].
raft_status term_at(const log_bounds& bounds, uint64_t index,
                    const term_lookup& lookup, uint64_t& term);

// The checks of one raft_write, one per step, shared by every store. Each
// one checks its step against `bounds` as left by the steps before and, on
// success, updates bounds to what the step leaves behind. A store runs them
// in order, applying each step after its check.

/// Step 1: `w.snapshot` and `w.reset_log`.
raft_status check_snapshot(log_bounds& bounds, const raft_write& w,
                           const term_lookup& lookup);

/// Step 3: `entries`, including that they agree with the snapshot.
raft_status check_entries(log_bounds& bounds,
                          const std::vector<log_record>& entries,
                          const term_lookup& lookup);

/// Step 4: `compact_before`. Leaves bounds.first_index unchanged when there
/// is nothing to drop.
raft_status check_compaction(log_bounds& bounds, uint64_t compact_before,
                             const term_lookup& lookup);

/// Checks one write's entries against `bounds`. `term_before` is the term of
/// entry entries.front().index - 1 (0 if none). On success, updates bounds.
/// Knows nothing of snapshots: check_entries calls it.
raft_status check_append(log_bounds& bounds, uint64_t term_before,
                         const std::vector<log_record>& entries);

/// A store in memory, for tests of the layers above. Checks writes like the
/// LMDB store (invalid_argument), and never fails otherwise.
class memory_raft_store final : public raft_log_store {
public:
  raft_status load(raft_log_state& out) override;
  raft_status write(std::span<const raft_write> batch) override;
  raft_status truncate_prefix(uint64_t first_kept) override;
  raft_status sync() override;
  uint64_t first_index() const override {
    return state_.first_index;
  }
  uint64_t last_index() const override;
  uint64_t last_term() const override;

  /// Number of successful write() calls (group-commit tests).
  uint64_t write_calls() const noexcept {
    return write_calls_;
  }

private:
  log_bounds bounds() const;
  term_lookup lookup() const;
  raft_status write_one(const raft_write& w);
  void drop_before(uint64_t first_kept, uint64_t prev_term);

  raft_log_state state_;
  uint64_t write_calls_ = 0;
};

/// Passes every call to another store. Decorators (fault injection, test
/// gates) derive from it and override only what they change.
class forwarding_raft_store : public raft_log_store {
public:
  explicit forwarding_raft_store(raft_log_store& inner) : inner_(inner) {}

  raft_status load(raft_log_state& out) override {
    return inner_.load(out);
  }
  raft_status write(std::span<const raft_write> batch) override {
    return inner_.write(batch);
  }
  raft_status truncate_prefix(uint64_t first_kept) override {
    return inner_.truncate_prefix(first_kept);
  }
  raft_status sync() override {
    return inner_.sync();
  }
  uint64_t first_index() const override {
    return inner_.first_index();
  }
  uint64_t last_index() const override {
    return inner_.last_index();
  }
  uint64_t last_term() const override {
    return inner_.last_term();
  }

protected:
  raft_log_store& inner_;
};

/// Wraps another store and injects failures on demand (tests only).
class faulty_raft_store final : public forwarding_raft_store {
public:
  explicit faulty_raft_store(raft_log_store& inner) :
    forwarding_raft_store(inner) {}

  /// The next `count` writes fail with `code` before reaching the inner
  /// store: nothing is written, like an aborted LMDB transaction.
  void fail_writes(uint32_t count,
                   raft_store_errc code = raft_store_errc::io_error);

  /// The next `count` writes reach the inner store, then report a failed
  /// fsync (io_error): the caller must not acknowledge them, and cannot
  /// know whether they are on disk. sync() fails while any are armed.
  void fail_syncs(uint32_t count);

  raft_status write(std::span<const raft_write> batch) override;
  raft_status truncate_prefix(uint64_t first_kept) override;
  raft_status sync() override;

private:
  uint32_t failing_writes_ = 0;
  raft_store_errc failing_code_ = raft_store_errc::io_error;
  uint32_t failing_syncs_ = 0;
};

} // namespace troupe::storage
