// The in-memory copy of a member's Raft log. The core owns one; storage keeps
// the durable copy, fed through `ready::entries`. After a snapshot the log
// starts at an offset: it holds the entries after `first_index() - 1`, whose
// term it remembers so that appends right after the snapshot still match.
#pragma once

#include "actors/consensus/raft_types.hpp"

#include <optional>
#include <span>
#include <vector>

namespace troupe::raft {

class raft_log {
public:
  raft_log() = default;
  /// `entries` must be contiguous from prev_index + 1, with terms that never
  /// decrease. `prev_term` is the term of the entry at prev_index (0 for
  /// index 0), or nullopt if unknown (a restored log that starts below its
  /// snapshot: the entry before it is gone); it must be known if `entries`
  /// is empty.
  explicit raft_log(std::vector<entry> entries, index_t prev_index = 0,
                    std::optional<term_t> prev_term = 0);

  /// Index of the first entry held (1 until compaction or a snapshot moves it).
  index_t first_index() const { return prev_index_ + 1; }
  index_t last_index() const { return prev_index_ + entries_.size(); }
  term_t last_term() const;

  /// Term of the entry at `index`: also known for first_index() - 1 (the
  /// snapshot's end) and 0 for index 0; nullopt beyond either end.
  std::optional<term_t> term_at(index_t index) const;

  /// True if the log has an entry at `index` with `term` (index 0 always matches).
  bool matches(index_t index, term_t term) const { return term_at(index) == term; }

  /// The entry at `index`, which must be in [first_index(), last_index()].
  const entry& at(index_t index) const;

  /// Up to `max_count` entries starting at `from` (empty if from >
  /// last_index()); `from` must be >= first_index().
  std::vector<entry> slice(index_t from, std::size_t max_count) const;

  /// First index of the run of entries with the same term as `index`
  /// (no lower than first_index()).
  index_t first_index_of_term_at(index_t index) const;

  /// Appends `e`, which must be at last_index() + 1 with term >= last_term().
  void append(entry e);

  /// Drops every entry with index >= `from` (from >= first_index()).
  void truncate_from(index_t from);

  /// Drops every entry with index < `index`, which must be in
  /// (first_index(), last_index() + 1]; the term at index - 1 is kept.
  void compact_before(index_t index);

  /// True if a candidate with (last_index, last_term) is at least as up to
  /// date as this log (Raft paper, section 5.4.1).
  bool candidate_up_to_date(index_t last_index, term_t last_term) const;

private:
  std::vector<entry> entries_; // entries_[i] has index prev_index_ + i + 1
  index_t prev_index_ = 0;
  std::optional<term_t> prev_term_ = 0;
};

} // namespace troupe::raft
