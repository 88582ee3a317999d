#include "actors/consensus/raft_shell.hpp"

#include "actors/consensus/raft_wire.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace troupe::raft {

namespace {

envelope propose_reply(v1::ProposeStatus status, std::string error_message,
                       node_id leader_hint = no_node) {
  v1::ProposeReply reply;
  reply.set_status(status);
  reply.set_leader_hint(leader_hint);
  reply.set_error_message(std::move(error_message));
  return pack(reply);
}

// Answers every pending proposal with `status` (leadership lost, stopping).
void fail_pending(shell_actor* self, v1::ProposeStatus status,
                  const std::string& why) {
  auto& st = self->state;
  for (auto& [index, p] : st.pending)
    p.promise.deliver(propose_reply(status, why));
  st.counters.proposals_failed += st.pending.size();
  st.pending.clear();
}

// A failed write or a broken invariant: the core's view can no longer be
// trusted to match the disk, so stop and let the supervisor restart the
// member from storage.
void stop(shell_actor* self, caf::error reason) {
  fail_pending(self, v1::PROPOSE_STATUS_STOPPED,
               "raft member stopped: " + to_string(reason));
  self->state.inflight.clear();
  self->quit(std::move(reason));
}

// Runs `fn` on the core; an invariant_violation (a programmer error) stops
// the member instead of letting a corrupt core go on.
template <class F>
bool guarded(shell_actor* self, F&& fn) {
  try {
    fn(*self->state.core);
    return true;
  } catch (const invariant_violation& e) {
    stop(self, caf::make_error(caf::sec::runtime_error,
                               std::string{"raft invariant violated: "} + e.what()));
    return false;
  }
}

void answer_applied(shell_actor* self, const entry& e, std::string result) {
  auto& st = self->state;
  auto i = st.pending.find(e.index);
  if (i == st.pending.end())
    return;
  if (i->second.term == e.term && e.kind == entry_kind::command) {
    v1::ProposeReply reply;
    reply.set_index(e.index);
    reply.set_term(e.term);
    reply.set_result(std::move(result));
    i->second.promise.deliver(pack(reply));
  } else {
    // Another leader's entry took this index: ours never commits.
    ++st.counters.proposals_failed;
    i->second.promise.deliver(propose_reply(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
                                            "entry replaced by a newer leader"));
  }
  st.pending.erase(i);
}

// Step 2 and 3 of a ready batch, once its write is durable.
void release(shell_actor* self, ready& batch) {
  auto& st = self->state;
  for (auto& m : batch.messages)
    st.deps.send(self, message_to(m), pack(to_proto(m)));
  for (auto& e : batch.committed) {
    std::string result;
    if (e.kind == entry_kind::command) {
      result = st.deps.apply(e);
      ++st.counters.entries_applied;
    }
    st.applied = e.index;
    answer_applied(self, e, std::move(result));
  }
}

void release_persisted_prefix(shell_actor* self) {
  auto& st = self->state;
  while (!st.inflight.empty() && st.inflight.front().persisted) {
    auto batch = std::move(st.inflight.front().batch);
    st.inflight.pop_front();
    release(self, batch);
  }
}

// Step 1 of a ready batch: submit its write. The completion may run on the
// writer thread, so it only sends this actor a message.
void submit_ready(shell_actor* self, ready batch) {
  auto& st = self->state;
  auto seq = st.next_seq++;
  auto write = to_write(batch);
  st.inflight.push_back({seq, !write.has_value(), std::move(batch)});
  if (!write)
    return;
  auto me = caf::actor_cast<caf::actor>(self);
  st.deps.persistence->persist(std::move(*write),
                               [me, seq](const storage::raft_status& status) {
                                 caf::anon_send(me, persisted_atom_v, seq,
                                                static_cast<uint8_t>(status.code),
                                                status.message);
                               });
}

// Proposals made under a term we no longer lead in cannot be answered
// reliably here any more: fail them now rather than at their timeout.
void check_leadership(shell_actor* self) {
  auto& st = self->state;
  if (st.pending.empty())
    return;
  auto& core = *st.core;
  auto term = st.pending.begin()->second.term;
  if (core.current_role() != role::leader || core.term() != term)
    fail_pending(self, v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
                 "leadership lost in term " + std::to_string(term)
                   + "; the entry may still commit: retry with the same request id");
}

// Called after every input to the core.
void after_input(shell_actor* self) {
  auto& st = self->state;
  check_leadership(self);
  if (st.core->has_ready())
    submit_ready(self, st.core->take_ready());
  release_persisted_prefix(self);
}

bool shedding(const shell_state& st) {
  return st.inflight.size() >= st.cfg.max_readies_in_flight;
}

void expire_proposals(shell_actor* self) {
  auto& st = self->state;
  // Deadlines grow with the index within one leadership, so the expired
  // proposals are a prefix of the map.
  while (!st.pending.empty() && st.pending.begin()->second.deadline_tick <= st.ticks) {
    ++st.counters.proposals_failed;
    st.pending.begin()->second.promise.deliver(
      propose_reply(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
                    "not applied within " + std::to_string(st.cfg.proposal_timeout_ticks)
                      + " ticks; the entry may still commit: retry with the same request id"));
    st.pending.erase(st.pending.begin());
  }
}

void on_tick(shell_actor* self) {
  auto& st = self->state;
  self->delayed_send(self, st.cfg.tick_interval, tick_atom_v);
  ++st.ticks;
  expire_proposals(self);
  if (shedding(st))
    return;
  if (guarded(self, [](raft_core& core) { core.tick(); }))
    after_input(self);
}

void on_persisted(shell_actor* self, std::uint64_t seq, uint8_t code,
                  const std::string& what) {
  auto& st = self->state;
  if (code != static_cast<uint8_t>(storage::raft_store_errc::ok)) {
    stop(self, make_error(errc::storage_failure,
                          std::string{"raft write failed ("}
                            + to_string(static_cast<storage::raft_store_errc>(code))
                            + "): " + what));
    return;
  }
  for (auto& r : st.inflight)
    if (r.seq == seq)
      r.persisted = true;
  release_persisted_prefix(self);
}

void on_raft_message(shell_actor* self, const envelope& env) {
  auto& st = self->state;
  auto wire = unpack<v1::RaftMessage>(env);
  auto m = wire ? from_proto(*wire) : caf::expected<message>{wire.error()};
  if (!m || message_to(*m) != st.core->id() || shedding(st)) {
    ++st.counters.dropped_messages;
    return;
  }
  if (guarded(self, [&m](raft_core& core) { core.step(*m); }))
    after_input(self);
}

caf::result<envelope> on_propose(shell_actor* self, const envelope& env) {
  auto& st = self->state;
  auto req = unpack<v1::Propose>(env);
  if (!req)
    return std::move(req.error());
  if (st.pending.size() >= st.cfg.max_pending_proposals || shedding(st)) {
    ++st.counters.proposals_failed;
    return propose_reply(v1::PROPOSE_STATUS_OVERLOADED,
                         "too many pending proposals or writes; back off and retry");
  }
  propose_result res;
  if (!guarded(self, [&](raft_core& core) { res = core.propose(req->command()); }))
    return propose_reply(v1::PROPOSE_STATUS_STOPPED, "raft member stopped");
  if (!res) {
    ++st.counters.proposals_failed;
    if (res.error == propose_error::overloaded)
      return propose_reply(v1::PROPOSE_STATUS_OVERLOADED,
                           "too many uncommitted entries; back off and retry");
    return propose_reply(v1::PROPOSE_STATUS_NOT_LEADER, "not the leader",
                         res.leader_hint);
  }
  st.pending.emplace(res.accepted->index,
                     shell_state::pending_proposal{
                       res.accepted->term, st.ticks + st.cfg.proposal_timeout_ticks,
                       self->make_response_promise<envelope>()});
  after_input(self);
  return caf::delegated<envelope>{};
}

envelope status_of(const shell_state& st) {
  v1::RaftStatus s;
  auto& core = *st.core;
  s.set_member_id(core.id());
  s.set_role(to_string(core.current_role()));
  s.set_term(core.term());
  s.set_leader(core.leader());
  s.set_commit_index(core.commit_index());
  s.set_applied_index(st.applied);
  s.set_last_index(core.log().last_index());
  s.set_pending_proposals(st.pending.size());
  s.set_readies_in_flight(st.inflight.size());
  return pack(s);
}

caf::result<envelope> on_envelope(shell_actor* self, const envelope& env) {
  if (self->state.deps.gate)
    self->state.deps.gate->leave();
  if (holds<v1::RaftMessage>(env)) {
    on_raft_message(self, env);
    // One-way: no reply, even if the sender used a request.
    return caf::delegated<envelope>{};
  }
  if (holds<v1::Propose>(env))
    return on_propose(self, env);
  if (holds<v1::RaftStatusRequest>(env))
    return status_of(self->state);
  return make_error(errc::unexpected_message,
                    "raft member does not handle " + env.type
                      + " (it handles troupe.v1.RaftMessage, troupe.v1.Propose, "
                        "troupe.v1.RaftStatusRequest)");
}

} // namespace

caf::behavior raft_shell(shell_actor* self, shell_config cfg, shell_deps deps) {
  auto& st = self->state;
  st.core = std::make_unique<raft_core>(cfg.core, std::move(cfg.restored), cfg.seed);
  st.cfg = std::move(cfg);
  st.deps = std::move(deps);
  self->delayed_send(self, st.cfg.tick_interval, tick_atom_v);
  return {
    [self](tick_atom) { on_tick(self); },
    [self](persisted_atom, std::uint64_t seq, uint8_t code, const std::string& what) {
      on_persisted(self, seq, code, what);
    },
    [self](const envelope& env) { return on_envelope(self, env); },
  };
}

std::string name_for(const std::string& node_id) {
  return "raft/" + node_id;
}

transport named_transport(node_context_ptr ctx,
                          std::map<node_id, std::string> node_names) {
  return [ctx = std::move(ctx), names = std::move(node_names)](
           caf::event_based_actor* self, node_id to, envelope msg) {
    auto i = names.find(to);
    if (i != names.end())
      send_by_name(self, ctx, name_for(i->second), std::move(msg));
  };
}

} // namespace troupe::raft
