#include "actors/edge/cluster_l2.hpp"

namespace troupe::edge {

namespace {

std::string object_key(const std::string& key) {
  return "edge:" + key;
}

std::string tag_key(const std::string& tag) {
  return "edge-tag:" + tag;
}

// The members of a RESP array of bulk strings (SMEMBERS' reply).
std::vector<std::string> bulk_array(const std::string& reply) {
  std::vector<std::string> out;
  if (reply.empty() || reply[0] != '*')
    return out;
  size_t pos = reply.find("\r\n");
  while (pos != std::string::npos && pos + 2 < reply.size()) {
    pos += 2;
    if (reply[pos] != '$')
      break;
    auto eol = reply.find("\r\n", pos);
    if (eol == std::string::npos)
      break;
    auto n = std::strtoull(reply.c_str() + pos + 1, nullptr, 10);
    auto start = eol + 2;
    if (start + n + 2 > reply.size())
      break;
    out.push_back(reply.substr(start, n));
    pos = start + n;
  }
  return out;
}

} // namespace

cluster_l2::cluster_l2(std::shared_ptr<troupe::cache::shard_client> client, uint64_t max_object_bytes,
                       uint64_t ttl_ms) :
  client_(std::move(client)), max_object_bytes_(max_object_bytes), ttl_ms_(ttl_ms) {}

bool cluster_l2::enabled() const {
  return client_->enabled();
}

void cluster_l2::get(const std::string& key,
                     std::function<void(std::optional<std::string>)> done) {
  client_->call({"GET", object_key(key)},
                [this, done = std::move(done)](std::optional<std::string> reply) {
                  auto value = reply ? troupe::cache::bulk_value(*reply) : std::nullopt;
                  (value ? counters_.hits : counters_.misses)
                    .fetch_add(1, std::memory_order_relaxed);
                  done(std::move(value));
                });
}

void cluster_l2::put(const std::string& key, std::string bytes,
                     const std::vector<std::string>& surrogate_keys) {
  if (bytes.size() > max_object_bytes_) {
    counters_.skipped_large.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  counters_.puts.fetch_add(1, std::memory_order_relaxed);
  auto ttl = std::to_string(ttl_ms_);
  client_->call({"SET", object_key(key), std::move(bytes), "PX", ttl}, [](auto) {});
  // The tag sets outlive any object they name by at most one TTL.
  for (auto& tag : surrogate_keys) {
    client_->call({"SADD", tag_key(tag), key}, [](auto) {});
    client_->call({"PEXPIRE", tag_key(tag), ttl}, [](auto) {});
  }
}

void cluster_l2::remove(const std::string& key) {
  client_->call({"DEL", object_key(key)}, [](auto) {});
}

void cluster_l2::remove_tagged(const std::string& tag) {
  auto client = client_;
  client_->call({"SMEMBERS", tag_key(tag)}, [client, tag](std::optional<std::string> reply) {
    if (!reply)
      return;
    for (auto& key : bulk_array(*reply))
      client->call({"DEL", object_key(key)}, [](auto) {});
    client->call({"DEL", tag_key(tag)}, [](auto) {});
  });
}

} // namespace troupe::edge
