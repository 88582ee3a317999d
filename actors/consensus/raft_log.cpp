#include "actors/consensus/raft_log.hpp"

#include <algorithm>

namespace troupe::raft {

namespace {

void check(bool condition, const char* what) {
  if (!condition)
    throw invariant_violation(std::string{"raft_log: "} + what);
}

} // namespace

raft_log::raft_log(std::vector<entry> entries, index_t prev_index,
                   std::optional<term_t> prev_term)
  : entries_(std::move(entries)), prev_index_(prev_index), prev_term_(prev_term) {
  check(prev_term_.has_value() || !entries_.empty(), "empty log with an unknown start");
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    check(entries_[i].index == prev_index_ + i + 1, "persisted entries are not contiguous");
    check(i == 0 || entries_[i].term >= entries_[i - 1].term, "persisted entry terms decrease");
  }
  check(entries_.empty() || !prev_term_ || entries_.front().term >= *prev_term_,
        "persisted entry terms decrease");
}

term_t raft_log::last_term() const {
  return entries_.empty() ? prev_term_.value_or(0) : entries_.back().term;
}

std::optional<term_t> raft_log::term_at(index_t index) const {
  if (index == prev_index_)
    return prev_term_;
  if (index < prev_index_ || index > last_index())
    return std::nullopt;
  return entries_[index - prev_index_ - 1].term;
}

const entry& raft_log::at(index_t index) const {
  check(index >= first_index() && index <= last_index(), "index out of range");
  return entries_[index - first_index()];
}

std::vector<entry> raft_log::slice(index_t from, std::size_t max_count) const {
  check(from >= first_index(), "slice below the first index");
  if (from > last_index())
    return {};
  auto begin = entries_.begin() + static_cast<std::ptrdiff_t>(from - first_index());
  auto count = std::min<std::size_t>(max_count, last_index() - from + 1);
  return {begin, begin + static_cast<std::ptrdiff_t>(count)};
}

index_t raft_log::first_index_of_term_at(index_t index) const {
  auto term = term_at(index);
  while (index > first_index() && term_at(index - 1) == term)
    --index;
  return index;
}

void raft_log::append(entry e) {
  check(e.index == last_index() + 1 && e.term >= last_term(), "append out of order");
  entries_.push_back(std::move(e));
}

void raft_log::truncate_from(index_t from) {
  check(from >= first_index() && from > 0, "truncate below the first index");
  if (from <= last_index())
    entries_.resize(from - first_index());
}

void raft_log::compact_before(index_t index) {
  check(index > first_index() && index <= last_index() + 1, "compact_before out of range");
  auto term = term_at(index - 1);
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - first_index()));
  prev_index_ = index - 1;
  prev_term_ = term;
}

bool raft_log::candidate_up_to_date(index_t last_index, term_t last_term) const {
  if (last_term != this->last_term())
    return last_term > this->last_term();
  return last_index >= this->last_index();
}

} // namespace troupe::raft
