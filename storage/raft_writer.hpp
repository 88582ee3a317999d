// Group commit for the Raft log: one dedicated thread writes the requests of
// many callers in one transaction with one fsync.
//
// Callers (actor handlers among them) submit() and return at once; the
// writer thread takes every waiting request (up to a limit), hands them to
// the store as one batch, and then calls each request's completion with the
// batch's outcome. So N proposals arriving while an fsync runs cost one more
// fsync, not N (DESIGN.md, "Storage").
#pragma once

#include "storage/raft_store.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace troupe::storage {

struct raft_writer_limits {
  /// Requests waiting to be written; submit() refuses more (overloaded).
  /// About a second of writes at the rates in bench/, so a stalled disk
  /// sheds load instead of growing memory.
  size_t max_pending_requests = 10000;
  /// Requests per transaction, bounding one commit's size and latency.
  size_t max_batch_requests = 1024;
};

/// Plain counters for metrics (docs/storage.md); read with counters().
struct raft_writer_counters {
  uint64_t batches = 0;        // transactions attempted
  uint64_t failed_batches = 0; // transactions that failed
  uint64_t requests = 0;       // requests completed, successfully or not
  uint64_t entries = 0;        // entries durably written
  uint64_t snapshots = 0;      // snapshots durably written
  uint64_t overloaded = 0;     // submits refused for a full queue
  uint64_t commit_ns_sum = 0;  // time in write + fsync, summed over batches
  uint64_t commit_ns_max = 0;  // the slowest batch
};

class raft_writer {
public:
  /// Called on the writer thread once the request is durable (ok) or has
  /// failed. Must be quick and must not block: e.g. send a message to the
  /// actor that submitted.
  using completion = std::function<void(const raft_status&)>;

  /// Starts the writer thread. `store` must be loaded and must outlive the
  /// writer, and nobody else may use it meanwhile.
  explicit raft_writer(raft_log_store& store, raft_writer_limits limits = {});

  /// Calls stop().
  ~raft_writer();

  raft_writer(const raft_writer&) = delete;
  raft_writer& operator=(const raft_writer&) = delete;

  /// Queues `request`; `done` runs later on the writer thread. Requests are
  /// written in submission order. Returns at once: `overloaded` when
  /// max_pending_requests are waiting, `stopped` after stop(); in both cases
  /// `done` is never called.
  raft_status submit(raft_write request, completion done);

  /// Writes everything already accepted, then ends the thread. Idempotent.
  void stop();

  raft_writer_counters counters() const;

  /// Requests accepted but not yet taken into a batch.
  size_t pending() const;

private:
  struct item {
    raft_write request;
    completion done;
  };

  void run();
  void write_batch(std::deque<item>& batch);
  raft_status write_items(std::deque<item>& batch);

  raft_log_store& store_;
  const raft_writer_limits limits_;
  mutable std::mutex mtx_;
  std::condition_variable wake_;
  std::deque<item> queue_;
  bool stopping_ = false;
  raft_writer_counters counters_;
  std::thread thread_;
};

} // namespace troupe::storage
