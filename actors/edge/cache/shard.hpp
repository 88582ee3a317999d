// Internal to the cache core: one lock shard's storage (indexes, eviction,
// hit-for-pass markers, background revalidation claims). Every member
// function expects the caller to hold `mu`.
#pragma once

#include "actors/edge/cache/cache.hpp"
#include "actors/edge/cache/rules.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace troupe::edge::cache {

struct pending_validation {
  std::shared_ptr<const stored_response> stored;
  uint64_t id = 0;
};

namespace detail {

using stored_ptr = std::shared_ptr<const stored_response>;

inline uint64_t object_id(
  const std::string& key,
  const std::vector<std::pair<std::string, std::string>>& vary) {
  std::string s = key;
  for (auto& [n, v] : vary) {
    s.push_back('\0');
    s += n;
    s.push_back('\0');
    s += v;
  }
  return std::hash<std::string>{}(s);
}

inline size_t charged_bytes(const stored_response& s, const config& cfg) {
  size_t n = cfg.object_overhead_bytes + s.key.size() + s.body->size();
  for (auto& [k, v] : s.headers)
    n += k.size() + v.size();
  return n;
}

} // namespace detail

using detail::stored_ptr;
using detail::object_id;
using detail::charged_bytes;

struct object_slot {
  stored_ptr s;
  size_t charged = 0;
  /// When a background revalidation was handed out, if one is running.
  std::optional<time_point> background_since;
};

struct url_entry {
  std::vector<uint64_t> variants; // oldest first
  std::optional<time_point> pass_until;
};

struct cache::shard {
  std::mutex mu;
  std::unordered_map<std::string, url_entry> urls;
  std::unordered_map<uint64_t, object_slot> objects;
  std::unordered_map<std::string, std::unordered_set<uint64_t>> by_tag;
  std::unique_ptr<eviction_policy> policy;
  size_t pass_markers = 0;
  cache_stats counters;

  // Drops `id` from the indexes (the policy too, unless it evicted it).
  void remove_object(uint64_t id) {
    auto it = objects.find(id);
    if (it == objects.end())
      return;
    policy->erase(id);
    for (auto& tag : it->second.s->surrogate_keys) {
      auto t = by_tag.find(tag);
      if (t == by_tag.end())
        continue;
      t->second.erase(id);
      if (t->second.empty())
        by_tag.erase(t);
    }
    auto u = urls.find(it->second.s->key);
    if (u != urls.end()) {
      std::erase(u->second.variants, id);
      if (u->second.variants.empty() && !u->second.pass_until)
        urls.erase(u);
    }
    counters.bytes -= it->second.charged;
    --counters.objects;
    objects.erase(it);
  }

  void clear_pass_marker(url_entry& u) {
    if (u.pass_until) {
      u.pass_until.reset();
      --pass_markers;
    }
  }

  // Stores `s`, replacing the same variant and the oldest beyond
  // max_variants, then evicts to the budget. Returns whether `s` is held.
  bool store(stored_ptr s, const config& cfg) {
    auto id = object_id(s->key, s->vary_values);
    if (auto it = objects.find(id); it != objects.end()) {
      const auto& old = *it->second.s;
      if (old.key != s->key || old.vary_values != s->vary_values)
        return false; // a hash collision: keep the one stored
      remove_object(id);
    }
    {
      auto& u = urls[s->key];
      clear_pass_marker(u);
      if (u.variants.size() >= std::max<size_t>(cfg.max_variants, 1))
        remove_object(u.variants.front());
    }
    auto charged = charged_bytes(*s, cfg);
    urls[s->key].variants.push_back(id);
    for (auto& tag : s->surrogate_keys)
      by_tag[tag].insert(id);
    objects[id] = object_slot{s, charged, std::nullopt};
    counters.bytes += charged;
    ++counters.objects;
    std::vector<uint64_t> evicted;
    policy->insert(id, charged, evicted);
    for (auto e : evicted) {
      remove_object(e);
      ++counters.evictions;
    }
    return objects.count(id) > 0;
  }

  // The newest variant stored for `key` that matches `req`'s Vary.
  struct selection {
    stored_ptr s;
    uint64_t id = 0;
    bool url_known = false;
    bool pass_marker = false;
  };
  selection select(const std::string& key, const request& req, time_point now,
                   const config& cfg) {
    selection out;
    auto u = urls.find(key);
    if (u == urls.end())
      return out;
    out.url_known = !u->second.variants.empty();
    for (auto v = u->second.variants.rbegin(); v != u->second.variants.rend();
         ++v) {
      auto& slot = objects.at(*v);
      if (detail::vary_matches(*slot.s, req, cfg.limits)) {
        out.s = slot.s;
        out.id = *v;
        policy->touch(*v);
        return out;
      }
    }
    if (u->second.pass_until) {
      if (*u->second.pass_until > now) {
        out.pass_marker = true;
      } else {
        clear_pass_marker(u->second);
        if (u->second.variants.empty())
          urls.erase(u);
      }
    }
    return out;
  }

  void remember_pass(const std::string& key, time_point until,
                     const config& cfg) {
    auto u = urls.find(key);
    if (u != urls.end() && u->second.pass_until) {
      u->second.pass_until = until;
      return;
    }
    if (pass_markers >= cfg.max_hit_for_pass_per_shard)
      return;
    urls[key].pass_until = until;
    ++pass_markers;
  }

  // Claims the one background revalidation of `id`.
  bool claim_background(uint64_t id, time_point now, const config& cfg) {
    auto it = objects.find(id);
    if (it == objects.end())
      return false;
    auto& since = it->second.background_since;
    if (since && now - *since < cfg.background_timeout)
      return false;
    since = now;
    return true;
  }

  void release_background(uint64_t id) {
    auto it = objects.find(id);
    if (it != objects.end())
      it->second.background_since.reset();
  }

  // Removes or marks stale every variant of `key`; returns how many.
  size_t purge(const std::string& key, bool soft) {
    auto u = urls.find(key);
    if (u == urls.end())
      return 0;
    auto ids = u->second.variants;
    if (!soft) {
      clear_pass_marker(u->second);
      if (ids.empty())
        urls.erase(u);
    }
    for (auto id : ids)
      purge_object(id, soft);
    return ids.size();
  }

  void purge_object(uint64_t id, bool soft) {
    if (!soft) {
      remove_object(id);
      return;
    }
    auto it = objects.find(id);
    if (it == objects.end() || it->second.s->invalidated)
      return;
    auto copy = std::make_shared<stored_response>(*it->second.s);
    copy->invalidated = true;
    it->second.s = std::move(copy);
  }
};

} // namespace troupe::edge::cache
