#include "runtime/system_keyspace.hpp"

#include "runtime/logging.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/kv.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <map>

namespace troupe {

namespace {

using namespace std::chrono_literals;

// A node's keys live as long as its lease: 10 s, renewed every 2 s, so a
// dead node's directory entries vanish within about 10 s of its death even
// if nobody notices it otherwise, and a node survives four lost renewals.
constexpr std::int64_t lease_ttl_seconds = 10;
constexpr auto publish_interval = 2s;
constexpr auto request_timeout = 1s;
// Operations per transaction: below the KV service's max_txn_ops (128).
constexpr std::size_t max_ops_per_txn = 100;

struct publisher_state {
  node_context_ptr ctx;
  std::int64_t lease = 0;
  std::map<std::string, std::string> published; // key -> value
  std::string leader;
  std::size_t rotate = 0;
  bool busy = false;
  static inline const char* name = "system_publisher";
};

using publisher = caf::stateful_actor<publisher_state>;

std::map<std::string, std::string> desired(const node_context& ctx) {
  std::map<std::string, std::string> out;
  // Member records and the directory entries of placed actors are the
  // controller's (runtime/member_agent.hpp): a node publishes only the
  // names it hosts by itself, which die with it.
  auto& self = ctx.self.node_id;
  for (auto& e : ctx.table->snapshot())
    if (e.gate && e.kind != "placed")
      out[std::string{sys_directory_prefix} + e.name] = self;
  return out;
}

std::optional<member_route> target(publisher* self) {
  auto& st = self->state;
  if (!st.leader.empty())
    if (auto m = st.ctx->members.find(st.leader);
        m && m->status == v1::MEMBER_STATUS_UP && m->gateway)
      return member_route{st.leader, m->gateway};
  return pick_consensus_member(*st.ctx, st.rotate++);
}

// Sends one SystemKvRequest to the group and calls `on_ok` with an OK reply.
// Any other outcome is retried on a later tick.
void ask(publisher* self, v1::KvRequest req, std::function<void(const v1::KvReply&)> on_ok) {
  auto& st = self->state;
  auto to = target(self);
  if (!to) {
    st.busy = false;
    return;
  }
  v1::SystemKvRequest sys;
  *sys.mutable_request() = std::move(req);
  self->request(to->gateway, request_timeout, route_atom_v, "raft/" + to->node_id, pack(sys))
    .then(
      [self, on_ok = std::move(on_ok)](const envelope& env) {
        auto& st = self->state;
        st.busy = false;
        auto reply = unpack<v1::KvReply>(env);
        if (!reply)
          return;
        if (reply->status() == v1::KV_STATUS_NOT_LEADER) {
          st.leader = reply->leader_node();
          return;
        }
        if (reply->status() == v1::KV_STATUS_LEASE_NOT_FOUND) {
          st.lease = 0; // expired while we could not reach the group
          st.published.clear();
          return;
        }
        if (reply->status() == v1::KV_STATUS_OK)
          on_ok(*reply); // may send the next request (and set busy again)
      },
      [self](caf::error&) {
        self->state.busy = false;
        self->state.leader.clear();
      });
}

void publish_diff(publisher* self) {
  auto& st = self->state;
  auto want = desired(*st.ctx);
  v1::KvRequest req;
  auto& txn = *req.mutable_txn();
  std::map<std::string, std::optional<std::string>> changes;
  for (auto& [key, value] : want) {
    auto i = st.published.find(key);
    if (i == st.published.end() || i->second != value)
      changes[key] = value;
  }
  for (auto& [key, value] : st.published)
    if (!want.count(key))
      changes[key] = std::nullopt;
  if (changes.empty())
    return;
  while (changes.size() > max_ops_per_txn)
    changes.erase(std::prev(changes.end())); // the rest on the next tick
  for (auto& [key, value] : changes) {
    auto* op = txn.add_success();
    if (value) {
      op->mutable_request_put()->set_key(key);
      op->mutable_request_put()->set_value(*value);
      op->mutable_request_put()->set_lease(st.lease);
    } else {
      op->mutable_request_delete_range()->set_key(key);
    }
  }
  st.busy = true;
  ask(self, std::move(req), [self, changes](const v1::KvReply&) {
    auto& published = self->state.published;
    for (auto& [key, value] : changes) {
      if (value)
        published[key] = *value;
      else
        published.erase(key);
    }
  });
}

void on_tick(publisher* self) {
  self->delayed_send(self, publish_interval, tick_atom_v);
  auto& st = self->state;
  if (st.busy || st.ctx->shutting_down)
    return;
  v1::KvRequest req;
  st.busy = true;
  if (st.lease == 0) {
    req.mutable_lease_grant()->set_ttl_seconds(lease_ttl_seconds);
    ask(self, std::move(req), [self](const v1::KvReply& reply) {
      self->state.lease = reply.lease_grant().id();
      self->state.published.clear();
      publish_diff(self);
    });
    return;
  }
  req.mutable_lease_keep_alive()->set_id(st.lease);
  ask(self, std::move(req), [self](const v1::KvReply&) { publish_diff(self); });
}

caf::behavior system_publisher(publisher* self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->send(self, tick_atom_v);
  return {
    [self](tick_atom) { on_tick(self); },
  };
}

} // namespace

bool hosts_consensus(const v1::MemberInfo& info) {
  for (auto& r : info.roles())
    if (r == "consensus" || r == "all")
      return true;
  return false;
}

std::optional<member_route> pick_consensus_member(const node_context& ctx, std::size_t rotate) {
  auto local = "raft/" + ctx.self.node_id;
  if (ctx.table->find_route(local))
    return member_route{ctx.self.node_id, ctx.gateway};
  std::vector<member_route> candidates;
  for (auto& m : ctx.members.up())
    if (m.info.node_id() != ctx.self.node_id && m.gateway && hosts_consensus(m.info))
      candidates.push_back({m.info.node_id(), m.gateway});
  if (candidates.empty())
    return std::nullopt;
  return candidates[rotate % candidates.size()];
}

caf::actor spawn_system_publisher(caf::actor_system& sys, node_context_ptr ctx) {
  return sys.spawn(system_publisher, std::move(ctx));
}

} // namespace troupe
