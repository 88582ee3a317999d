// Byte-budgeted eviction policies over opaque object ids. The cache uses
// one per shard; bench/edge/hit_ratio compares them on a Zipf workload.
// Not thread-safe: the owner locks. docs/edge-caching.md says why S3-FIFO.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace troupe::edge::cache {

enum class eviction_kind {
  /// S3-FIFO (Yang et al., SOSP 2023): a small FIFO (10% of the budget) for
  /// new objects, a main FIFO with 2-bit access counters and reinsertion,
  /// and a ghost FIFO of recently evicted ids. One-hit wonders leave from
  /// the small queue without disturbing the main one; a hit only bumps a
  /// counter (no list move).
  s3fifo,
  /// Least recently used: the baseline.
  lru,
};

/// Parses "s3fifo" or "lru"; false for anything else.
bool parse_eviction_kind(std::string_view text, eviction_kind& out);

class eviction_policy {
public:
  virtual ~eviction_policy() = default;

  /// Adds object `id` of `bytes`. Appends to `evicted` the ids it removes to
  /// stay within the budget (never `id` itself unless `bytes` alone exceeds
  /// the budget). `id` must not be present.
  virtual void insert(uint64_t id, size_t bytes,
                      std::vector<uint64_t>& evicted) = 0;

  /// Records a hit on `id`; ignored if absent.
  virtual void touch(uint64_t id) = 0;

  /// Removes `id` (purge, replacement); ignored if absent.
  virtual void erase(uint64_t id) = 0;

  /// Bytes of the objects held.
  virtual size_t bytes() const = 0;

  /// Objects held.
  virtual size_t size() const = 0;
};

/// A policy of `kind` holding at most `budget_bytes`.
std::unique_ptr<eviction_policy> make_eviction_policy(eviction_kind kind,
                                                      size_t budget_bytes);

} // namespace troupe::edge::cache
