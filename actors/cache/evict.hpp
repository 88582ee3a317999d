// S3-FIFO eviction (Yang et al., SOSP 2023): a small FIFO queue S that new
// objects enter, a main FIFO queue M, and a ghost queue G of hashes of
// objects recently evicted from S. Objects accessed while in S move to M
// when they reach S's tail; the others leave (their hash enters G). A new
// object whose hash is in G enters M directly. M evicts from its tail,
// reinserting objects whose frequency (0..3) is above zero, decremented.
// docs/cache.md compares it with LRU on Zipf workloads (bench/cache/).
//
// The policy is intrusive and not thread-safe: each entry embeds an
// evict_node, and the owner (one keyspace shard, under its lock) calls
// insert/touch/remove and asks victim() what to evict next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

namespace troupe::cache {

struct evict_node {
  evict_node* prev = nullptr;
  evict_node* next = nullptr;
  uint64_t bytes = 0;   // charged size, set by the owner before insert
  uint64_t hash = 0;    // key hash, for the ghost queue
  uint8_t freq = 0;
  uint8_t queue = 0;    // 0: none, 1: small, 2: main
};

/// A doubly linked FIFO of evict_nodes: push at the head, pop at the tail.
struct node_fifo {
  evict_node* head = nullptr;
  evict_node* tail = nullptr;
  uint64_t bytes = 0;
  size_t count = 0;
  void push_head(evict_node* n);
  void unlink(evict_node* n);
};

class s3fifo {
public:
  /// `small_ratio`: S's share of the bytes in the cache (the paper's 10%).
  /// `promote_freq`: accesses in S needed to move to M (1: any access).
  explicit s3fifo(double small_ratio = 0.1, uint8_t promote_freq = 1) :
    small_ratio_(small_ratio), promote_freq_(promote_freq) {}

  void insert(evict_node* n);
  /// An access: frequency +1, capped at 3. O(1), moves nothing.
  void touch(evict_node* n) noexcept {
    if (n->freq < 3)
      ++n->freq;
  }
  /// The node leaves the cache (deleted, expired or evicted).
  void remove(evict_node* n);
  /// Changes a node's charged size in place.
  void resize(evict_node* n, uint64_t bytes);
  /// The next node to evict, after moving nodes between queues as the
  /// algorithm says; null when empty. The caller removes it (remove()).
  evict_node* victim();

  uint64_t bytes() const noexcept {
    return small_.bytes + main_.bytes;
  }
  size_t count() const noexcept {
    return small_.count + main_.count;
  }
  /// Drops every node and the ghost queue (FLUSHALL).
  void clear();

private:
  bool in_ghost(uint64_t hash);
  void add_ghost(uint64_t hash);
  double small_ratio_;
  uint8_t promote_freq_;
  node_fifo small_;
  node_fifo main_;
  // Ghost: hash -> how many copies are queued; FIFO bounded by main_.count.
  std::deque<uint64_t> ghost_fifo_;
  std::unordered_map<uint64_t, uint32_t> ghost_;
};

} // namespace troupe::cache
