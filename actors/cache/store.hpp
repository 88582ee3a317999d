// One shard of the cache's keyspace: a hash table of entries with lazy and
// active expiry, memory accounting and S3-FIFO eviction. Plain C++, not
// thread-safe: the engine (engine.hpp) holds each shard's mutex around every
// call. Time comes in as `now_ms` (wall clock milliseconds, as Redis's
// absolute expiry times are), so tests drive it.
#pragma once

#include "actors/cache/evict.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace troupe::cache {

enum class vtype : uint8_t { string, list, hash, set, zset };

/// The name TYPE replies with: "string", "list", "hash", "set", "zset".
const char* type_name(vtype t);

using list_value = std::deque<std::string>;
using hash_value = std::unordered_map<std::string, std::string>;
using set_value = std::unordered_set<std::string>;
struct zset_value {
  std::unordered_map<std::string, double> scores;
  std::set<std::pair<double, std::string>> order; // by score, then member
};
using container = std::variant<list_value, hash_value, set_value, zset_value>;

/// Bytes charged per container element on top of its payload (node,
/// pointers, allocator overhead), an estimate in the spirit of Redis's
/// used_memory.
constexpr uint64_t element_overhead = 48;

/// An entry is its own eviction node (hash, charged bytes, queue links).
struct entry : evict_node {
  entry* chain = nullptr; // next entry in the same bucket
  int64_t expire_ms = 0;  // absolute, 0: no expiry
  uint32_t volatile_pos = UINT32_MAX;
  vtype type = vtype::string;
  uint64_t payload_bytes = 0; // container elements' charged bytes
  std::string key;
  std::string str;                // vtype::string
  std::unique_ptr<container> obj; // other types

  list_value& as_list() { return std::get<list_value>(*obj); }
  hash_value& as_hash() { return std::get<hash_value>(*obj); }
  set_value& as_set() { return std::get<set_value>(*obj); }
  zset_value& as_zset() { return std::get<zset_value>(*obj); }
};

/// What a lookup counts toward INFO's keyspace_hits/misses.
enum class access { read, write };

struct shard_stats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t expired = 0;
  uint64_t evicted = 0;
};

class shard {
public:
  shard();
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  /// Bytes this shard may charge before it evicts; 0: no limit.
  void set_budget(uint64_t bytes) noexcept {
    budget_ = bytes;
  }
  /// Evicted keys are appended here while set (replication sends them as
  /// DEL); null: not recorded.
  void set_evict_log(std::vector<std::string>* log) noexcept {
    evict_log_ = log;
  }

  /// The live entry for `key`, or null. Deletes it first if it has expired
  /// (lazy expiry). A read counts a hit or a miss; a read hit also counts
  /// as an access for eviction.
  entry* find(std::string_view key, int64_t now_ms, access a = access::read);

  /// Creates an entry of type `t` (the key must not exist live).
  entry* create(std::string_view key, vtype t);

  /// Deletes the entry. Returns true.
  bool erase(entry* e);
  /// Deletes `key` if live; returns whether it was.
  bool erase(std::string_view key, int64_t now_ms);

  /// Sets or clears (0) the absolute expiry of `e`.
  void set_expire(entry* e, int64_t at_ms);

  /// Recomputes `e`'s charged size after its value changed, then evicts
  /// while over budget (never `e` itself). Call after every write.
  void charge(entry* e);
  /// Evicts while over budget, sparing `keep` (may be null).
  void evict_over_budget(const entry* keep);

  /// Active expiry: samples up to `samples` keys with an expiry and deletes
  /// the expired ones. Returns how many it deleted.
  size_t expire_sample(int64_t now_ms, size_t samples);

  /// One step of SCAN over this shard: visits the bucket at `cursor` (and
  /// the buckets that map to it in a smaller table) and returns the next
  /// cursor, 0 when done. Guarantees Redis's SCAN contract: an entry live
  /// for the whole scan is returned at least once, across resizes.
  uint64_t scan(uint64_t cursor, int64_t now_ms,
                const std::function<void(entry&)>& visit);

  /// Any live entry, or null (RANDOMKEY).
  entry* random_entry(int64_t now_ms);

  void clear();

  size_t size() const noexcept {
    return size_;
  }
  size_t volatile_count() const noexcept {
    return volatile_.size();
  }
  uint64_t used_bytes() const noexcept {
    return used_;
  }
  const shard_stats& stats() const noexcept {
    return stats_;
  }
  void reset_stats() noexcept {
    stats_ = {};
  }

private:
  uint64_t charged(const entry& e) const;
  void unlink(entry* e);
  void maybe_resize();
  void rehash(size_t buckets);

  std::vector<entry*> buckets_;
  size_t size_ = 0;
  uint64_t used_ = 0;
  uint64_t budget_ = 0;
  std::vector<entry*> volatile_; // entries with an expiry, for sampling
  s3fifo policy_;
  shard_stats stats_;
  std::minstd_rand rng_{12345};
  std::vector<std::string>* evict_log_ = nullptr;
};

/// The hash of a key, shared by the table and the ghost queue.
uint64_t key_hash(std::string_view key);

} // namespace troupe::cache
