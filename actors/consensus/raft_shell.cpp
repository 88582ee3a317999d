#include "actors/consensus/raft_shell.hpp"

#include "actors/consensus/raft_wire.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace troupe::raft {

namespace {

v1::ProposeReply reply_of(v1::ProposeStatus status, std::string error_message,
                          node_id leader_hint = no_node) {
  v1::ProposeReply reply;
  reply.set_status(status);
  reply.set_leader_hint(leader_hint);
  reply.set_error_message(std::move(error_message));
  return reply;
}

void count_failure(shell_state& st) {
  ++st.counters.proposals_failed;
  if (st.deps.stats)
    st.deps.stats->proposals_failed.fetch_add(1, std::memory_order_relaxed);
}

// Answers every pending proposal with `reply`.
void fail_pending(shell_state& st, const v1::ProposeReply& reply) {
  for (auto& [index, p] : st.pending) {
    count_failure(st);
    p.done(reply);
  }
  st.pending.clear();
}

// Answers every waiting proposal and read with `status` (leadership lost,
// stopping, disk full).
void fail_waiting(shell_actor* self, v1::ProposeStatus status, const std::string& why) {
  auto& st = self->state;
  auto reply = reply_of(status, why);
  fail_pending(st, reply);
  for (auto& [ctx, r] : st.reads_unconfirmed)
    r.done(reply);
  for (auto& [index, r] : st.reads_confirmed)
    r.done(reply);
  st.reads_unconfirmed.clear();
  st.reads_confirmed.clear();
  if (st.transfer) {
    v1::RaftAdminReply admin;
    admin.set_status(status);
    admin.set_error_message(why);
    st.transfer->promise.deliver(pack(admin));
    st.transfer.reset();
  }
}

// A failed write or a broken invariant: the core's view can no longer be
// trusted to match the disk, so stop and let the supervisor restart the
// member from storage.
void stop(shell_actor* self, caf::error reason) {
  fail_waiting(self, v1::PROPOSE_STATUS_STOPPED, "raft member stopped: " + to_string(reason));
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
  if (i->second.term == e.term && e.kind == i->second.kind) {
    v1::ProposeReply reply;
    reply.set_index(e.index);
    reply.set_term(e.term);
    reply.set_result(std::move(result));
    i->second.done(reply);
  } else {
    // Another leader's entry took this index: ours never commits.
    count_failure(st);
    i->second.done(reply_of(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
                            "entry replaced by a newer leader"));
  }
  st.pending.erase(i);
}

void answer_reads_up_to_applied(shell_actor* self) {
  auto& st = self->state;
  while (!st.reads_confirmed.empty() && st.reads_confirmed.begin()->first <= st.applied) {
    auto done = std::move(st.reads_confirmed.begin()->second.done);
    st.reads_confirmed.erase(st.reads_confirmed.begin());
    done(v1::ProposeReply{});
  }
}

void restore_snapshot(shell_actor* self, const snapshot& snap) {
  auto& st = self->state;
  if (!st.deps.machine->restore(snap.data)) {
    stop(self, make_error(errc::storage_failure,
                          "raft snapshot at index " + std::to_string(snap.meta.index)
                            + " does not restore the state machine"));
    return;
  }
  st.applied = snap.meta.index;
  st.last_snapshot = snap.meta.index;
}

void apply_entries(shell_actor* self, std::vector<entry>& committed) {
  auto& st = self->state;
  for (auto& e : committed) {
    if (e.index <= st.applied)
      continue; // covered by a snapshot restored in this batch
    std::string result;
    if (e.kind == entry_kind::command) {
      result = st.deps.machine->apply(e);
      ++st.counters.entries_applied;
    }
    st.applied = e.index;
    answer_applied(self, e, std::move(result));
  }
}

// Sends one core message to its member, with our node id so that a member
// that does not know us yet can answer.
void send_message(shell_actor* self, const message& m) {
  auto& st = self->state;
  auto wire = to_proto(m);
  wire.set_from_node(st.cfg.node_name);
  auto to = message_to(m);
  auto i = st.node_names.find(to);
  st.deps.send(self, to, i == st.node_names.end() ? std::string{} : i->second, pack(wire));
}

// Steps 2 to 4 of a ready batch, once its write is durable.
void release(shell_actor* self, ready& batch) {
  auto& st = self->state;
  for (auto& m : batch.messages) {
    send_message(self, m);
  }
  if (batch.snap_received && batch.snap) {
    restore_snapshot(self, *batch.snap);
    if (self->getf(caf::abstract_actor::is_terminated_flag))
      return;
  }
  apply_entries(self, batch.committed);
  for (auto& r : batch.reads) {
    auto i = st.reads_unconfirmed.find(r.context);
    if (i == st.reads_unconfirmed.end())
      continue;
    st.reads_confirmed.emplace(r.index, std::move(i->second));
    st.reads_unconfirmed.erase(i);
  }
  for (auto ctx : batch.failed_reads) {
    auto i = st.reads_unconfirmed.find(ctx);
    if (i == st.reads_unconfirmed.end())
      continue;
    if (st.deps.stats)
      st.deps.stats->read_index_failed.fetch_add(1, std::memory_order_relaxed);
    i->second.done(reply_of(v1::PROPOSE_STATUS_NOT_LEADER, "leadership lost before the read",
                            st.core->leader()));
    st.reads_unconfirmed.erase(i);
  }
  answer_reads_up_to_applied(self);
  if (!batch.committed.empty() || batch.snap_received)
    st.deps.machine->after_apply(self);
}

void release_persisted_prefix(shell_actor* self) {
  auto& st = self->state;
  while (!st.inflight.empty() && st.inflight.front().persisted) {
    auto batch = std::move(st.inflight.front().batch);
    st.inflight.pop_front();
    release(self, batch);
    if (self->getf(caf::abstract_actor::is_terminated_flag))
      return;
  }
}

// A heartbeat answer promises only that the log matches the leader's up to
// its match_index. Capped at what is durable, that promise holds at once, so
// it goes out now instead of queueing behind other batches' fsyncs: under a
// slow disk that queue would delay every answer and make the leader's
// check-quorum believe it lost its followers. (A lower match_index is a
// weaker true claim; the leader keeps the highest it heard.) Everything else
// still waits for its own batch.
//
// The leader's heartbeats go out early too. A heartbeat carries no entries;
// its prev_log_index is a match the follower already acknowledged, and its
// leader_commit counts only acknowledgements, each of which proves that the
// leader's own copy was durable (entries leave the leader only after its
// write). So a heartbeat promises nothing that is not on disk, and a leader
// whose fsync stalls keeps its followers from timing out.
bool may_send_early(const message& m) {
  if (auto* r = std::get_if<append_response>(&m))
    return r->heartbeat && r->success;
  if (auto* a = std::get_if<append_request>(&m))
    return a->heartbeat && a->entries.empty();
  return false;
}

void send_early(shell_actor* self, ready& batch) {
  auto& st = self->state;
  if (batch.messages.empty())
    return;
  std::vector<message> rest;
  for (auto& m : batch.messages) {
    if (!may_send_early(m)) {
      rest.push_back(std::move(m));
      continue;
    }
    if (auto* r = std::get_if<append_response>(&m))
      r->match_index = std::min(r->match_index, st.durable_upto);
    send_message(self, m);
  }
  batch.messages = std::move(rest);
}

// Step 1 of a ready batch: submit its write. The completion may run on the
// writer thread, so it only sends this actor a message.
void submit_ready(shell_actor* self, ready batch) {
  auto& st = self->state;
  send_early(self, batch);
  auto seq = st.next_seq++;
  auto write = to_write(batch);
  index_t first = 0, last = 0;
  if (batch.snap_received && batch.snap) {
    first = 1; // the stored log is replaced
    last = batch.snap->meta.index;
  }
  if (!batch.entries.empty()) {
    first = first == 0 ? batch.entries.front().index : first;
    last = batch.entries.back().index;
  }
  if (first != 0)
    st.durable_upto = std::min(st.durable_upto, first - 1);
  st.inflight.push_back({seq, !write.has_value(), std::move(batch), first, last});
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

// A write is durable: the log is on disk up to its last index, except what
// a later, still pending write replaces.
void mark_durable(shell_state& st, std::deque<shell_state::inflight_ready>::iterator done) {
  done->persisted = true;
  if (done->last_written == 0)
    return;
  auto upto = done->last_written;
  for (auto i = std::next(done); i != st.inflight.end(); ++i)
    if (i->first_written != 0)
      upto = std::min(upto, i->first_written - 1);
  st.durable_upto = std::max(st.durable_upto, upto);
}

// Proposals made under a term we no longer lead in cannot be answered
// reliably here any more: fail them now rather than at their timeout.
void check_leadership(shell_actor* self) {
  auto& st = self->state;
  if (st.pending.empty())
    return;
  auto& core = *st.core;
  auto term = st.pending.begin()->second.term;
  if (core.current_role() != role::leader || core.term() != term) {
    auto why = "leadership lost in term " + std::to_string(term)
               + "; the entry may still commit: retry with the same request id";
    auto reply = reply_of(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN, why, core.leader());
    fail_pending(st, reply);
  }
}

void learn_names(shell_state& st) {
  auto& m = st.core->members();
  for (auto* group : {&m.voters, &m.learners})
    for (auto& [id, name] : *group)
      if (!name.empty())
        st.node_names[id] = name;
}

void publish_stats(shell_state& st) {
  auto& core = *st.core;
  if (core.leader() != st.last_leader) {
    if (core.leader() != no_node && st.deps.stats)
      st.deps.stats->leader_changes.fetch_add(1, std::memory_order_relaxed);
    st.last_leader = core.leader();
  }
  auto* s = st.deps.stats.get();
  if (!s)
    return;
  s->has_leader.store(core.leader() != no_node, std::memory_order_relaxed);
  s->is_leader.store(core.current_role() == role::leader, std::memory_order_relaxed);
  s->is_voter.store(core.members().is_voter(core.id()), std::memory_order_relaxed);
  s->term.store(core.term(), std::memory_order_relaxed);
  s->proposals_committed.store(core.commit_index(), std::memory_order_relaxed);
  s->proposals_applied.store(st.applied, std::memory_order_relaxed);
  s->proposals_pending.store(st.pending.size(), std::memory_order_relaxed);
  s->dropped_messages.store(st.counters.dropped_messages, std::memory_order_relaxed);
}

// Snapshots bound the log: after snapshot_entries applied entries, the state
// machine's state goes to the core, which keeps it for lagging followers and
// asks the shell to persist it and drop the covered log prefix.
void maybe_snapshot(shell_actor* self) {
  auto& st = self->state;
  if (st.applied < st.last_snapshot + st.cfg.snapshot_entries || st.applied == 0)
    return;
  auto index = st.applied;
  auto data = st.deps.machine->snapshot();
  if (guarded(self, [&](raft_core& core) { core.compact(index, std::move(data)); })) {
    st.last_snapshot = index;
    if (st.deps.stats)
      st.deps.stats->snapshots.fetch_add(1, std::memory_order_relaxed);
  }
}

// Called after every input to the core.
void after_input(shell_actor* self) {
  auto& st = self->state;
  check_leadership(self);
  for (int round = 0; round < 2; ++round) {
    if (st.core->has_ready())
      submit_ready(self, st.core->take_ready());
    release_persisted_prefix(self);
    if (self->getf(caf::abstract_actor::is_terminated_flag))
      return;
    if (round == 0)
      maybe_snapshot(self);
  }
  learn_names(st);
  publish_stats(st);
}

bool shedding(const shell_state& st) {
  return st.inflight.size() >= st.cfg.max_readies_in_flight;
}

void expire_waiting(shell_actor* self) {
  auto& st = self->state;
  // Deadlines grow with the index within one leadership, so the expired
  // proposals are a prefix of the map.
  while (!st.pending.empty() && st.pending.begin()->second.deadline_tick <= st.ticks) {
    count_failure(st);
    st.pending.begin()->second.done(reply_of(
      v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
      "not applied within " + std::to_string(st.cfg.proposal_timeout_ticks)
        + " ticks; the entry may still commit: retry with the same request id"));
    st.pending.erase(st.pending.begin());
  }
  auto timeout = reply_of(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN,
                          "read not confirmed in time (no quorum?): retry");
  for (auto i = st.reads_unconfirmed.begin(); i != st.reads_unconfirmed.end();) {
    if (i->second.deadline_tick > st.ticks) {
      ++i;
      continue;
    }
    i->second.done(timeout);
    i = st.reads_unconfirmed.erase(i);
  }
  for (auto i = st.reads_confirmed.begin(); i != st.reads_confirmed.end();) {
    if (i->second.deadline_tick > st.ticks) {
      ++i;
      continue;
    }
    i->second.done(timeout);
    i = st.reads_confirmed.erase(i);
  }
}

void check_transfer(shell_actor* self) {
  auto& st = self->state;
  if (!st.transfer)
    return;
  v1::RaftAdminReply reply;
  if (st.core->leader() == st.transfer->target) {
    reply.set_status(v1::PROPOSE_STATUS_OK);
    reply.set_leader_node(leader_node(st));
  } else if (st.transfer->deadline_tick <= st.ticks) {
    reply.set_status(v1::PROPOSE_STATUS_OUTCOME_UNKNOWN);
    reply.set_error_message("leadership did not move within "
                            + std::to_string(st.transfer->deadline_tick) + " ticks; "
                            "check that the target is up and caught up, then retry");
    reply.set_leader_node(leader_node(st));
  } else {
    return;
  }
  st.transfer->promise.deliver(pack(reply));
  st.transfer.reset();
}

// A learner is caught up when it is within this many entries of the
// leader's commit index; promoting it earlier would let it hold up commits.
constexpr index_t caught_up_slack = 100;

void promote_caught_up(shell_actor* self) {
  auto& st = self->state;
  auto& core = *st.core;
  if (core.current_role() != role::leader || st.auto_promote.empty())
    return;
  for (auto i = st.auto_promote.begin(); i != st.auto_promote.end();) {
    auto id = i->first;
    if (!core.members().learners.count(id)) {
      i = st.auto_promote.erase(i);
      continue;
    }
    if (core.match_index(id) + caught_up_slack >= core.commit_index()) {
      propose_result res;
      if (!guarded(self, [&](raft_core& c) { res = c.propose_change({change_kind::promote, id, {}}); }))
        return;
      if (res)
        i = st.auto_promote.erase(i);
      return; // one change at a time
    }
    ++i;
  }
}

// -- full disk -------------------------------------------------------------------

void enter_disk_full(shell_actor* self, const std::string& what) {
  auto& st = self->state;
  st.disk_full = "disk full: " + what;
  if (st.deps.stats)
    st.deps.stats->disk_full.store(true, std::memory_order_relaxed);
  fail_waiting(self, v1::PROPOSE_STATUS_STOPPED, *st.disk_full);
  // Batches behind the failed one were built on it: none may be released.
  st.inflight.clear();
}

void probe_disk(shell_actor* self) {
  auto& st = self->state;
  if (st.probing || st.ticks % st.cfg.disk_probe_ticks != 0)
    return;
  st.probing = true;
  storage::raft_write probe;
  probe.hard_state = storage::hard_state_record{st.core->term(), st.core->voted_for(), 0};
  auto me = caf::actor_cast<caf::actor>(self);
  st.deps.persistence->persist(std::move(probe), [me](const storage::raft_status& status) {
    caf::anon_send(me, persisted_atom_v, std::uint64_t{0}, static_cast<uint8_t>(status.code),
                   status.message);
  });
}

void on_probe_done(shell_actor* self, uint8_t code, const std::string& what) {
  auto& st = self->state;
  st.probing = false;
  if (code == static_cast<uint8_t>(storage::raft_store_errc::no_space))
    return;
  if (code != static_cast<uint8_t>(storage::raft_store_errc::ok)) {
    stop(self, make_error(errc::storage_failure, "raft disk probe failed: " + what));
    return;
  }
  // The disk takes writes again. The core's memory ran ahead of the disk
  // when the write failed, so restart from what storage holds.
  stop(self, make_error(errc::storage_failure,
                        "disk has space again after: " + *st.disk_full
                          + "; restarting the raft member from storage"));
}

// -- handlers --------------------------------------------------------------------

void on_tick(shell_actor* self) {
  auto& st = self->state;
  self->delayed_send(self, st.cfg.tick_interval, tick_atom_v);
  ++st.ticks;
  if (st.disk_full) {
    probe_disk(self);
    return;
  }
  expire_waiting(self);
  if (shedding(st))
    return;
  if (!guarded(self, [](raft_core& core) { core.tick(); }))
    return;
  after_input(self);
  check_transfer(self);
  promote_caught_up(self);
  st.deps.machine->on_tick(self);
}

void on_persisted(shell_actor* self, std::uint64_t seq, uint8_t code, const std::string& what) {
  auto& st = self->state;
  if (seq == 0) {
    on_probe_done(self, code, what);
    return;
  }
  if (st.disk_full)
    return; // a batch of the abandoned queue
  if (code == static_cast<uint8_t>(storage::raft_store_errc::no_space)) {
    enter_disk_full(self, what);
    return;
  }
  if (code != static_cast<uint8_t>(storage::raft_store_errc::ok)) {
    stop(self, make_error(errc::storage_failure,
                          std::string{"raft write failed ("}
                            + to_string(static_cast<storage::raft_store_errc>(code))
                            + "): " + what));
    return;
  }
  for (auto i = st.inflight.begin(); i != st.inflight.end(); ++i)
    if (i->seq == seq)
      mark_durable(st, i);
  release_persisted_prefix(self);
  if (!self->getf(caf::abstract_actor::is_terminated_flag))
    after_input(self);
}

void drop_message(shell_state& st) {
  ++st.counters.dropped_messages;
}

void on_raft_message(shell_actor* self, const envelope& env) {
  auto& st = self->state;
  if (st.disk_full) {
    drop_message(st);
    return;
  }
  auto wire = unpack<v1::RaftMessage>(env);
  auto m = wire ? from_proto(*wire) : caf::expected<message>{wire.error()};
  if (!m || message_to(*m) != st.core->id() || shedding(st)) {
    drop_message(st);
    return;
  }
  if (!wire->from_node().empty())
    st.node_names[message_from(*m)] = wire->from_node();
  if (guarded(self, [&m](raft_core& core) { core.step(*m); }))
    after_input(self);
}

std::optional<v1::ProposeReply> refuse_new_work(const shell_state& st) {
  if (st.disk_full)
    return reply_of(v1::PROPOSE_STATUS_STOPPED, *st.disk_full + "; free space on the data dir");
  if (st.pending.size() >= st.cfg.max_pending_proposals || shedding(st))
    return reply_of(v1::PROPOSE_STATUS_OVERLOADED,
                    "too many pending proposals or writes; back off and retry");
  return std::nullopt;
}

v1::ProposeReply refused(const propose_result& res) {
  if (res.error == propose_error::overloaded)
    return reply_of(v1::PROPOSE_STATUS_OVERLOADED,
                    "too many uncommitted entries; back off and retry");
  if (res.error == propose_error::rejected)
    return reply_of(v1::PROPOSE_STATUS_REJECTED, "the change does not fit the membership now");
  return reply_of(v1::PROPOSE_STATUS_NOT_LEADER, "not the leader", res.leader_hint);
}

// Proposes through `propose` (a command or a config change) and tracks it.
template <class Propose>
void track(shell_actor* self, entry_kind kind, Propose propose, proposal_done done) {
  auto& st = self->state;
  if (auto no = refuse_new_work(st)) {
    count_failure(st);
    done(*no);
    return;
  }
  propose_result res;
  if (!guarded(self, [&](raft_core& core) { res = propose(core); })) {
    done(reply_of(v1::PROPOSE_STATUS_STOPPED, "raft member stopped"));
    return;
  }
  if (!res) {
    count_failure(st);
    done(refused(res));
    return;
  }
  st.pending.emplace(res.accepted->index,
                     shell_state::pending_proposal{res.accepted->term,
                                                   st.ticks + st.cfg.proposal_timeout_ticks,
                                                   kind, std::move(done)});
  after_input(self);
}

caf::result<envelope> on_propose(shell_actor* self, const envelope& env) {
  auto req = unpack<v1::Propose>(env);
  if (!req)
    return std::move(req.error());
  auto promise = self->make_response_promise<envelope>();
  propose_command(self, req->command(), [promise](const v1::ProposeReply& reply) mutable {
    promise.deliver(pack(reply));
  });
  return promise;
}

void add_member_status(const shell_state& st, google::protobuf::RepeatedPtrField<v1::RaftMemberStatus>& out) {
  auto& core = *st.core;
  auto& m = core.members();
  auto leader = core.current_role() == role::leader;
  for (auto voter : {true, false})
    for (auto& [id, name] : voter ? m.voters : m.learners) {
      auto* x = out.Add();
      x->set_member_id(id);
      x->set_node_id(name);
      x->set_voter(voter);
      x->set_match_index(leader ? core.match_index(id) : 0);
    }
}

envelope status_of(const shell_state& st) {
  v1::RaftStatus s;
  auto& core = *st.core;
  auto& m = core.members();
  s.set_member_id(core.id());
  s.set_node_id(st.cfg.node_name);
  bool member = m.contains(core.id());
  s.set_role(st.disk_full         ? "paused (disk full)"
             : !member            ? "not a member"
             : m.is_voter(core.id()) ? to_string(core.current_role())
                                  : "learner");
  s.set_term(core.term());
  s.set_leader(core.leader());
  s.set_leader_node(leader_node(st));
  s.set_commit_index(core.commit_index());
  s.set_applied_index(st.applied);
  s.set_last_index(core.log().last_index());
  s.set_pending_proposals(st.pending.size());
  s.set_readies_in_flight(st.inflight.size());
  s.set_snapshot_index(core.snapshot_index());
  s.set_first_index(core.log().first_index());
  s.set_transferring(core.transferring());
  s.set_kv_revision(st.deps.machine->revision());
  add_member_status(st, *s.mutable_members());
  return pack(s);
}

v1::RaftAdminReply admin_reply(const shell_state& st, v1::ProposeStatus status,
                               std::string error_message) {
  v1::RaftAdminReply reply;
  reply.set_status(status);
  reply.set_error_message(std::move(error_message));
  reply.set_leader_node(leader_node(st));
  add_member_status(st, *reply.mutable_members());
  return reply;
}

// The member id of the node named `node`: from the membership when it is a
// member (ids there are authoritative), else the id a new member gets.
node_id id_of(const shell_state& st, const std::string& node) {
  auto& m = st.core->members();
  for (auto* group : {&m.voters, &m.learners})
    for (auto& [id, name] : *group)
      if (name == node)
        return id;
  return member_id_for(node);
}

std::optional<membership_change> change_for(shell_state& st, const v1::RaftMembershipChange& req,
                                            std::string& why) {
  auto id = id_of(st, req.node_id());
  auto& m = st.core->members();
  switch (req.op()) {
    case v1::RaftMembershipChange::ADD_LEARNER:
      if (m.contains(id)) {
        // Idempotent: a joining node asks again until it is a voter.
        if (req.auto_promote() && m.learners.count(id))
          st.auto_promote.emplace(id, st.ticks);
        return std::nullopt;
      }
      if (req.auto_promote())
        st.auto_promote.emplace(id, st.ticks);
      return membership_change{change_kind::add_learner, id, req.node_id()};
    case v1::RaftMembershipChange::PROMOTE:
      if (m.is_voter(id))
        return std::nullopt;
      if (!m.learners.count(id))
        why = req.node_id() + " is not a learner: add it first";
      return membership_change{change_kind::promote, id, {}};
    case v1::RaftMembershipChange::REMOVE:
      if (!m.contains(id))
        return std::nullopt;
      return membership_change{change_kind::remove, id, {}};
    default:
      why = "unknown membership operation";
      return std::nullopt;
  }
}

caf::result<envelope> on_membership_change(shell_actor* self, const envelope& env) {
  auto req = unpack<v1::RaftMembershipChange>(env);
  if (!req)
    return std::move(req.error());
  auto& st = self->state;
  if (req->node_id().empty())
    return pack(admin_reply(st, v1::PROPOSE_STATUS_REJECTED, "node_id is empty"));
  if (st.core->current_role() != role::leader)
    return pack(admin_reply(st, v1::PROPOSE_STATUS_NOT_LEADER, "not the leader"));
  std::string why;
  auto change = change_for(st, *req, why);
  if (!why.empty())
    return pack(admin_reply(st, v1::PROPOSE_STATUS_REJECTED, why));
  if (!change)
    return pack(admin_reply(st, v1::PROPOSE_STATUS_OK, {})); // nothing to change
  auto promise = self->make_response_promise<envelope>();
  track(
    self, entry_kind::config, [&](raft_core& core) { return core.propose_change(*change); },
    [self, promise](const v1::ProposeReply& reply) mutable {
      promise.deliver(pack(admin_reply(self->state, reply.status(), reply.error_message())));
    });
  return promise;
}

caf::result<envelope> on_transfer(shell_actor* self, const envelope& env) {
  auto req = unpack<v1::RaftTransferLeader>(env);
  if (!req)
    return std::move(req.error());
  auto& st = self->state;
  auto target = id_of(st, req->node_id());
  if (st.core->leader() == target)
    return pack(admin_reply(st, v1::PROPOSE_STATUS_OK, {}));
  if (st.transfer)
    return pack(admin_reply(st, v1::PROPOSE_STATUS_REJECTED,
                            "a leadership transfer is already under way"));
  propose_result res;
  if (!guarded(self, [&](raft_core& core) { res = core.transfer_leadership(target); }))
    return pack(admin_reply(st, v1::PROPOSE_STATUS_STOPPED, "raft member stopped"));
  if (!res)
    return pack(admin_reply(st, refused(res).status(),
                            res.error == propose_error::rejected
                              ? req->node_id() + " is not another voter"
                              : "not the leader"));
  auto promise = self->make_response_promise<envelope>();
  // Two election timeouts: the target campaigns at once, but must win.
  st.transfer = shell_state::pending_transfer{
    target, st.ticks + 2 * st.cfg.core.election_timeout_ticks + st.cfg.core.transfer_timeout_ticks,
    promise};
  after_input(self);
  return promise;
}

caf::result<envelope> on_envelope(shell_actor* self, const envelope& env) {
  auto& st = self->state;
  if (st.deps.gate)
    st.deps.gate->leave();
  if (holds<v1::RaftMessage>(env)) {
    on_raft_message(self, env);
    // One-way: no reply, even if the sender used a request.
    return caf::delegated<envelope>{};
  }
  if (holds<v1::Propose>(env))
    return on_propose(self, env);
  if (holds<v1::RaftStatusRequest>(env))
    return status_of(st);
  if (holds<v1::RaftMembershipChange>(env))
    return on_membership_change(self, env);
  if (holds<v1::RaftTransferLeader>(env))
    return on_transfer(self, env);
  if (auto handled = st.deps.machine->on_request(self, env))
    return std::move(*handled);
  return make_error(errc::unexpected_message,
                    "raft member does not handle " + env.type
                      + " (it handles troupe.v1.RaftMessage, Propose, RaftStatusRequest, "
                        "RaftMembershipChange, RaftTransferLeader, KvRequest, WatchRequest)");
}

} // namespace

caf::behavior raft_shell(shell_actor* self, shell_config cfg, shell_deps deps) {
  auto& st = self->state;
  st.deps = std::move(deps);
  std::optional<snapshot> snap = cfg.restored.snap;
  st.durable_upto = !cfg.restored.log.empty() ? cfg.restored.log.back().index
                    : snap                    ? snap->meta.index
                                              : 0;
  st.core = std::make_unique<raft_core>(cfg.core, std::move(cfg.restored), cfg.seed);
  st.cfg = std::move(cfg);
  if (snap) {
    restore_snapshot(self, *snap);
    st.deps.machine->after_apply(self);
  }
  learn_names(st);
  if (st.deps.stats)
    st.deps.stats->disk_full.store(false, std::memory_order_relaxed); // a new incarnation
  publish_stats(st);
  self->delayed_send(self, st.cfg.tick_interval, tick_atom_v);
  return {
    [self](tick_atom) { on_tick(self); },
    [self](persisted_atom, std::uint64_t seq, uint8_t code, const std::string& what) {
      on_persisted(self, seq, code, what);
    },
    [self](const envelope& env) { return on_envelope(self, env); },
  };
}

void propose_command(shell_actor* self, std::string command, proposal_done done) {
  track(
    self, entry_kind::command,
    [&](raft_core& core) { return core.propose(std::move(command)); }, std::move(done));
}

void linearizable_read(shell_actor* self, read_done done) {
  auto& st = self->state;
  if (st.disk_full) {
    done(reply_of(v1::PROPOSE_STATUS_STOPPED, *st.disk_full));
    return;
  }
  if (st.reads_unconfirmed.size() + st.reads_confirmed.size() >= st.cfg.max_pending_reads) {
    done(reply_of(v1::PROPOSE_STATUS_OVERLOADED, "too many pending reads; back off and retry"));
    return;
  }
  auto ctx = st.next_read_context++;
  propose_result res;
  if (!guarded(self, [&](raft_core& core) { res = core.read_index(ctx); })) {
    done(reply_of(v1::PROPOSE_STATUS_STOPPED, "raft member stopped"));
    return;
  }
  if (!res) {
    done(refused(res));
    return;
  }
  st.reads_unconfirmed.emplace(
    ctx, shell_state::pending_read{st.ticks + st.cfg.read_timeout_ticks, std::move(done)});
  after_input(self);
}

std::string leader_node(const shell_state& st) {
  auto leader = st.core->leader();
  if (leader == no_node)
    return {};
  if (leader == st.core->id())
    return st.cfg.node_name;
  auto i = st.node_names.find(leader);
  return i == st.node_names.end() ? std::string{} : i->second;
}

std::string name_for(const std::string& node_id) {
  return "raft/" + node_id;
}

node_id member_id_for(const std::string& node_id) {
  std::uint64_t h = 14695981039346656037ull; // FNV-1a 64, offset basis
  for (unsigned char c : node_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == no_node ? 1 : h;
}

transport named_transport(node_context_ptr ctx) {
  return [ctx = std::move(ctx)](caf::event_based_actor* self, node_id, const std::string& to_node,
                                envelope msg) {
    if (!to_node.empty())
      send_by_name(self, ctx, name_for(to_node), std::move(msg));
  };
}

} // namespace troupe::raft
