// The cache: sharded storage with eviction, and the decisions of RFC 9111 4
// (constructing responses from caches) composed from rules.hpp.
#include "actors/edge/cache/cache.hpp"

#include "actors/edge/cache/shard.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace troupe::edge::cache {


namespace {

std::string lowered(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace

const char* to_string(lookup_kind kind) {
  switch (kind) {
    case lookup_kind::hit: return "hit";
    case lookup_kind::stale_while_revalidate: return "stale_while_revalidate";
    case lookup_kind::revalidate: return "revalidate";
    case lookup_kind::miss: return "miss";
    case lookup_kind::pass: return "pass";
    case lookup_kind::gateway_timeout: return "gateway_timeout";
  }
  return "unknown";
}

std::string cache_key(const request& req) {
  auto scheme = lowered(req.scheme);
  auto host = lowered(req.host);
  // The default port names the same origin (RFC 9110 4.2.1, 4.2.2).
  auto strip = [&](std::string_view port) {
    if (host.size() > port.size()
        && host.compare(host.size() - port.size(), port.size(), port) == 0)
      host.resize(host.size() - port.size());
  };
  if (scheme == "http")
    strip(":80");
  else if (scheme == "https")
    strip(":443");
  auto target = req.target.empty() ? std::string{"/"} : req.target;
  return scheme + "://" + host + target;
}

cache::cache(config cfg) : cfg_(std::move(cfg)) {
  auto n = std::bit_ceil(std::max<size_t>(cfg_.shards, 1));
  cfg_.shards = n;
  for (size_t i = 0; i < n; ++i) {
    auto s = std::make_unique<shard>();
    s->policy = make_eviction_policy(cfg_.eviction, cfg_.max_bytes / n);
    shards_.push_back(std::move(s));
  }
}

cache::~cache() = default;

cache::shard& cache::shard_for(std::string_view key) {
  auto h = std::hash<std::string_view>{}(key);
  return *shards_[h & (shards_.size() - 1)];
}

cache_stats cache::stats() const {
  cache_stats total;
  for (auto& s : shards_) {
    std::lock_guard guard{s->mu};
    auto& c = s->counters;
    total.hits += c.hits;
    total.stale_hits += c.stale_hits;
    total.revalidations += c.revalidations;
    total.revalidated_304 += c.revalidated_304;
    total.misses += c.misses;
    total.passes += c.passes;
    total.stores += c.stores;
    total.not_stored += c.not_stored;
    total.evictions += c.evictions;
    total.invalidations += c.invalidations;
    total.purged += c.purged;
    total.objects += c.objects;
    total.bytes += c.bytes;
  }
  return total;
}

std::string cache_key(std::string_view scheme, std::string_view host, std::string_view target) {
  request r;
  r.scheme = std::string{scheme};
  r.host = std::string{host};
  r.target = std::string{target};
  return cache_key(r);
}

size_t cache::purge_url(std::string_view scheme, std::string_view host,
                        std::string_view target, bool soft) {
  auto key = cache_key(scheme, host, target);
  auto& sh = shard_for(key);
  std::lock_guard guard{sh.mu};
  auto n = sh.purge(key, soft);
  sh.counters.purged += n;
  return n;
}

size_t cache::purge_key(std::string_view surrogate_key, bool soft) {
  size_t total = 0;
  std::string tag{surrogate_key};
  for (auto& sh : shards_) {
    std::lock_guard guard{sh->mu};
    auto t = sh->by_tag.find(tag);
    if (t == sh->by_tag.end())
      continue;
    std::vector<uint64_t> ids(t->second.begin(), t->second.end());
    for (auto id : ids)
      sh->purge_object(id, soft);
    sh->counters.purged += ids.size();
    total += ids.size();
  }
  return total;
}

size_t cache::clear() {
  size_t total = 0;
  for (auto& sh : shards_) {
    std::lock_guard guard{sh->mu};
    std::vector<uint64_t> ids;
    for (auto& [id, slot] : sh->objects)
      ids.push_back(id);
    for (auto id : ids)
      sh->remove_object(id);
    sh->urls.clear();
    sh->pass_markers = 0;
    total += ids.size();
  }
  return total;
}

bool cache::insert(const request& req, std::shared_ptr<const stored_response> s,
                   time_point now) {
  (void) now;
  if (!s || s->key != cache_key(req) || !s->body
      || !detail::vary_matches(*s, req, cfg_.limits)
      || charged_bytes(*s, cfg_) > cfg_.max_object_bytes + cfg_.object_overhead_bytes
                                    + s->key.size())
    return false;
  auto& sh = shard_for(s->key);
  std::lock_guard guard{sh.mu};
  bool ok = sh.store(std::move(s), cfg_);
  ++(ok ? sh.counters.stores : sh.counters.not_stored);
  return ok;
}

} // namespace troupe::edge::cache
