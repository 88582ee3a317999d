#include "actors/cache/evict.hpp"

#include <algorithm>

namespace troupe::cache {

void node_fifo::push_head(evict_node* n) {
  n->prev = nullptr;
  n->next = head;
  if (head)
    head->prev = n;
  head = n;
  if (!tail)
    tail = n;
  bytes += n->bytes;
  ++count;
}

void node_fifo::unlink(evict_node* n) {
  if (n->prev)
    n->prev->next = n->next;
  else
    head = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    tail = n->prev;
  n->prev = n->next = nullptr;
  bytes -= n->bytes;
  --count;
}

void s3fifo::insert(evict_node* n) {
  n->freq = 0;
  if (in_ghost(n->hash)) {
    n->queue = 2;
    main_.push_head(n);
  } else {
    n->queue = 1;
    small_.push_head(n);
  }
}

void s3fifo::remove(evict_node* n) {
  if (n->queue == 1)
    small_.unlink(n);
  else if (n->queue == 2)
    main_.unlink(n);
  n->queue = 0;
}

void s3fifo::resize(evict_node* n, uint64_t bytes) {
  auto& q = n->queue == 1 ? small_ : main_;
  if (n->queue != 0)
    q.bytes = q.bytes - n->bytes + bytes;
  n->bytes = bytes;
}

evict_node* s3fifo::victim() {
  // Each pass moves one node (S -> M or G, or M's tail to M's head with
  // freq - 1), so at most 4 passes per node in M plus one per node in S.
  for (size_t guard = 0; guard < 8 * count() + 8; ++guard) {
    bool from_small = small_.tail
                      && (small_.bytes >= small_ratio_ * static_cast<double>(bytes())
                          || !main_.tail);
    if (from_small) {
      auto* t = small_.tail;
      if (t->freq >= promote_freq_) {
        small_.unlink(t);
        t->freq = 0;
        t->queue = 2;
        main_.push_head(t);
        continue;
      }
      add_ghost(t->hash);
      return t;
    }
    auto* t = main_.tail;
    if (!t)
      return nullptr;
    if (t->freq > 0) {
      main_.unlink(t);
      --t->freq;
      main_.push_head(t);
      continue;
    }
    return t;
  }
  return main_.tail ? main_.tail : small_.tail;
}

bool s3fifo::in_ghost(uint64_t hash) {
  auto i = ghost_.find(hash);
  return i != ghost_.end();
}

void s3fifo::add_ghost(uint64_t hash) {
  ghost_fifo_.push_back(hash);
  ++ghost_[hash];
  // The ghost remembers about as many objects as M holds.
  size_t cap = std::max<size_t>(main_.count, 16);
  while (ghost_fifo_.size() > cap) {
    auto old = ghost_fifo_.front();
    ghost_fifo_.pop_front();
    auto i = ghost_.find(old);
    if (i != ghost_.end() && --i->second == 0)
      ghost_.erase(i);
  }
}

void s3fifo::clear() {
  small_ = {};
  main_ = {};
  ghost_fifo_.clear();
  ghost_.clear();
}

} // namespace troupe::cache
