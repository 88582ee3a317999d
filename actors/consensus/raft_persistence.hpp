// The persistence seam of the Raft shell: where a ready batch's hard state
// and entries go before the shell may send its messages (docs/raft.md).
//
// Implementations:
//  - memory_persistence: writes to an in-memory store and completes at once
//    (deterministic tests);
//  - writer_persistence: hands the write to storage::raft_writer, whose
//    thread commits and fsyncs; the completion runs on that thread, so the
//    shell's completion only sends itself a message. No fsync ever runs in an
//    actor handler (STYLE.md practice 4).
#pragma once

#include "actors/consensus/raft_types.hpp"
#include "storage/raft_store.hpp"
#include "storage/raft_writer.hpp"

#include <caf/expected.hpp>

#include <functional>

namespace troupe::raft {

/// Called exactly once per persist(), with the outcome. May run on any
/// thread, and possibly before persist() returns: it must not block and must
/// not touch actor state directly (send a message instead).
using persist_done = std::function<void(const storage::raft_status&)>;

class raft_persistence {
public:
  virtual ~raft_persistence() = default;

  /// Makes `write` durable, then calls `done`. Writes complete in the order
  /// they were submitted. A failed write may or may not be on disk: the
  /// caller must not act on it (the shell stops, and restarts from storage).
  virtual void persist(storage::raft_write write, persist_done done) = 0;
};

/// Writes into `store` synchronously and completes at once. For tests and
/// for stores that never block (memory_raft_store).
class memory_persistence final : public raft_persistence {
public:
  explicit memory_persistence(storage::raft_log_store& store) : store_(store) {}
  void persist(storage::raft_write write, persist_done done) override;

private:
  storage::raft_log_store& store_;
};

/// Submits to a group-commit writer. Completes with `overloaded` or `stopped`
/// at once when the writer refuses the request.
class writer_persistence final : public raft_persistence {
public:
  explicit writer_persistence(storage::raft_writer& writer) : writer_(writer) {}
  void persist(storage::raft_write write, persist_done done) override;

private:
  storage::raft_writer& writer_;
};

/// The storage write for a ready batch's `state` and `entries`; nullopt when
/// the batch has nothing to persist.
std::optional<storage::raft_write> to_write(const ready& batch);

/// The core's restart state from what storage loaded. Fails with
/// errc::storage_failure for a log with a gap after the snapshot, an unknown
/// entry kind, or a config entry or snapshot without a valid membership.
caf::expected<persisted_state> restore(const storage::raft_log_state& loaded);

} // namespace troupe::raft
