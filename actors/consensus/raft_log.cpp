#include "actors/consensus/raft_log.hpp"

#include <algorithm>

namespace troupe::raft {

raft_log::raft_log(std::vector<entry> entries) : entries_(std::move(entries)) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index != i + 1)
      throw invariant_violation("raft_log: persisted entries are not contiguous from 1");
    if (i > 0 && entries_[i].term < entries_[i - 1].term)
      throw invariant_violation("raft_log: persisted entry terms decrease");
  }
}

std::optional<term_t> raft_log::term_at(index_t index) const {
  if (index == 0)
    return 0;
  if (index > last_index())
    return std::nullopt;
  return entries_[index - 1].term;
}

const entry& raft_log::at(index_t index) const {
  if (index == 0 || index > last_index())
    throw invariant_violation("raft_log: index out of range");
  return entries_[index - 1];
}

std::vector<entry> raft_log::slice(index_t from, std::size_t max_count) const {
  if (from == 0 || from > last_index())
    return {};
  auto begin = entries_.begin() + static_cast<std::ptrdiff_t>(from - 1);
  auto count = std::min<std::size_t>(max_count, last_index() - from + 1);
  return {begin, begin + static_cast<std::ptrdiff_t>(count)};
}

index_t raft_log::first_index_of_term_at(index_t index) const {
  auto term = term_at(index).value_or(0);
  while (index > 1 && entries_[index - 2].term == term)
    --index;
  return index;
}

void raft_log::append(entry e) {
  if (e.index != last_index() + 1 || e.term < last_term())
    throw invariant_violation("raft_log: append out of order");
  entries_.push_back(std::move(e));
}

void raft_log::truncate_from(index_t from) {
  if (from == 0)
    throw invariant_violation("raft_log: truncate_from(0)");
  if (from <= last_index())
    entries_.resize(from - 1);
}

bool raft_log::candidate_up_to_date(index_t last_index, term_t last_term) const {
  if (last_term != this->last_term())
    return last_term > this->last_term();
  return last_index >= this->last_index();
}

} // namespace troupe::raft
