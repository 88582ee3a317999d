#include "runtime/directory.hpp"

#include "runtime/defaults.hpp"
#include "runtime/system_keyspace.hpp"

#include "troupe/kv.pb.h"

#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <memory>
#include <vector>

namespace troupe {

namespace {

// Callers that may wait on one name's resolve; more are refused.
constexpr size_t max_waiters_per_name = 4096;

using resolve_promise = caf::typed_response_promise<std::string, caf::actor>;

// One resolve in flight, shared by every caller asking for the same name.
struct pending_resolve {
  std::vector<resolve_promise> waiters;
  size_t outstanding = 0;
  std::vector<std::string> asked;
  bool done = false;
};

struct seed_directory_state {
  node_context_ptr ctx;
  std::map<std::string, std::shared_ptr<pending_resolve>> pending;
  static inline const char* name = "directory";
};

using directory_pointer = directory_actor::stateful_pointer<seed_directory_state>;

void finish(directory_pointer self, const std::string& name,
            const std::shared_ptr<pending_resolve>& p, caf::error err,
            placement where = {}) {
  if (p->done)
    return;
  p->done = true;
  self->state.pending.erase(name);
  for (auto& rp : p->waiters) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(where.node_id, where.gateway);
  }
}

std::string asked_list(const pending_resolve& p) {
  std::string out;
  for (auto& id : p.asked)
    out += (out.empty() ? "" : ", ") + id;
  return out.empty() ? "no other member is up" : "asked " + out;
}

// Asks every member that is up whether it hosts `name`. The first yes wins;
// when every member said no or failed to answer in time, the name is unknown.
void fan_out(directory_pointer self, const std::string& name,
             const std::shared_ptr<pending_resolve>& p) {
  auto& ctx = *self->state.ctx;
  for (auto& m : ctx.members.up()) {
    if (m.info.node_id() == ctx.self.node_id)
      continue;
    p->asked.push_back(m.info.node_id());
    ++p->outstanding;
    auto where = placement{m.info.node_id(), m.gateway};
    self->request(m.gateway, defaults::resolve_timeout, lookup_atom_v, name)
      .then(
        [=](bool hosted) {
          --p->outstanding;
          if (hosted) {
            self->state.ctx->names.put(name, where);
            finish(self, name, p, caf::none, where);
          } else if (p->outstanding == 0) {
            finish(self, name, p,
                   make_error(errc::no_such_actor,
                              "no node hosts '" + name + "' ("
                                + asked_list(*p) + ")"));
          }
        },
        [=](caf::error&) {
          if (--p->outstanding == 0)
            finish(self, name, p,
                   make_error(errc::no_such_actor,
                              "no node hosts '" + name + "' ("
                                + asked_list(*p) + ", some did not answer)"));
        });
  }
  if (p->outstanding == 0)
    finish(self, name, p,
           make_error(errc::no_such_actor,
                      "no node hosts '" + name + "' (" + asked_list(*p) + ")"));
}

// How long a system keyspace lookup may take before falling back to asking
// every member: a serializable read on one member is a local map lookup, so
// anything slower means that member is busy or gone.
constexpr auto keyspace_timeout = std::chrono::milliseconds{500};

// First asks the consensus group's system keyspace where `name` lives (one
// local read on a member); if the keyspace does not know it, or names a
// node that is not up, asks every member (fan_out). Names of consensus
// members themselves are never looked up there: reaching the keyspace needs
// them.
void lookup(directory_pointer self, const std::string& name,
            const std::shared_ptr<pending_resolve>& p) {
  auto& ctx = *self->state.ctx;
  auto member = name.rfind("raft/", 0) == 0 ? std::nullopt : pick_consensus_member(ctx);
  if (!member) {
    fan_out(self, name, p);
    return;
  }
  v1::KvRequest req;
  req.mutable_range()->set_key(std::string{sys_directory_prefix} + name);
  req.mutable_range()->set_serializable(true);
  self->request(member->gateway, keyspace_timeout, route_atom_v, "raft/" + member->node_id,
                pack(req))
    .then(
      [=](const envelope& env) {
        auto reply = unpack<v1::KvReply>(env);
        auto& c = *self->state.ctx;
        if (reply && reply->status() == v1::KV_STATUS_OK && reply->range().kvs_size() == 1) {
          auto node = reply->range().kvs(0).value();
          if (auto m = c.members.find(node);
              m && m->status == v1::MEMBER_STATUS_UP && m->gateway) {
            auto where = placement{node, m->gateway};
            c.names.put(name, where);
            finish(self, name, p, caf::none, where);
            return;
          }
        }
        fan_out(self, name, p);
      },
      [=](caf::error&) { fan_out(self, name, p); });
}

caf::result<std::string, caf::actor>
resolve(directory_pointer self, const std::string& name) {
  auto& ctx = *self->state.ctx;
  if (ctx.table->find_route(name))
    return {ctx.self.node_id, ctx.gateway};
  if (auto hit = ctx.names.find(name))
    return {hit->node_id, hit->gateway};
  auto rp = self->make_response_promise<std::string, caf::actor>();
  auto i = self->state.pending.find(name);
  if (i != self->state.pending.end()) {
    if (i->second->waiters.size() >= max_waiters_per_name)
      return make_error(errc::mailbox_full,
                        "too many callers waiting for '" + name + "' to resolve");
    i->second->waiters.push_back(rp);
    return rp;
  }
  if (self->state.pending.size() >= defaults::max_pending_resolves)
    return make_error(errc::mailbox_full, "too many names being resolved");
  auto p = std::make_shared<pending_resolve>();
  p->waiters.push_back(rp);
  self->state.pending.emplace(name, p);
  lookup(self, name, p);
  return rp;
}

directory_actor::behavior_type seed_directory(directory_pointer self,
                                              node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  return {
    [=](resolve_atom, const std::string& name) {
      return resolve(self, name);
    },
    [=](invalidate_atom, const std::string& name) {
      self->state.ctx->names.erase(name);
    },
  };
}

} // namespace

directory_actor spawn_seed_directory(caf::actor_system& sys,
                                     node_context_ptr ctx) {
  return sys.spawn(seed_directory, std::move(ctx));
}

} // namespace troupe
