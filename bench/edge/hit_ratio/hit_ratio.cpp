// edge_hit_ratio: the hit ratio of the edge cache's eviction policies
// (S3-FIFO, LRU) on Zipf workloads with a cache smaller than the object set.
// Deterministic (seeded); results and the command are in
// docs/edge-caching.md. Two passes per case:
//   policy: the eviction policy alone (eviction.hpp), one object per key;
//   cache:  the whole cache core (lookup / on_origin_response) with its lock
//           shards, so that the number also covers the integration.
//
//   edge_hit_ratio [--objects N] [--requests N] [--seed S] [--quick]
#include "actors/edge/cache/cache.hpp"
#include "actors/edge/cache/eviction.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace ec = troupe::edge::cache;

namespace {

struct options {
  size_t objects = 100'000;
  size_t requests = 2'000'000;
  uint64_t seed = 1;
};

// Zipf(alpha) over [0, n) by inverse CDF.
class zipf {
public:
  zipf(size_t n, double alpha) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
      cdf_[i] = sum;
    }
    for (auto& c : cdf_)
      c /= sum;
  }
  size_t operator()(std::mt19937_64& rng) {
    double u = std::uniform_real_distribution<double>{0, 1}(rng);
    auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<size_t>(it - cdf_.begin(), cdf_.size() - 1);
  }

private:
  std::vector<double> cdf_;
};

// Object sizes: log-uniform from 1 KiB to 256 KiB, fixed per object. The
// popularity rank is shuffled against the size so hot objects are not
// systematically small or large.
std::vector<size_t> object_sizes(size_t n, uint64_t seed) {
  std::mt19937_64 rng{seed ^ 0x5eed};
  std::uniform_real_distribution<double> e{std::log(1024.0), std::log(262144.0)};
  std::vector<size_t> out(n);
  for (auto& s : out)
    s = static_cast<size_t>(std::exp(e(rng)));
  return out;
}

struct result {
  uint64_t hits = 0, requests = 0, hit_bytes = 0, bytes = 0;
  double ratio() const {
    return requests ? static_cast<double>(hits) / static_cast<double>(requests) : 0;
  }
  double byte_ratio() const {
    return bytes ? static_cast<double>(hit_bytes) / static_cast<double>(bytes) : 0;
  }
};

// Object ids are permuted so ids carry no popularity order.
std::vector<uint64_t> permutation(size_t n, uint64_t seed) {
  std::vector<uint64_t> p(n);
  for (size_t i = 0; i < n; ++i)
    p[i] = i + 1;
  std::mt19937_64 rng{seed ^ 0xabcdef};
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

result run_policy(ec::eviction_kind kind, size_t budget, double alpha,
                  const options& o, const std::vector<size_t>& sizes,
                  const std::vector<uint64_t>& ids) {
  auto policy = ec::make_eviction_policy(kind, budget);
  std::vector<char> present(o.objects + 1, 0);
  std::vector<uint64_t> evicted;
  zipf z{o.objects, alpha};
  std::mt19937_64 rng{o.seed};
  result r;
  for (size_t i = 0; i < o.requests; ++i) {
    auto rank = z(rng);
    auto id = ids[rank];
    auto size = sizes[rank];
    ++r.requests;
    r.bytes += size;
    if (present[id]) {
      ++r.hits;
      r.hit_bytes += size;
      policy->touch(id);
      continue;
    }
    evicted.clear();
    policy->insert(id, size, evicted);
    present[id] = 1;
    for (auto e : evicted)
      present[e] = 0;
  }
  return r;
}

result run_cache(ec::eviction_kind kind, size_t budget, double alpha,
                 const options& o, const std::vector<size_t>& sizes,
                 const std::vector<uint64_t>& ids) {
  ec::config cfg;
  cfg.max_bytes = budget;
  cfg.eviction = kind;
  cfg.object_overhead_bytes = 0;
  ec::cache c{cfg};
  zipf z{o.objects, alpha};
  std::mt19937_64 rng{o.seed};
  auto now = ec::time_point{std::chrono::seconds{1'800'000'000}};
  std::vector<std::shared_ptr<const std::string>> bodies;
  result r;
  std::string date = ec::format_http_date(now);
  for (size_t i = 0; i < o.requests; ++i) {
    auto rank = z(rng);
    auto size = sizes[rank];
    ec::request req{"GET", "http", "bench", "/o/" + std::to_string(ids[rank]), {}};
    ++r.requests;
    r.bytes += size;
    auto d = c.lookup(req, now);
    if (d.kind == ec::lookup_kind::hit) {
      ++r.hits;
      r.hit_bytes += size;
      continue;
    }
    ec::response origin;
    origin.headers = {{"Cache-Control", "max-age=31536000"}, {"Date", date}};
    // Header bytes count against the budget too; the body makes up the rest.
    origin.body = std::make_shared<const std::string>(size, 'x');
    c.on_origin_response(req, d, std::move(origin), now, now, now, false);
  }
  return r;
}

void print_row(const char* pass, double alpha, double cache_pct, const result& lru,
               const result& s3) {
  std::printf("%-6s %5.2f %7.1f%%   %6.2f%%  %6.2f%%  %+6.2f pp   %6.2f%%  %6.2f%%\n",
              pass, alpha, cache_pct, 100 * lru.ratio(), 100 * s3.ratio(),
              100 * (s3.ratio() - lru.ratio()), 100 * lru.byte_ratio(),
              100 * s3.byte_ratio());
}

} // namespace

int main(int argc, char** argv) {
  options o;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    auto arg = std::string_view{argv[i]};
    auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edge_hit_ratio: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (arg == "--objects")
      o.objects = value();
    else if (arg == "--requests")
      o.requests = value();
    else if (arg == "--seed")
      o.seed = value();
    else if (arg == "--quick")
      quick = true;
    else {
      std::fprintf(stderr,
                   "usage: edge_hit_ratio [--objects N] [--requests N] [--seed S] [--quick]\n");
      return 2;
    }
  }
  if (quick) {
    o.objects = 10'000;
    o.requests = 200'000;
  }
  if (o.objects == 0 || o.objects > 10'000'000 || o.requests > 1'000'000'000) {
    std::fprintf(stderr, "edge_hit_ratio: objects 1..1e7, requests up to 1e9\n");
    return 2;
  }
  auto sizes = object_sizes(o.objects, o.seed);
  auto ids = permutation(o.objects, o.seed);
  size_t total = 0;
  for (auto s : sizes)
    total += s;
  std::printf("objects %zu (%.1f MiB, sizes 1-256 KiB log-uniform), requests %zu, seed %llu\n",
              o.objects, static_cast<double>(total) / (1 << 20), o.requests,
              static_cast<unsigned long long>(o.seed));
  std::printf("pass   alpha   cache   LRU hit  S3F hit   S3F-LRU    LRU byte S3F byte\n");
  for (double alpha : {0.7, 0.9, 1.1}) {
    for (double pct : {1.0, 5.0, 10.0}) {
      auto budget = static_cast<size_t>(static_cast<double>(total) * pct / 100);
      auto lru = run_policy(ec::eviction_kind::lru, budget, alpha, o, sizes, ids);
      auto s3 = run_policy(ec::eviction_kind::s3fifo, budget, alpha, o, sizes, ids);
      print_row("policy", alpha, pct, lru, s3);
    }
  }
  // The whole cache core for the middle case.
  auto budget = static_cast<size_t>(static_cast<double>(total) * 5.0 / 100);
  auto lru = run_cache(ec::eviction_kind::lru, budget, 0.9, o, sizes, ids);
  auto s3 = run_cache(ec::eviction_kind::s3fifo, budget, 0.9, o, sizes, ids);
  print_row("cache", 0.9, 5.0, lru, s3);
  return 0;
}
