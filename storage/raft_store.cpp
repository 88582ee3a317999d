#include "storage/raft_store.hpp"

#include <utility>

namespace troupe::storage {

namespace {

raft_status invalid(std::string what) {
  return {raft_store_errc::invalid_argument,
          "invalid raft log write: " + std::move(what)
              + " (a bug in the caller; nothing was written)"};
}

} // namespace

const char* to_string(raft_store_errc code) noexcept {
  switch (code) {
  case raft_store_errc::ok:
    return "ok";
  case raft_store_errc::corrupted:
    return "corrupted";
  case raft_store_errc::no_space:
    return "no_space";
  case raft_store_errc::io_error:
    return "io_error";
  case raft_store_errc::overloaded:
    return "overloaded";
  case raft_store_errc::stopped:
    return "stopped";
  case raft_store_errc::invalid_argument:
    return "invalid_argument";
  }
  return "unknown";
}

raft_status raft_log_store::append(std::vector<log_record> entries) {
  raft_write w;
  w.entries = std::move(entries);
  return write(std::span<const raft_write>{&w, 1});
}

raft_status raft_log_store::save(const hard_state_record& hs) {
  raft_write w;
  w.hard_state = hs;
  return write(std::span<const raft_write>{&w, 1});
}

raft_status check_append(log_bounds& bounds, uint64_t term_before,
                         const std::vector<log_record>& entries) {
  if (entries.empty())
    return {};
  auto front = entries.front().index;
  if (front == 0 || front < bounds.first_index)
    return invalid("entry " + std::to_string(front)
                   + " is below the first index "
                   + std::to_string(bounds.first_index));
  if (front > bounds.last_index + 1)
    return invalid("entry " + std::to_string(front)
                   + " leaves a gap after the last index "
                   + std::to_string(bounds.last_index));
  auto expected = front;
  auto prev_term = term_before;
  for (const auto& e : entries) {
    if (e.index != expected)
      return invalid("entry " + std::to_string(e.index) + " follows entry "
                     + std::to_string(expected - 1));
    if (e.term < prev_term)
      return invalid("entry " + std::to_string(e.index) + " has term "
                     + std::to_string(e.term) + " below the term "
                     + std::to_string(prev_term) + " before it");
    prev_term = e.term;
    ++expected;
  }
  bounds.last_index = entries.back().index;
  bounds.last_term = entries.back().term;
  return {};
}

raft_status term_at(const log_bounds& bounds, uint64_t index,
                    const term_lookup& lookup, uint64_t& term) {
  term = 0;
  if (index + 1 == bounds.first_index) {
    term = bounds.prev_term;
    return {};
  }
  if (index < bounds.first_index || index > bounds.last_index)
    return {};
  if (index == bounds.last_index) {
    term = bounds.last_term;
    return {};
  }
  return lookup(index, term);
}

raft_status check_snapshot(log_bounds& bounds, const raft_write& w,
                           const term_lookup& lookup) {
  if (!w.snapshot)
    return w.reset_log ? invalid("reset_log without a snapshot")
                       : raft_status{};
  const auto& s = *w.snapshot;
  auto name = "the snapshot at index " + std::to_string(s.index) + " (term "
              + std::to_string(s.term) + ")";
  if (bounds.has_snapshot
      && (s.index < bounds.snapshot_index || s.term < bounds.snapshot_term))
    return invalid(name + " is older than the stored one at index "
                   + std::to_string(bounds.snapshot_index) + " (term "
                   + std::to_string(bounds.snapshot_term) + ")");
  if (s.index == UINT64_MAX)
    return invalid(name + " leaves no room for a log after it");
  if (w.reset_log) {
    // A leader's snapshot replaces the whole log, agreeing or not: Raft
    // (section 7) keeps a suffix only when its entry at the snapshot's
    // index matches, and the core decides that, not storage.
    bounds.first_index = s.index + 1;
    bounds.last_index = s.index;
    bounds.last_term = s.term;
    bounds.prev_term = s.term;
  } else {
    // A local snapshot covers a prefix of this log: it must end inside it
    // (or just before it) and agree with it.
    if (s.index + 1 < bounds.first_index || s.index > bounds.last_index)
      return invalid(name + " is outside the log ["
                     + std::to_string(bounds.first_index) + ", "
                     + std::to_string(bounds.last_index)
                     + "] (a received snapshot needs reset_log)");
    uint64_t term = 0;
    if (auto st = term_at(bounds, s.index, lookup, term); !st.ok())
      return st;
    if (term != s.term)
      return invalid(name
                     + " disagrees with the log, whose entry there has "
                       "term "
                     + std::to_string(term));
  }
  bounds.has_snapshot = true;
  bounds.snapshot_index = s.index;
  bounds.snapshot_term = s.term;
  return {};
}

raft_status check_entries(log_bounds& bounds,
                          const std::vector<log_record>& entries,
                          const term_lookup& lookup) {
  if (entries.empty())
    return {};
  auto front = entries.front().index;
  uint64_t before = 0;
  if (front > 0)
    if (auto st = term_at(bounds, front - 1, lookup, before); !st.ok())
      return st;
  auto next = bounds;
  if (auto st = check_append(next, before, entries); !st.ok())
    return st;
  // Entries the snapshot covers are committed: replacing them with other
  // terms, or cutting the log below the snapshot, would contradict it.
  auto snap = bounds.snapshot_index;
  if (bounds.has_snapshot && front <= snap) {
    if (next.last_index < snap)
      return invalid("entries " + std::to_string(front) + ".."
                     + std::to_string(next.last_index)
                     + " would cut the log below the snapshot at index "
                     + std::to_string(snap));
    if (entries[snap - front].term != bounds.snapshot_term)
      return invalid("entry " + std::to_string(snap) + " has term "
                     + std::to_string(entries[snap - front].term)
                     + ", but the snapshot there has term "
                     + std::to_string(bounds.snapshot_term));
  }
  bounds = next;
  return {};
}

raft_status check_compaction(log_bounds& bounds, uint64_t compact_before,
                             const term_lookup& lookup) {
  if (compact_before == 0)
    return {};
  auto limit = bounds.has_snapshot ? bounds.snapshot_index + 1 : 1;
  if (compact_before > limit)
    return invalid("compaction before entry " + std::to_string(compact_before)
                   + " would drop entries that "
                   + (bounds.has_snapshot
                          ? "the snapshot at index "
                                + std::to_string(bounds.snapshot_index)
                                + " does not cover"
                          : std::string{"no snapshot covers"}));
  if (compact_before > bounds.last_index + 1)
    return invalid("compaction before entry " + std::to_string(compact_before)
                   + " is beyond the last index "
                   + std::to_string(bounds.last_index));
  if (compact_before <= bounds.first_index)
    return {}; // already compacted: nothing to drop
  uint64_t prev = 0;
  if (auto st = term_at(bounds, compact_before - 1, lookup, prev); !st.ok())
    return st;
  bounds.first_index = compact_before;
  bounds.prev_term = prev;
  return {};
}

// -- memory_raft_store --------------------------------------------------------

raft_status memory_raft_store::load(raft_log_state& out) {
  out = state_;
  return {};
}

uint64_t memory_raft_store::last_index() const {
  return state_.first_index + state_.log.size() - 1;
}

uint64_t memory_raft_store::last_term() const {
  return state_.log.empty() ? state_.prev_term : state_.log.back().term;
}

log_bounds memory_raft_store::bounds() const {
  log_bounds b;
  b.first_index = state_.first_index;
  b.last_index = last_index();
  b.last_term = last_term();
  b.prev_term = state_.prev_term;
  if (state_.snapshot) {
    b.has_snapshot = true;
    b.snapshot_index = state_.snapshot->index;
    b.snapshot_term = state_.snapshot->term;
  }
  return b;
}

term_lookup memory_raft_store::lookup() const {
  // term_at only asks for indexes inside the log.
  return [this](uint64_t index, uint64_t& term) {
    term = state_.log[index - state_.first_index].term;
    return raft_status{};
  };
}

void memory_raft_store::drop_before(uint64_t first_kept, uint64_t prev_term) {
  auto drop = static_cast<std::ptrdiff_t>(first_kept - state_.first_index);
  state_.log.erase(state_.log.begin(), state_.log.begin() + drop);
  state_.first_index = first_kept;
  state_.prev_term = prev_term;
}

raft_status memory_raft_store::write_one(const raft_write& w) {
  auto b = bounds();
  auto terms = lookup();
  if (auto st = check_snapshot(b, w, terms); !st.ok())
    return st;
  if (w.snapshot) {
    state_.snapshot = w.snapshot;
    if (w.reset_log) {
      state_.log.clear();
      state_.first_index = b.first_index;
      state_.prev_term = b.prev_term;
    }
  }
  if (w.hard_state)
    state_.hard_state = w.hard_state;
  const auto& entries = w.entries;
  if (auto st = check_entries(b, entries, terms); !st.ok())
    return st;
  if (!entries.empty()) {
    state_.log.resize(entries.front().index - state_.first_index);
    state_.log.insert(state_.log.end(), entries.begin(), entries.end());
  }
  if (auto st = check_compaction(b, w.compact_before, terms); !st.ok())
    return st;
  if (b.first_index != state_.first_index)
    drop_before(b.first_index, b.prev_term);
  return {};
}

raft_status memory_raft_store::write(std::span<const raft_write> batch) {
  // Work on a copy so that a failing write in the batch leaves nothing
  // behind, like an aborted LMDB transaction.
  auto saved = state_;
  for (const auto& w : batch) {
    if (auto st = write_one(w); !st.ok()) {
      state_ = std::move(saved);
      return st;
    }
  }
  ++write_calls_;
  return {};
}

raft_status memory_raft_store::truncate_prefix(uint64_t first_kept) {
  if (first_kept < state_.first_index)
    return invalid("prefix truncation to " + std::to_string(first_kept)
                   + " is below the first index "
                   + std::to_string(state_.first_index));
  raft_write w;
  w.compact_before = first_kept;
  auto saved = state_;
  auto st = write_one(w);
  if (!st.ok())
    state_ = std::move(saved);
  return st;
}

raft_status memory_raft_store::sync() {
  return {};
}

// -- faulty_raft_store --------------------------------------------------------

void faulty_raft_store::fail_writes(uint32_t count, raft_store_errc code) {
  failing_writes_ = count;
  failing_code_ = code;
}

void faulty_raft_store::fail_syncs(uint32_t count) {
  failing_syncs_ = count;
}

raft_status faulty_raft_store::write(std::span<const raft_write> batch) {
  if (failing_writes_ > 0) {
    --failing_writes_;
    return {failing_code_, "injected write failure: nothing was written"};
  }
  auto st = inner_.write(batch);
  if (st.ok() && failing_syncs_ > 0) {
    --failing_syncs_;
    return {raft_store_errc::io_error,
            "injected fsync failure: the write may or may not be on disk"};
  }
  return st;
}

raft_status faulty_raft_store::truncate_prefix(uint64_t first_kept) {
  if (failing_writes_ > 0) {
    --failing_writes_;
    return {failing_code_, "injected write failure: nothing was truncated"};
  }
  return inner_.truncate_prefix(first_kept);
}

raft_status faulty_raft_store::sync() {
  if (failing_syncs_ > 0)
    return {raft_store_errc::io_error, "injected fsync failure"};
  return inner_.sync();
}

} // namespace troupe::storage
