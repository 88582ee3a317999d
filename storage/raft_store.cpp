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

uint64_t memory_raft_store::term_at(uint64_t index) const {
  if (index + 1 == state_.first_index)
    return state_.prev_term;
  if (index < state_.first_index || index > last_index())
    return 0;
  return state_.log[index - state_.first_index].term;
}

raft_status memory_raft_store::write(std::span<const raft_write> batch) {
  // Work on a copy so that a failing write in the batch leaves nothing
  // behind, like an aborted LMDB transaction.
  auto saved = state_;
  for (const auto& w : batch) {
    log_bounds bounds{first_index(), last_index(), last_term()};
    const auto& entries = w.entries;
    auto before = entries.empty() ? 0 : term_at(entries.front().index - 1);
    if (auto st = check_append(bounds, before, entries); !st.ok()) {
      state_ = std::move(saved);
      return st;
    }
    if (!entries.empty()) {
      state_.log.resize(entries.front().index - state_.first_index);
      state_.log.insert(state_.log.end(), entries.begin(), entries.end());
    }
    if (w.hard_state)
      state_.hard_state = w.hard_state;
  }
  ++write_calls_;
  return {};
}

raft_status memory_raft_store::truncate_prefix(uint64_t first_kept) {
  if (first_kept < state_.first_index || first_kept > last_index() + 1)
    return invalid("prefix truncation to " + std::to_string(first_kept)
                   + " is outside the log");
  auto prev = term_at(first_kept - 1);
  auto drop = first_kept - state_.first_index;
  state_.log.erase(state_.log.begin(),
                   state_.log.begin() + static_cast<std::ptrdiff_t>(drop));
  state_.first_index = first_kept;
  state_.prev_term = prev;
  return {};
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
