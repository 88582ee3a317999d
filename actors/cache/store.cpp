// Why a hand-written table instead of std::unordered_map: SCAN must return
// every key that exists for the whole scan, even while the table resizes.
// A power-of-two table walked in reverse-binary cursor order (Redis's
// dictScan) guarantees that; libstdc++'s prime bucket counts cannot.
// Resizes rehash at once: the keyspace has 16 shards, so one rehash moves
// at most a sixteenth of the keys.
#include "actors/cache/store.hpp"

#include <bit>
#include <cassert>

namespace troupe::cache {

namespace {

constexpr size_t min_buckets = 16;

uint64_t reverse_bits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
  v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
  return (v >> 32) | (v << 32);
}

// Heap bytes of a std::string beyond its inline buffer (15 bytes in
// libstdc++), plus an allocator header.
uint64_t string_heap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 + 8 : 0;
}

bool expired(const entry& e, int64_t now_ms) {
  return e.expire_ms != 0 && e.expire_ms <= now_ms;
}

} // namespace

const char* type_name(vtype t) {
  switch (t) {
    case vtype::string: return "string";
    case vtype::list: return "list";
    case vtype::hash: return "hash";
    case vtype::set: return "set";
    case vtype::zset: return "zset";
  }
  return "none";
}

uint64_t key_hash(std::string_view key) {
  return std::hash<std::string_view>{}(key);
}

shard::shard() = default;

shard::~shard() {
  clear();
}

uint64_t shard::charged(const entry& e) const {
  // entry + allocator header + its bucket slot.
  uint64_t n = sizeof(entry) + 8 + 8;
  n += string_heap(e.key) + string_heap(e.str) + e.payload_bytes;
  if (e.obj)
    n += sizeof(container) + 8;
  return n;
}

entry* shard::find(std::string_view key, int64_t now_ms, access a) {
  entry* e = nullptr;
  if (!buckets_.empty()) {
    auto h = key_hash(key);
    for (e = buckets_[h & (buckets_.size() - 1)]; e; e = e->chain)
      if (e->hash == h && e->key == key)
        break;
  }
  if (e && expired(*e, now_ms)) {
    ++stats_.expired;
    erase(e);
    e = nullptr;
  }
  if (a == access::read) {
    if (e) {
      ++stats_.hits;
      policy_.touch(e);
    } else {
      ++stats_.misses;
    }
  } else if (e) {
    policy_.touch(e);
  }
  return e;
}

entry* shard::create(std::string_view key, vtype t) {
  auto* e = new entry;
  e->key.assign(key);
  e->hash = key_hash(key);
  e->type = t;
  switch (t) {
    case vtype::string: break;
    case vtype::list: e->obj = std::make_unique<container>(list_value{}); break;
    case vtype::hash: e->obj = std::make_unique<container>(hash_value{}); break;
    case vtype::set: e->obj = std::make_unique<container>(set_value{}); break;
    case vtype::zset: e->obj = std::make_unique<container>(zset_value{}); break;
  }
  if (buckets_.empty())
    buckets_.assign(min_buckets, nullptr);
  auto& head = buckets_[e->hash & (buckets_.size() - 1)];
  e->chain = head;
  head = e;
  ++size_;
  e->bytes = charged(*e);
  used_ += e->bytes;
  policy_.insert(e);
  maybe_resize();
  return e;
}

void shard::unlink(entry* e) {
  auto** link = &buckets_[e->hash & (buckets_.size() - 1)];
  while (*link != e) {
    assert(*link != nullptr);
    link = &(*link)->chain;
  }
  *link = e->chain;
}

bool shard::erase(entry* e) {
  unlink(e);
  policy_.remove(e);
  set_expire(e, 0);
  used_ -= e->bytes;
  --size_;
  delete e;
  maybe_resize();
  return true;
}

bool shard::erase(std::string_view key, int64_t now_ms) {
  auto* e = find(key, now_ms, access::write);
  return e ? erase(e) : false;
}

void shard::set_expire(entry* e, int64_t at_ms) {
  e->expire_ms = at_ms;
  if (at_ms != 0 && e->volatile_pos == UINT32_MAX) {
    e->volatile_pos = static_cast<uint32_t>(volatile_.size());
    volatile_.push_back(e);
  } else if (at_ms == 0 && e->volatile_pos != UINT32_MAX) {
    auto* last = volatile_.back();
    volatile_[e->volatile_pos] = last;
    last->volatile_pos = e->volatile_pos;
    volatile_.pop_back();
    e->volatile_pos = UINT32_MAX;
  }
}

void shard::charge(entry* e) {
  auto n = charged(*e);
  used_ = used_ - e->bytes + n;
  policy_.resize(e, n);
  evict_over_budget(e);
}

void shard::evict_over_budget(const entry* keep) {
  while (budget_ != 0 && used_ > budget_) {
    auto* v = policy_.victim();
    if (v == nullptr || v == keep)
      return;
    ++stats_.evicted;
    if (evict_log_)
      evict_log_->push_back(static_cast<entry*>(v)->key);
    erase(static_cast<entry*>(v));
  }
}

size_t shard::expire_sample(int64_t now_ms, size_t samples) {
  size_t deleted = 0;
  for (size_t i = 0; i < samples && !volatile_.empty(); ++i) {
    auto* e = volatile_[rng_() % volatile_.size()];
    if (expired(*e, now_ms)) {
      ++stats_.expired;
      erase(e);
      ++deleted;
    }
  }
  return deleted;
}

uint64_t shard::scan(uint64_t cursor, int64_t now_ms,
                     const std::function<void(entry&)>& visit) {
  if (size_ == 0)
    return 0;
  uint64_t mask = buckets_.size() - 1;
  for (auto* e = buckets_[cursor & mask]; e; e = e->chain)
    if (!expired(*e, now_ms))
      visit(*e);
  cursor |= ~mask;
  cursor = reverse_bits(cursor);
  ++cursor;
  return reverse_bits(cursor);
}

entry* shard::random_entry(int64_t now_ms) {
  if (size_ == 0)
    return nullptr;
  for (int tries = 0; tries < 128; ++tries) {
    auto* head = buckets_[rng_() & (buckets_.size() - 1)];
    size_t n = 0;
    for (auto* e = head; e; e = e->chain)
      ++n;
    if (n == 0)
      continue;
    auto* e = head;
    for (auto k = rng_() % n; k > 0; --k)
      e = e->chain;
    if (!expired(*e, now_ms))
      return e;
  }
  for (auto* head : buckets_)
    for (auto* e = head; e; e = e->chain)
      if (!expired(*e, now_ms))
        return e;
  return nullptr;
}

void shard::clear() {
  for (auto& head : buckets_) {
    while (head) {
      auto* next = head->chain;
      delete head;
      head = next;
    }
  }
  buckets_.clear();
  volatile_.clear();
  policy_.clear();
  size_ = 0;
  used_ = 0;
}

void shard::maybe_resize() {
  auto n = buckets_.size();
  if (size_ > n)
    rehash(n * 2);
  else if (n > min_buckets && size_ < n / 8)
    rehash(std::max(min_buckets, std::bit_ceil(size_ * 2)));
}

void shard::rehash(size_t buckets) {
  std::vector<entry*> fresh(buckets, nullptr);
  for (auto* head : buckets_) {
    while (head) {
      auto* next = head->chain;
      auto& slot = fresh[head->hash & (buckets - 1)];
      head->chain = slot;
      slot = head;
      head = next;
    }
  }
  buckets_ = std::move(fresh);
}

} // namespace troupe::cache
