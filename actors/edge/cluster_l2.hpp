// The edge's L2 over the cache cluster (l2_tier.hpp, docs/edge.md "L2"):
// objects under "edge:<cache key>" with a TTL, and per surrogate key a set
// "edge-tag:<key>" of the cache keys it tags, so that a purge by key
// reaches objects no L1 holds any more.
#pragma once

#include "actors/cache/shard_client.hpp"
#include "actors/edge/l2_tier.hpp"

#include <atomic>
#include <memory>

namespace troupe::edge {

struct l2_counters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> skipped_large{0};
  std::atomic<uint64_t> hits_served{0}; // L2 answers an edge served from (after L1 took them)
};

class cluster_l2 : public l2_tier {
public:
  /// Objects above `max_object_bytes` are not offered; entries live `ttl_ms`.
  cluster_l2(std::shared_ptr<troupe::cache::shard_client> client, uint64_t max_object_bytes,
             uint64_t ttl_ms);

  void get(const std::string& key,
           std::function<void(std::optional<std::string>)> done) override;
  void put(const std::string& key, std::string bytes,
           const std::vector<std::string>& surrogate_keys) override;
  void remove(const std::string& key) override;
  void remove_tagged(const std::string& tag) override;
  bool enabled() const override;

  l2_counters& counters() noexcept {
    return counters_;
  }
  troupe::cache::shard_client& client() noexcept {
    return *client_;
  }

private:
  std::shared_ptr<troupe::cache::shard_client> client_;
  uint64_t max_object_bytes_;
  uint64_t ttl_ms_;
  l2_counters counters_;
};

} // namespace troupe::edge
