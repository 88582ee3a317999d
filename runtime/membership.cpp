#include "runtime/membership.hpp"

#include "runtime/auth_client.hpp"
#include "runtime/defaults.hpp"
#include "runtime/logging.hpp"
#include "runtime/tls.hpp"
#include "runtime/type_ids.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace troupe {

namespace {

struct seed_state {
  std::string address;
  std::chrono::milliseconds backoff = defaults::seed_retry_min;
  std::chrono::steady_clock::time_point next_attempt{};
  bool in_flight = false;
};

struct membership_state {
  node_context_ptr ctx;
  fatal_handler on_fatal;
  std::vector<seed_state> seeds;
  std::set<std::string> joining; // addresses with a join in flight
  std::map<caf::actor_addr, std::string> watched; // gateway -> node id
  bool joined_once = false;
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "membership";
};

using membership_actor = caf::stateful_actor<membership_state>;

v1::MemberInfo self_info(const node_context& ctx) {
  v1::MemberInfo info;
  info.set_node_id(ctx.self.node_id);
  info.set_cluster_address(ctx.self.cluster_address);
  info.set_admin_address(ctx.self.admin_address);
  info.set_resp_address(ctx.self.resp_address);
  for (auto& r : ctx.self.roles)
    info.add_roles(r);
  info.set_incarnation(ctx.self.incarnation);
  info.set_started_at_ms(ctx.self.started_at_ms);
  info.set_version(std::string{defaults::version});
  for (auto& [k, v] : ctx.self.labels)
    (*info.mutable_labels())[k] = v;
  return info;
}

void update_readiness(membership_actor* self) {
  auto& st = self->state;
  if (st.seeds.empty()) {
    st.ctx->ready.set("cluster", true, "no other seeds; this node starts the cluster");
    return;
  }
  auto up = st.ctx->members.up().size();
  if (st.joined_once || up > 1) {
    st.ctx->ready.set("cluster", true, std::to_string(up) + " members up");
    return;
  }
  std::string list;
  for (auto& s : st.seeds)
    list += (list.empty() ? "" : ", ") + s.address;
  st.ctx->ready.set("cluster", false, "waiting to join seeds " + list);
}

void watch(membership_actor* self, const v1::MemberInfo& info,
           const caf::actor& gateway) {
  auto& st = self->state;
  member_entry entry;
  entry.info = info;
  entry.status = v1::MEMBER_STATUS_UP;
  entry.since_ms = wall_clock_ms();
  entry.reason = "joined";
  entry.gateway = gateway;
  st.ctx->members.upsert(std::move(entry));
  st.ctx->names.erase_node(info.node_id());
  if (st.watched.emplace(gateway.address(), info.node_id()).second) {
    self->monitor(gateway);
    st.log->info("member {} up at {} (incarnation {})", info.node_id(),
                 info.cluster_address(), info.incarnation());
  }
}

// Decides whether a joiner may take `info.node_id()`. Returns an error text
// if the id is held by another live node.
std::string conflict(const membership_state& st, const v1::MemberInfo& info,
                     const caf::actor& gateway) {
  auto& ctx = *st.ctx;
  if (info.node_id() == ctx.self.node_id && gateway.node() != ctx.gateway.node())
    return "node id '" + info.node_id() + "' is already in use by the node at "
           + ctx.self.cluster_address + "; pick another --node-id";
  auto old = ctx.members.find(info.node_id());
  if (!old || old->status != v1::MEMBER_STATUS_UP || !old->gateway)
    return {};
  if (old->gateway.node() == gateway.node())
    return {};
  // Same id at the same address: the old process cannot still hold that
  // port, so this is a restart whose old connection is not yet timed out.
  if (old->info.cluster_address() == info.cluster_address())
    return {};
  return "node id '" + info.node_id() + "' is already in use by the node at "
         + old->info.cluster_address() + "; pick another --node-id";
}

caf::result<envelope> on_join(membership_actor* self, const envelope& env,
                              const caf::actor& gateway) {
  auto& st = self->state;
  if (st.ctx->shutting_down)
    return make_error(errc::shutting_down, st.ctx->self.node_id + " is leaving");
  auto info = unpack<v1::MemberInfo>(env);
  if (!info)
    return info.error();
  if (!gateway)
    return make_error(errc::invalid_argument, "join without a gateway");
  if (auto why = conflict(st, *info, gateway); !why.empty()) {
    st.log->warn("refused join of {} from {}: {}", info->node_id(),
                 info->cluster_address(), why);
    return make_error(errc::duplicate_node_id, why);
  }
  watch(self, *info, gateway);
  update_readiness(self);
  return pack(to_member_list(st.ctx->members.all(), st.ctx->self.node_id));
}

void join_address(membership_actor* self, const std::string& address,
                  bool is_seed);

void learn(membership_actor* self, const v1::MemberList& list) {
  auto& st = self->state;
  for (auto& m : list.members()) {
    auto& id = m.info().node_id();
    if (id == st.ctx->self.node_id || m.status() != v1::MEMBER_STATUS_UP)
      continue;
    auto known = st.ctx->members.find(id);
    if (known && known->status == v1::MEMBER_STATUS_UP
        && known->info.incarnation() >= m.info().incarnation())
      continue;
    join_address(self, m.info().cluster_address(), false);
  }
}

seed_state* find_seed(membership_actor* self, const std::string& address) {
  for (auto& s : self->state.seeds)
    if (s.address == address)
      return &s;
  return nullptr;
}

void join_failed(membership_actor* self, const std::string& address,
                 const caf::error& err) {
  auto& st = self->state;
  st.joining.erase(address);
  if (is(err, errc::duplicate_node_id)) {
    st.on_fatal(1, describe(err));
    return;
  }
  if (auto* seed = find_seed(self, address)) {
    seed->in_flight = false;
    seed->next_attempt = std::chrono::steady_clock::now() + seed->backoff;
    seed->backoff = std::min(seed->backoff * 2,
                             std::chrono::milliseconds{defaults::seed_retry_max});
    st.log->debug("cannot join seed {}: {} (retry in {} ms)", address,
                  describe(err), seed->backoff.count());
  } else {
    st.log->info("cannot join member at {}: {}", address, describe(err));
  }
}

void send_join(membership_actor* self, const std::string& address,
               const caf::actor& gateway) {
  auto& st = self->state;
  self
    ->request(gateway, defaults::seed_connect_timeout, join_atom_v,
              pack(self_info(*st.ctx)), st.ctx->gateway)
    .then(
      [=](const envelope& reply) {
        auto& st = self->state;
        st.joining.erase(address);
        auto list = unpack<v1::MemberList>(reply);
        if (!list) {
          join_failed(self, address, list.error());
          return;
        }
        for (auto& m : list->members())
          if (m.self())
            watch(self, m.info(), gateway);
        if (auto* seed = find_seed(self, address)) {
          seed->in_flight = false;
          seed->backoff = defaults::seed_retry_min;
        }
        st.joined_once = true;
        update_readiness(self);
        learn(self, *list);
      },
      [=](caf::error& err) { join_failed(self, address, err); });
}

void join_address(membership_actor* self, const std::string& address,
                  bool is_seed) {
  auto& st = self->state;
  if (!st.joining.insert(address).second)
    return;
  if (auto* seed = find_seed(self, address); seed && is_seed)
    seed->in_flight = true;
  auto colon = address.rfind(':');
  auto host = address.substr(0, colon);
  auto port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  // --bind-source: our own connect path (runtime/source_connector.hpp).
  auto mm = st.ctx->connector
              ? caf::actor_cast<caf::io::middleman_actor>(st.ctx->connector)
              : connection_manager(self->system());
  self
    ->request(mm, defaults::seed_connect_timeout, caf::connect_atom::value,
              host, port)
    .then(
      [=](const caf::node_id& nid, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        auto gateway = caf::actor_cast<caf::actor>(ptr);
        if (nid == self->node() || !gateway) {
          join_failed(self, address,
                      make_error(errc::invalid_argument,
                                 address + " is this node itself"));
          return;
        }
        // Over TLS, a node proves its node certificate before it joins
        // (runtime/auth.hpp); the gateway refuses the join otherwise.
        if (!self->state.ctx->credentials) {
          send_join(self, address, gateway);
          return;
        }
        auth::prove_async(
          self, gateway, self->state.ctx->credentials, defaults::seed_connect_timeout,
          [=] { send_join(self, address, gateway); },
          [=](const caf::error& err) { join_failed(self, address, err); });
      },
      [=](caf::error& err) { join_failed(self, address, err); });
}

void on_tick(membership_actor* self) {
  auto now = std::chrono::steady_clock::now();
  for (auto& seed : self->state.seeds) {
    if (seed.in_flight || now < seed.next_attempt)
      continue;
    bool connected = false;
    for (auto& m : self->state.ctx->members.up())
      connected = connected || m.info.cluster_address() == seed.address;
    if (!connected)
      join_address(self, seed.address, true);
  }
  self->delayed_send(self, defaults::seed_retry_min, tick_atom_v);
}

void on_member_down(membership_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.watched.find(dm.source);
  if (i == st.watched.end())
    return;
  auto node_id = i->second;
  st.watched.erase(i);
  auto cur = st.ctx->members.find(node_id);
  // A newer incarnation may already have replaced the entry.
  if (!cur || !cur->gateway || cur->gateway.address() != dm.source)
    return;
  auto why = "connection lost (" + describe(dm.reason) + ")";
  if (st.ctx->members.mark(node_id, v1::MEMBER_STATUS_DOWN, wall_clock_ms(), why))
    st.log->warn("member {} down: {}", node_id, why);
  st.ctx->names.erase_node(node_id);
  update_readiness(self);
}

bool on_peer_leave(membership_actor* self, const envelope& env) {
  auto& st = self->state;
  auto notice = unpack<v1::LeaveNotice>(env);
  if (!notice)
    return false;
  auto cur = st.ctx->members.find(notice->node_id());
  if (!cur || cur->info.incarnation() != notice->incarnation())
    return false;
  if (cur->gateway) {
    st.watched.erase(cur->gateway.address());
    self->demonitor(cur->gateway);
  }
  st.ctx->members.mark(notice->node_id(), v1::MEMBER_STATUS_LEFT,
                       wall_clock_ms(), "left gracefully");
  st.ctx->names.erase_node(notice->node_id());
  st.log->info("member {} left", notice->node_id());
  return true;
}

// Tells every peer that this node leaves, and answers once all acknowledged
// or timed out, so the notices are out before the connections close.
caf::result<bool> leave_cluster(membership_actor* self) {
  auto& st = self->state;
  v1::LeaveNotice notice;
  notice.set_node_id(st.ctx->self.node_id);
  notice.set_incarnation(st.ctx->self.incarnation);
  auto env = pack(notice);
  auto rp = self->make_response_promise<bool>();
  auto pending = std::make_shared<size_t>(1);
  auto done = [rp, pending]() mutable {
    if (--*pending == 0)
      rp.deliver(true);
  };
  for (auto& m : st.ctx->members.up()) {
    if (m.info.node_id() == st.ctx->self.node_id)
      continue;
    ++*pending;
    self->request(m.gateway, std::chrono::seconds{1}, leave_atom_v, env)
      .then([done](bool) mutable { done(); },
            [done](caf::error&) mutable { done(); });
  }
  done();
  return rp;
}

caf::behavior membership(membership_actor* self, node_context_ptr ctx,
                         fatal_handler on_fatal) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.on_fatal = std::move(on_fatal);
  st.log = logger_for("membership");
  for (auto& addr : st.ctx->self.seeds)
    if (addr != st.ctx->self.cluster_address)
      st.seeds.push_back(seed_state{addr});
  member_entry me;
  me.info = self_info(*st.ctx);
  me.since_ms = st.ctx->self.started_at_ms;
  me.reason = "started";
  me.gateway = st.ctx->gateway;
  st.ctx->members.upsert(std::move(me));
  update_readiness(self);
  self->set_down_handler([=](caf::down_msg& dm) { on_member_down(self, dm); });
  self->send(self, tick_atom_v);
  return {
    [=](join_atom, const envelope& info, const caf::actor& gateway) {
      return on_join(self, info, gateway);
    },
    [=](leave_atom, const envelope& notice) { return on_peer_leave(self, notice); },
    [=](leave_atom) { return leave_cluster(self); },
    [=](tick_atom) { on_tick(self); },
  };
}

} // namespace

caf::actor spawn_membership(caf::actor_system& sys, node_context_ptr ctx,
                            fatal_handler on_fatal) {
  return sys.spawn(membership, std::move(ctx), std::move(on_fatal));
}

} // namespace troupe
