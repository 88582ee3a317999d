// The in-memory copy of a member's Raft log. The core owns one; storage keeps
// the durable copy, fed through `ready::entries`.
#pragma once

#include "actors/consensus/raft_types.hpp"

#include <optional>
#include <span>
#include <vector>

namespace troupe::raft {

class raft_log {
public:
  raft_log() = default;
  /// `entries` must be contiguous from index 1.
  explicit raft_log(std::vector<entry> entries);

  /// Index of the first entry held (1 until compaction or a snapshot moves it).
  index_t first_index() const { return 1; }
  index_t last_index() const { return entries_.size(); }
  term_t last_term() const { return entries_.empty() ? 0 : entries_.back().term; }

  /// Term of the entry at `index`; 0 for index 0; nullopt beyond the end.
  std::optional<term_t> term_at(index_t index) const;

  /// True if the log has an entry at `index` with `term` (index 0 always matches).
  bool matches(index_t index, term_t term) const { return term_at(index) == term; }

  /// The entry at `index`, which must exist.
  const entry& at(index_t index) const;

  /// Up to `max_count` entries starting at `from` (empty if from > last_index).
  std::vector<entry> slice(index_t from, std::size_t max_count) const;

  /// First index of the run of entries with the same term as `index`.
  index_t first_index_of_term_at(index_t index) const;

  /// Appends `e`, which must be at last_index() + 1 with term >= last_term().
  void append(entry e);

  /// Drops every entry with index >= `from` (from >= 1).
  void truncate_from(index_t from);

  /// True if a candidate with (last_index, last_term) is at least as up to
  /// date as this log (Raft paper, section 5.4.1).
  bool candidate_up_to_date(index_t last_index, term_t last_term) const;

private:
  std::vector<entry> entries_; // entries_[i] has index i + 1
};

} // namespace troupe::raft
