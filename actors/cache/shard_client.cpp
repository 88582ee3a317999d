#include "actors/cache/shard_client.hpp"

#include "actors/cache/slot.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"
#include "troupe/cache.pb.h"
#include "troupe/control.pb.h"

#include <caf/send.hpp>

namespace troupe::cache {

void forward_call(caf::event_based_actor* self, const node_context_ptr& ctx,
                  const std::string& node, envelope cmd, size_t n,
                  std::chrono::milliseconds timeout,
                  std::function<void(size_t, std::string)> complete) {
  request_by_name(
    self, ctx, "cache/" + node, std::move(cmd), timeout,
    [complete, n](envelope& env) {
      auto reply = unpack<v1::CacheProxyReply>(env);
      for (size_t i = 0; i < n; ++i) {
        if (!reply)
          complete(i, "-TRYAGAIN unreadable forwarded reply\r\n");
        else if (reply->replies_size() == 0 && n == 1)
          complete(i, reply->reply());
        else if (static_cast<size_t>(reply->replies_size()) == n)
          complete(i, reply->replies(static_cast<int>(i)));
        else
          complete(i, "-TRYAGAIN a forwarded batch came back short\r\n");
      }
    },
    [complete, n, node](caf::error& err) {
      auto text = "-TRYAGAIN forwarding to " + node + " failed: " + caf::to_string(err) + "\r\n";
      for (size_t i = 0; i < n; ++i)
        complete(i, text);
    });
}

shard_client::shard_client(node_context_ptr ctx, std::string actor_name, size_t max_in_flight,
                           std::chrono::milliseconds timeout) :
  ctx_(std::move(ctx)), actor_name_(std::move(actor_name)), max_in_flight_(max_in_flight),
  timeout_(timeout), map_(std::make_shared<const slot_map>()) {
  // The map follows the committed placements, as on a cache node.
  ctx_->placements.subscribe([this](const v1::HeartbeatAck& ack) {
    std::atomic_store(&map_, std::make_shared<const slot_map>(build_slot_map(ack)));
  });
}

bool shard_client::enabled() const {
  return std::atomic_load(&map_)->enabled();
}

void shard_client::call(std::vector<std::string> args, done_fn done) {
  auto m = std::atomic_load(&map_);
  if (!m->enabled() || args.size() < 2) {
    done(std::nullopt);
    return;
  }
  auto owner = m->owner[key_slot(args[1])];
  if (owner < 0 || m->shards[static_cast<size_t>(owner)].primary.node.empty()) {
    done(std::nullopt);
    return;
  }
  auto entry = ctx_->table->find(actor_name_);
  uint64_t id;
  {
    std::lock_guard guard{mtx_};
    if (!entry || !entry->handle || calls_.size() >= max_in_flight_) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      done(std::nullopt);
      return;
    }
    id = next_++;
    calls_[id] = {std::move(done), std::chrono::steady_clock::now()};
  }
  v1::CacheProxyCommand cmd;
  for (auto& a : args)
    cmd.add_args(std::move(a));
  cmd.set_protocol(2);
  caf::anon_send(entry->handle, cache_proxy_atom_v, id,
                 m->shards[static_cast<size_t>(owner)].primary.node, pack(cmd));
}

void shard_client::complete(uint64_t id, std::string reply) {
  done_fn done;
  {
    std::lock_guard guard{mtx_};
    auto it = calls_.find(id);
    if (it == calls_.end())
      return;
    done = std::move(it->second.done);
    calls_.erase(it);
  }
  if (!reply.empty() && reply[0] == '-') {
    errors_.fetch_add(1, std::memory_order_relaxed);
    done(std::nullopt);
    return;
  }
  done(std::move(reply));
}

void shard_client::sweep() {
  std::vector<uint64_t> late;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard guard{mtx_};
    for (auto& [id, p] : calls_)
      if (now - p.started > timeout_ * 2)
        late.push_back(id);
  }
  for (auto id : late)
    complete(id, "-TRYAGAIN no answer\r\n");
}

std::optional<std::string> bulk_value(const std::string& reply) {
  if (reply.size() < 4 || reply[0] != '$' || reply[1] == '-')
    return std::nullopt;
  auto eol = reply.find("\r\n");
  if (eol == std::string::npos)
    return std::nullopt;
  int64_t n = 0;
  if (!parse_int(std::string_view{reply}.substr(1, eol - 1), n) || n < 0)
    return std::nullopt;
  auto start = eol + 2;
  if (reply.size() != start + static_cast<size_t>(n) + 2)
    return std::nullopt;
  return reply.substr(start, static_cast<size_t>(n));
}

} // namespace troupe::cache
