// S3-FIFO and LRU over byte budgets. S3-FIFO follows the algorithm of Yang
// et al., "FIFO queues are all you need for cache eviction" (SOSP 2023),
// written from the paper's description: small queue S (10% of bytes), main
// queue M, ghost queue G of ids; 2-bit access counters.
#include "actors/edge/cache/eviction.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
#include <list>
#include <unordered_map>

namespace troupe::edge::cache {

namespace {

struct node {
  uint64_t id;
  size_t bytes;
  uint8_t freq = 0;
  bool in_main = false;
};

class s3fifo final : public eviction_policy {
public:
  explicit s3fifo(size_t budget) : budget_(budget) {
  }

  void insert(uint64_t id, size_t bytes,
              std::vector<uint64_t>& evicted) override {
    assert(!index_.count(id));
    if (bytes > budget_) {
      evicted.push_back(id);
      return;
    }
    bool ghost_hit = ghost_take(id);
    auto& q = ghost_hit ? main_ : small_;
    q.push_front(node{id, bytes, 0, ghost_hit});
    index_[id] = q.begin();
    (ghost_hit ? main_bytes_ : small_bytes_) += bytes;
    while (main_bytes_ + small_bytes_ > budget_)
      evict_one(evicted);
  }

  void touch(uint64_t id) override {
    auto i = index_.find(id);
    if (i != index_.end() && i->second->freq < 3)
      ++i->second->freq;
  }

  void erase(uint64_t id) override {
    auto i = index_.find(id);
    if (i == index_.end())
      return;
    auto it = i->second;
    if (it->in_main) {
      main_bytes_ -= it->bytes;
      main_.erase(it);
    } else {
      small_bytes_ -= it->bytes;
      small_.erase(it);
    }
    index_.erase(i);
  }

  size_t bytes() const override {
    return main_bytes_ + small_bytes_;
  }

  size_t size() const override {
    return index_.size();
  }

private:
  void evict_one(std::vector<uint64_t>& evicted) {
    // The newest object sits at the front of S; S is only evicted from
    // while it holds more than that one object, so an insert never evicts
    // itself when M has room to give.
    bool from_small = (small_bytes_ > budget_ / 10 && small_.size() > 1)
                      || main_.empty();
    if (from_small)
      evict_small(evicted);
    else
      evict_main(evicted);
  }

  // The tail of S goes to M if it was hit while in S, else out (to G).
  void evict_small(std::vector<uint64_t>& evicted) {
    auto it = std::prev(small_.end());
    small_bytes_ -= it->bytes;
    if (it->freq >= 1) {
      it->freq = 0;
      it->in_main = true;
      main_bytes_ += it->bytes;
      main_.splice(main_.begin(), small_, it);
      return;
    }
    evicted.push_back(it->id);
    ghost_add(it->id);
    index_.erase(it->id);
    small_.erase(it);
  }

  // The tail of M is reinserted while its counter is above zero
  // (decremented each time), else evicted.
  void evict_main(std::vector<uint64_t>& evicted) {
    while (true) {
      auto it = std::prev(main_.end());
      if (it->freq > 0) {
        --it->freq;
        main_.splice(main_.begin(), main_, it);
        continue;
      }
      main_bytes_ -= it->bytes;
      evicted.push_back(it->id);
      index_.erase(it->id);
      main_.erase(it);
      return;
    }
  }

  // G remembers as many ids as the cache holds objects (at least 1024),
  // FIFO; entries are removed lazily by sequence number.
  void ghost_add(uint64_t id) {
    auto seq = ++ghost_seq_;
    ghost_[id] = seq;
    ghost_fifo_.emplace_back(id, seq);
    size_t limit = std::max<size_t>(index_.size(), 1024);
    while (ghost_.size() > limit && !ghost_fifo_.empty()) {
      auto [old, old_seq] = ghost_fifo_.front();
      ghost_fifo_.pop_front();
      auto g = ghost_.find(old);
      if (g != ghost_.end() && g->second == old_seq)
        ghost_.erase(g);
    }
    // Stale fifo entries (ids taken back out) are bounded by 2x the limit.
    while (ghost_fifo_.size() > 2 * limit) {
      auto [old, old_seq] = ghost_fifo_.front();
      ghost_fifo_.pop_front();
      auto g = ghost_.find(old);
      if (g != ghost_.end() && g->second == old_seq)
        ghost_.erase(g);
    }
  }

  bool ghost_take(uint64_t id) {
    auto g = ghost_.find(id);
    if (g == ghost_.end())
      return false;
    ghost_.erase(g);
    return true;
  }

  size_t budget_;
  std::list<node> small_, main_; // front: newest
  size_t small_bytes_ = 0, main_bytes_ = 0;
  std::unordered_map<uint64_t, std::list<node>::iterator> index_;
  std::unordered_map<uint64_t, uint64_t> ghost_;
  std::deque<std::pair<uint64_t, uint64_t>> ghost_fifo_;
  uint64_t ghost_seq_ = 0;
};

class lru final : public eviction_policy {
public:
  explicit lru(size_t budget) : budget_(budget) {
  }

  void insert(uint64_t id, size_t bytes,
              std::vector<uint64_t>& evicted) override {
    assert(!index_.count(id));
    if (bytes > budget_) {
      evicted.push_back(id);
      return;
    }
    list_.push_front(node{id, bytes});
    index_[id] = list_.begin();
    bytes_ += bytes;
    while (bytes_ > budget_) {
      auto it = std::prev(list_.end());
      bytes_ -= it->bytes;
      evicted.push_back(it->id);
      index_.erase(it->id);
      list_.erase(it);
    }
  }

  void touch(uint64_t id) override {
    auto i = index_.find(id);
    if (i != index_.end())
      list_.splice(list_.begin(), list_, i->second);
  }

  void erase(uint64_t id) override {
    auto i = index_.find(id);
    if (i == index_.end())
      return;
    bytes_ -= i->second->bytes;
    list_.erase(i->second);
    index_.erase(i);
  }

  size_t bytes() const override {
    return bytes_;
  }

  size_t size() const override {
    return index_.size();
  }

private:
  size_t budget_;
  std::list<node> list_;
  size_t bytes_ = 0;
  std::unordered_map<uint64_t, std::list<node>::iterator> index_;
};

} // namespace

bool parse_eviction_kind(std::string_view text, eviction_kind& out) {
  if (text == "s3fifo")
    out = eviction_kind::s3fifo;
  else if (text == "lru")
    out = eviction_kind::lru;
  else
    return false;
  return true;
}

std::unique_ptr<eviction_policy> make_eviction_policy(eviction_kind kind,
                                                      size_t budget_bytes) {
  if (kind == eviction_kind::lru)
    return std::make_unique<lru>(budget_bytes);
  return std::make_unique<s3fifo>(budget_bytes);
}

} // namespace troupe::edge::cache
