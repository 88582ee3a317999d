#include "storage/raft_writer.hpp"

#include <chrono>
#include <vector>

namespace troupe::storage {

raft_writer::raft_writer(raft_log_store& store, raft_writer_limits limits) :
  store_(store), limits_(limits) {
  // Started last, once every member it reads exists.
  thread_ = std::thread{[this] { run(); }};
}

raft_writer::~raft_writer() {
  stop();
}

raft_status raft_writer::submit(raft_write request, completion done) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopping_)
    return {raft_store_errc::stopped, "the raft log writer is stopping"};
  if (queue_.size() >= limits_.max_pending_requests) {
    ++counters_.overloaded;
    return {raft_store_errc::overloaded,
            "the raft log writer has "
                + std::to_string(limits_.max_pending_requests)
                + " requests waiting (max_pending_requests): back off"};
  }
  queue_.push_back(item{std::move(request), std::move(done)});
  wake_.notify_one();
  return {};
}

void raft_writer::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable())
    thread_.join();
}

raft_writer_counters raft_writer::counters() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return counters_;
}

size_t raft_writer::pending() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.size();
}

void raft_writer::run() {
  std::deque<item> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mtx_};
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return; // stopping, and everything accepted is written
      // Everything that queued up during the previous fsync goes into this
      // transaction: that is the group commit.
      while (!queue_.empty() && batch.size() < limits_.max_batch_requests) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    write_batch(batch);
    batch.clear();
  }
}

void raft_writer::write_batch(std::deque<item>& batch) {
  auto start = std::chrono::steady_clock::now();
  auto st = write_items(batch);
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  uint64_t entries = 0;
  uint64_t snapshots = 0;
  for (const auto& it : batch) {
    entries += it.request.entries.size();
    snapshots += it.request.snapshot ? 1 : 0;
  }
  bool retry_singly
      = st.code == raft_store_errc::invalid_argument && batch.size() > 1;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ++counters_.batches;
    counters_.commit_ns_sum += ns;
    if (ns > counters_.commit_ns_max)
      counters_.commit_ns_max = ns;
    if (st.ok()) {
      counters_.entries += entries;
      counters_.snapshots += snapshots;
    } else
      ++counters_.failed_batches;
    if (!retry_singly)
      counters_.requests += batch.size();
  }
  if (!retry_singly) {
    for (auto& it : batch)
      if (it.done)
        it.done(st);
    return;
  }
  // One caller's bad request must not fail the others sharing its
  // transaction: write them one by one. Only a caller's bug gets here.
  for (auto& it : batch) {
    std::deque<item> single;
    single.push_back(std::move(it));
    write_batch(single);
  }
}

raft_status raft_writer::write_items(std::deque<item>& batch) {
  std::vector<raft_write> writes;
  writes.reserve(batch.size());
  for (auto& it : batch)
    writes.push_back(std::move(it.request));
  auto st = store_.write(writes);
  // Hand the requests back, for the one-by-one retry and the entry count.
  for (size_t i = 0; i < batch.size(); ++i)
    batch[i].request = std::move(writes[i]);
  return st;
}

} // namespace troupe::storage
