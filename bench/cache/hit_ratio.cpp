// Hit ratio of the cache's eviction policy (S3-FIFO, actors/cache/evict.hpp)
// against LRU on Zipf-distributed requests, the justification for the
// choice in docs/cache.md. Every object has the same size, so the cache
// holds `capacity` objects; a miss inserts the object (a read-through cache).
//
//   cache_hit_ratio_bench [--objects N] [--requests N] [--seed S]
//
// Prints one line per (alpha, cache size) with both hit ratios.
#include "actors/cache/evict.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using troupe::cache::evict_node;
using troupe::cache::s3fifo;

namespace {

class zipf {
public:
  zipf(size_t n, double alpha) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
      cdf_[i] = sum += 1.0 / std::pow(double(i + 1), alpha);
    for (auto& x : cdf_)
      x /= sum;
  }
  template <class Rng>
  size_t operator()(Rng& rng) {
    double u = std::uniform_real_distribution<double>{0, 1}(rng);
    return static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

private:
  std::vector<double> cdf_;
};

double run_lru(const std::vector<uint32_t>& trace, size_t capacity) {
  std::list<uint32_t> order;
  std::unordered_map<uint32_t, std::list<uint32_t>::iterator> where;
  size_t hits = 0;
  for (auto k : trace) {
    auto it = where.find(k);
    if (it != where.end()) {
      ++hits;
      order.splice(order.begin(), order, it->second);
      continue;
    }
    if (where.size() >= capacity) {
      where.erase(order.back());
      order.pop_back();
    }
    order.push_front(k);
    where[k] = order.begin();
  }
  return double(hits) / double(trace.size());
}

struct object : evict_node {
  uint32_t key = 0;
};

double run_s3fifo(const std::vector<uint32_t>& trace, size_t capacity, uint8_t promote) {
  s3fifo policy{0.1, promote};
  std::unordered_map<uint32_t, std::unique_ptr<object>> where;
  size_t hits = 0;
  for (auto k : trace) {
    auto it = where.find(k);
    if (it != where.end()) {
      ++hits;
      policy.touch(it->second.get());
      continue;
    }
    while (where.size() >= capacity) {
      auto* v = static_cast<object*>(policy.victim());
      policy.remove(v);
      where.erase(v->key);
    }
    auto o = std::make_unique<object>();
    o->key = k;
    o->bytes = 1;
    o->hash = std::hash<uint32_t>{}(k) * 0x9e3779b97f4a7c15ULL;
    policy.insert(o.get());
    where.emplace(k, std::move(o));
  }
  return double(hits) / double(trace.size());
}

size_t arg(int argc, char** argv, const char* name, size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::strtoull(argv[i + 1], nullptr, 10);
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  size_t objects = arg(argc, argv, "--objects", 100000);
  size_t requests = arg(argc, argv, "--requests", 2000000);
  size_t seed = arg(argc, argv, "--seed", 42);
  std::printf("objects=%zu requests=%zu seed=%zu (hit ratio, higher is better)\n", objects,
              requests, seed);
  std::printf("%-6s %-8s %-8s %-10s %-12s %s\n", "alpha", "cache", "LRU", "S3-FIFO",
              "S3-FIFO(f>=2)", "S3-FIFO minus LRU");
  for (double alpha : {0.7, 0.9, 0.99, 1.2}) {
    zipf z{objects, alpha};
    std::mt19937_64 rng{seed};
    // Ranks are scattered over the key space, so key order says nothing.
    std::vector<uint32_t> perm(objects);
    for (size_t i = 0; i < objects; ++i)
      perm[i] = static_cast<uint32_t>(i);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<uint32_t> trace(requests);
    for (auto& t : trace)
      t = perm[z(rng)];
    for (double share : {0.001, 0.01, 0.05, 0.1}) {
      auto cap = std::max<size_t>(10, static_cast<size_t>(share * double(objects)));
      double lru = run_lru(trace, cap);
      double s3 = run_s3fifo(trace, cap, 1);
      double s3b = run_s3fifo(trace, cap, 2);
      std::printf("%-6.2f %-8s %-8.4f %-10.4f %-12.4f %+.4f\n", alpha,
                  (std::to_string(share * 100).substr(0, 4) + "%").c_str(), lru, s3, s3b,
                  s3 - lru);
    }
  }
  return 0;
}
