#include "actors/consensus/control_shell.hpp"

#include "actors/consensus/raft_shell.hpp"
#include "net/errors.hpp"
#include "runtime/logging.hpp"
#include "runtime/named.hpp"
#include "runtime/proto_actor.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/kv.pb.h"
#include "troupe/raft.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <set>

namespace troupe::control {

namespace {

using namespace std::chrono_literals;

// The controller looks at its member's role and at lost connections every
// tick; decisions go out at most one at a time, so a tick bounds how long a
// lease expiry waits to be noticed (a node is downed within down_after + 50 ms).
constexpr auto tick_interval = 50ms;
constexpr auto local_timeout = 2s;

std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

struct controller_state {
  node_context_ptr ctx;
  std::unique_ptr<control_core> core;
  std::shared_ptr<control_metrics> metrics;
  std::shared_ptr<spdlog::logger> log;
  std::string leader_node;   // as our Raft member sees it
  std::uint64_t term = 0;
  bool leading = false;
  bool loading = false;
  bool busy = false;         // a decision is being proposed
  bool status_pending = false;
  std::set<std::string> disconnected;
  // Leaves answered once their LEFT record committed (the leaving node
  // waits for that before it stops, which matters when it leads).
  std::multimap<std::string, caf::typed_response_promise<envelope>> leave_waiters;
  // One per JournalAppend the core holds, in the same order: answered once
  // the decision that wrote it committed, so that an append taken by a
  // leader that lost its majority is sent again, not lost.
  std::deque<caf::typed_response_promise<envelope>> append_waiters;
  static inline const char* name = "controller";
};

using controller = caf::stateful_actor<controller_state>;

std::string raft_name(const controller* self) {
  return raft::name_for(self->state.ctx->self.node_id);
}

// One request to our own Raft member (same node, through its mailbox gate).
template <class Reply>
void ask_member(controller* self, envelope msg, std::function<void(Reply&)> on_ok,
                std::function<void()> on_fail) {
  request_by_name(
    self, self->state.ctx, raft_name(self), std::move(msg), local_timeout,
    [on_ok, on_fail](envelope& env) {
      auto reply = unpack<Reply>(env);
      if (reply)
        on_ok(*reply);
      else
        on_fail();
    },
    [on_fail](caf::error&) { on_fail(); });
}

void system_txn(controller* self, v1::TxnRequest txn,
                std::function<void(v1::KvReply&)> on_reply, std::function<void()> on_fail) {
  v1::SystemKvRequest req;
  *req.mutable_request()->mutable_txn() = std::move(txn);
  ask_member<v1::KvReply>(self, pack(req), std::move(on_reply), std::move(on_fail));
}

void add_range(v1::TxnRequest& txn, std::string_view key, bool prefix) {
  auto* op = txn.add_success()->mutable_request_range();
  op->set_key(std::string{key});
  if (prefix) {
    std::string end{key};
    end.back() = static_cast<char>(end.back() + 1);
    op->set_range_end(end);
  }
}

template <class Record>
std::vector<Record> parse_all(const v1::RangeResponse& r) {
  std::vector<Record> out;
  for (auto& kv : r.kvs()) {
    Record rec;
    if (rec.ParseFromString(kv.value()))
      out.push_back(std::move(rec));
  }
  return out;
}

void load(controller* self) {
  auto& st = self->state;
  st.loading = true;
  v1::TxnRequest txn;
  add_range(txn, members_prefix, true);
  add_range(txn, placement_prefix, true);
  add_range(txn, next_seq_key, false);
  auto term = st.term;
  system_txn(
    self, std::move(txn),
    [self, term](v1::KvReply& reply) {
      auto& st = self->state;
      st.loading = false;
      if (reply.status() != v1::KV_STATUS_OK || !st.leading || st.term != term
          || reply.txn().responses_size() != 3)
        return;
      auto& rs = reply.txn().responses();
      std::uint64_t next_seq = 1;
      if (rs[2].response_range().kvs_size() == 1)
        next_seq = std::strtoull(rs[2].response_range().kvs(0).value().c_str(), nullptr, 10);
      st.core->load(parse_all<v1::MemberRecord>(rs[0].response_range()),
                    parse_all<v1::PlacementRecord>(rs[1].response_range()), next_seq,
                    mono_ms());
      st.log->info("controller active on {} (term {}): {} members, {} placements", 
                   st.ctx->self.node_id, term, st.core->members().size(),
                   st.core->placements().size());
    },
    [self] { self->state.loading = false; });
}

v1::ControlReply not_leader(const controller_state& st);
v1::ControlReply ok_reply();

void answer_leaves(controller* self, const std::vector<std::string>& nodes, bool ok) {
  auto& st = self->state;
  auto answer = [&](auto first, auto last) {
    for (auto i = first; i != last; ++i)
      i->second.deliver(pack(ok ? ok_reply() : not_leader(st)));
  };
  if (!ok) {
    answer(st.leave_waiters.begin(), st.leave_waiters.end());
    st.leave_waiters.clear();
    return;
  }
  for (auto& node : nodes) {
    auto [first, last] = st.leave_waiters.equal_range(node);
    answer(first, last);
    st.leave_waiters.erase(first, last);
  }
}

v1::TxnRequest to_txn(const decision& d) {
  v1::TxnRequest txn;
  for (auto& w : d.writes) {
    auto* op = txn.add_success();
    if (w.value) {
      op->mutable_request_put()->set_key(w.key);
      op->mutable_request_put()->set_value(*w.value);
    } else {
      op->mutable_request_delete_range()->set_key(w.key);
      op->mutable_request_delete_range()->set_range_end(w.range_end);
    }
  }
  return txn;
}

// Answers the first `n` waiting appends (all of them if n is npos).
void answer_appends(controller* self, std::size_t n, bool ok) {
  auto& w = self->state.append_waiters;
  n = std::min(n, w.size());
  for (std::size_t i = 0; i < n; ++i) {
    w.front().deliver(pack(ok ? ok_reply() : not_leader(self->state)));
    w.pop_front();
  }
}

// Leadership is gone (or never was): the core forgets what it held, and
// everyone waiting for a commit hears so and asks the next leader.
void reset_core(controller* self) {
  self->state.core->reset();
  answer_leaves(self, {}, false);
  answer_appends(self, std::string::npos, false);
}

void decide(controller* self) {
  auto& st = self->state;
  if (st.busy || !st.core->loaded())
    return;
  auto d = st.core->next_decision(mono_ms(), wall_clock_ms());
  if (!d)
    return;
  st.busy = true;
  auto shared = std::make_shared<decision>(std::move(*d));
  system_txn(
    self, to_txn(*shared),
    [self, shared](v1::KvReply& reply) {
      auto& st = self->state;
      st.busy = false;
      if (reply.status() != v1::KV_STATUS_OK) {
        st.metrics->decisions_failed->inc();
        if (reply.status() == v1::KV_STATUS_NOT_LEADER)
          reset_core(self);
        return;
      }
      st.core->committed(*shared);
      answer_leaves(self, shared->leaves, true);
      answer_appends(self, shared->appends_used, true);
      st.metrics->decisions->inc();
      for (auto s : shared->failover_seconds)
        st.metrics->failover_seconds->observe(s);
      for (auto& e : shared->entries)
        st.log->info("journal: {}", journal::render(e));
    },
    [self] {
      self->state.busy = false;
      self->state.metrics->decisions_failed->inc();
    });
}

// Connections the mesh lost since the last tick (a node killed with -9 is
// noticed here at once, long before its lease runs out).
void watch_connections(controller* self) {
  auto& st = self->state;
  for (auto& m : st.ctx->members.all()) {
    auto& id = m.info.node_id();
    bool lost = !m.gateway && id != st.ctx->self.node_id;
    if (lost && st.disconnected.insert(id).second)
      st.core->on_disconnect(id, mono_ms());
    else if (!lost)
      st.disconnected.erase(id);
  }
}

void on_raft_status(controller* self, const v1::RaftStatus& s) {
  auto& st = self->state;
  st.status_pending = false;
  bool leading = s.role() == "leader";
  st.leader_node = s.leader_node();
  if (leading != st.leading || s.term() != st.term) {
    reset_core(self);
    st.busy = false;
    if (st.leading && !leading)
      st.log->info("controller on {} inactive: member is {} in term {}",
                   st.ctx->self.node_id, s.role(), s.term());
  }
  st.leading = leading;
  st.term = s.term();
  if (st.leading && !st.core->loaded() && !st.loading)
    load(self);
}

void on_tick(controller* self) {
  self->delayed_send(self, tick_interval, tick_atom_v);
  auto& st = self->state;
  if (!st.status_pending) {
    st.status_pending = true;
    ask_member<v1::RaftStatus>(
      self, pack(v1::RaftStatusRequest{}),
      [self](v1::RaftStatus& s) { on_raft_status(self, s); },
      [self] { self->state.status_pending = false; });
  }
  if (!st.core->loaded())
    return;
  watch_connections(self);
  decide(self);
}

v1::ControlReply not_leader(const controller_state& st) {
  v1::ControlReply r;
  r.set_ok(false);
  r.set_leader_node(st.leader_node);
  r.set_error("not the Raft leader; ask control/" + st.leader_node);
  return r;
}

v1::ControlReply ok_reply() {
  v1::ControlReply r;
  r.set_ok(true);
  return r;
}

caf::result<envelope> on_member_leave(controller* self, const envelope& env) {
  auto& st = self->state;
  auto leave = unpack<v1::MemberLeave>(env);
  if (!leave)
    return std::move(leave.error());
  if (!st.core->loaded())
    return pack(not_leader(st));
  if (st.leave_waiters.size() >= 1024)
    return pack(ok_reply()); // queued; the caller is not told when it commits
  auto rp = self->make_response_promise<envelope>();
  st.leave_waiters.emplace(leave->node_id(), rp);
  st.core->on_leave(*leave);
  decide(self);
  return rp;
}

caf::result<envelope> on_journal_append(controller* self, const envelope& env) {
  auto& st = self->state;
  auto append = unpack<v1::JournalAppend>(env);
  if (!append)
    return std::move(append.error());
  if (!st.core->loaded())
    return pack(not_leader(st));
  if (!st.core->on_journal_append(std::move(*append))) {
    st.metrics->journal_shed->inc();
    v1::ControlReply r;
    r.set_error("journal queue full: entry shed");
    return pack(r);
  }
  auto rp = self->make_response_promise<envelope>();
  st.append_waiters.push_back(rp);
  decide(self);
  return rp;
}

proto_handlers handlers(controller* self) {
  auto& st = self->state;
  proto_handlers h;
  h.on<v1::MemberHeartbeat>([self, &st](const v1::MemberHeartbeat& hb) {
    if (!st.core->loaded()) {
      v1::HeartbeatAck ack;
      ack.set_leader_node(st.leading ? "" : st.leader_node);
      return ack;
    }
    auto ack = st.core->on_heartbeat(hb, mono_ms());
    decide(self); // a join commits without waiting for the tick
    return ack;
  });
  h.on<v1::PlaceRequest>([self, &st](const v1::PlaceRequest& req) {
    if (!st.core->loaded())
      return not_leader(st);
    if (auto why = st.core->on_place(req)) {
      v1::ControlReply r;
      r.set_error(*why);
      return r;
    }
    decide(self);
    return ok_reply();
  });
  h.on<v1::ControlStatusRequest>([&st](const v1::ControlStatusRequest&) {
    v1::ControlStatus s;
    s.set_leader(st.core->loaded());
    s.set_leader_node(st.leading ? st.ctx->self.node_id : st.leader_node);
    s.set_revision(st.core->revision());
    for (auto& [id, rec] : st.core->members())
      *s.add_members() = rec;
    for (auto& [name, rec] : st.core->placements())
      *s.add_placements() = rec;
    return s;
  });
  return h;
}

caf::behavior controller_actor(controller* self, node_context_ptr ctx, timing t,
                               std::shared_ptr<control_metrics> metrics,
                               std::shared_ptr<mailbox_gate> gate) {
  auto& st = self->state;
  st.core = std::make_unique<control_core>(ctx->self.node_id, t);
  st.ctx = std::move(ctx);
  st.metrics = std::move(metrics);
  st.log = logger_for("control");
  self->send(self, tick_atom_v);
  auto table = handlers(self);
  return {
    [self](tick_atom) { on_tick(self); },
    [self, table, gate](const envelope& env) -> caf::result<envelope> {
      if (gate)
        gate->leave();
      if (env.type == v1::MemberLeave::descriptor()->full_name())
        return on_member_leave(self, env);
      if (env.type == v1::JournalAppend::descriptor()->full_name())
        return on_journal_append(self, env);
      auto res = table.dispatch(env);
      if (!res)
        return std::move(res.error());
      return std::move(*res);
    },
  };
}

} // namespace

std::string name_for(const std::string& node_id) {
  return "control/" + node_id;
}

caf::expected<std::shared_ptr<control_metrics>> register_metrics(metrics_registry& reg) {
  auto out = std::make_shared<control_metrics>();
  auto hist = reg.histogram(
    {"troupe_failover_seconds",
     "Time from the first sign of a node's failure (lost connection or missed "
     "heartbeat) to the committed re-placement of an actor it hosted."},
    {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1, 1.5, 2, 3, 5, 10});
  if (!hist)
    return hist.error();
  out->failover_seconds = &(*hist)->with();
  auto decisions = reg.counter(
    {"troupe_control_decisions_total", "Control-plane transactions committed by this node."});
  if (!decisions)
    return decisions.error();
  out->decisions = &(*decisions)->with();
  auto failed = reg.counter({"troupe_control_decisions_failed_total",
                             "Control-plane transactions that did not commit (retried)."});
  if (!failed)
    return failed.error();
  out->decisions_failed = &(*failed)->with();
  auto shed = reg.counter({"troupe_control_journal_shed_total",
                           "Journal appends from nodes dropped because the queue was full."});
  if (!shed)
    return shed.error();
  out->journal_shed = &(*shed)->with();
  return out;
}

child_spec controller_child(node_context_ptr ctx, timing t,
                            std::shared_ptr<control_metrics> metrics,
                            uint64_t mailbox_capacity) {
  child_spec spec;
  spec.name = name_for(ctx->self.node_id);
  spec.type = "controller";
  spec.mailbox_capacity = mailbox_capacity;
  spec.start = [ctx, t, metrics](caf::local_actor* sup, const child_context& c) {
    return sup->spawn(controller_actor, ctx, t, metrics, c.gate);
  };
  return spec;
}

} // namespace troupe::control
