#include "actors/consensus/kv_service.hpp"

#include "net/errors.hpp"

#include <chrono>

namespace troupe::kv {

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

v1::KvReply status_reply(v1::KvStatus status, std::string message) {
  v1::KvReply reply;
  reply.set_status(status);
  reply.set_error_message(std::move(message));
  return reply;
}

void stamp(const raft::shell_state& st, v1::KvReply& reply) {
  reply.mutable_header()->set_raft_term(st.core->term());
  reply.mutable_header()->set_member_id(st.core->id());
}

// Writes a KvRequest turns into a KvCommand for the log. Reads stay out of
// the log (ReadIndex); watches are not KvRequests.
bool fill_command(const v1::KvRequest& req, v1::KvCommand& cmd) {
  cmd.set_client_id(req.client_id());
  cmd.set_request_id(req.request_id());
  switch (req.request_case()) {
    case v1::KvRequest::kPut: *cmd.mutable_put() = req.put(); return true;
    case v1::KvRequest::kDeleteRange: *cmd.mutable_delete_range() = req.delete_range(); return true;
    case v1::KvRequest::kTxn: *cmd.mutable_txn() = req.txn(); return true;
    case v1::KvRequest::kLeaseGrant: *cmd.mutable_lease_grant() = req.lease_grant(); return true;
    case v1::KvRequest::kLeaseRevoke: *cmd.mutable_lease_revoke() = req.lease_revoke(); return true;
    case v1::KvRequest::kLeaseKeepAlive:
      *cmd.mutable_lease_keep_alive() = req.lease_keep_alive();
      return true;
    case v1::KvRequest::kCompaction: *cmd.mutable_compaction() = req.compaction(); return true;
    default: return false;
  }
}

} // namespace

v1::KvReply reply_for_failure(const raft::shell_state& st, const v1::ProposeReply& outcome) {
  v1::KvReply reply;
  switch (outcome.status()) {
    case v1::PROPOSE_STATUS_NOT_LEADER: {
      auto leader = raft::leader_node(st);
      reply = status_reply(v1::KV_STATUS_NOT_LEADER,
                           leader.empty() ? "not the leader, and no leader is known yet: retry shortly"
                                          : "not the leader: send to " + raft::name_for(leader));
      reply.set_leader_node(leader);
      break;
    }
    case v1::PROPOSE_STATUS_OVERLOADED:
      reply = status_reply(v1::KV_STATUS_OVERLOADED, outcome.error_message());
      break;
    case v1::PROPOSE_STATUS_OUTCOME_UNKNOWN:
      reply = status_reply(v1::KV_STATUS_OUTCOME_UNKNOWN, outcome.error_message());
      break;
    default:
      reply = status_reply(v1::KV_STATUS_UNAVAILABLE, outcome.error_message());
      break;
  }
  stamp(st, reply);
  return reply;
}

kv_service::kv_service(service_limits limits, clock_fn clock)
  : limits_(limits), clock_(clock ? std::move(clock) : clock_fn{wall_ms}), kv_(limits.store) {
}

std::string kv_service::apply(const raft::entry& e) {
  return kv_.apply(e.index, e.command);
}

std::string kv_service::snapshot() {
  return kv_.serialize();
}

bool kv_service::restore(const std::string& data) {
  return kv_.restore(data);
}

std::optional<caf::result<envelope>> kv_service::on_request(raft::shell_actor* self,
                                                            const envelope& env) {
  if (holds<v1::KvRequest>(env)) {
    auto req = unpack<v1::KvRequest>(env);
    if (!req)
      return caf::result<envelope>{std::move(req.error())};
    return on_kv_request(self, *req, false);
  }
  if (holds<v1::SystemKvRequest>(env)) {
    auto req = unpack<v1::SystemKvRequest>(env);
    if (!req)
      return caf::result<envelope>{std::move(req.error())};
    return on_kv_request(self, req->request(), true);
  }
  if (holds<v1::WatchRequest>(env)) {
    auto req = unpack<v1::WatchRequest>(env);
    if (!req)
      return caf::result<envelope>{std::move(req.error())};
    return on_watch(self, *req);
  }
  return std::nullopt;
}

caf::result<envelope> kv_service::on_kv_request(raft::shell_actor* self,
                                                const v1::KvRequest& req, bool system) {
  auto& st = self->state;
  if (req.request_case() == v1::KvRequest::kRange && req.range().serializable()) {
    auto reply = kv_.range(req.range());
    stamp(st, reply);
    return pack(reply);
  }
  auto promise = self->make_response_promise<envelope>();
  if (req.request_case() == v1::KvRequest::kRange) {
    read(self, req.range(), promise);
    return promise;
  }
  v1::KvCommand cmd;
  if (!fill_command(req, cmd)) {
    auto reply = status_reply(v1::KV_STATUS_INVALID_ARGUMENT, "KvRequest without a request");
    stamp(st, reply);
    return pack(reply);
  }
  cmd.set_system(system);
  write(self, std::move(cmd), promise);
  return promise;
}

void kv_service::read(raft::shell_actor* self, const v1::RangeRequest& range,
                      caf::typed_response_promise<envelope> promise) {
  raft::linearizable_read(self, [this, self, range, promise](const v1::ProposeReply& outcome) mutable {
    auto& st = self->state;
    if (outcome.status() != v1::PROPOSE_STATUS_OK) {
      promise.deliver(pack(reply_for_failure(st, outcome)));
      return;
    }
    auto reply = kv_.range(range);
    stamp(st, reply);
    promise.deliver(pack(reply));
  });
}

void kv_service::write(raft::shell_actor* self, v1::KvCommand command,
                       caf::typed_response_promise<envelope> promise) {
  auto& st = self->state;
  if (command.has_put() && command.put().value().size() > limits_.store.max_value_bytes) {
    auto reply = status_reply(v1::KV_STATUS_LIMIT_EXCEEDED,
                              "value of " + std::to_string(command.put().value().size())
                                + " bytes exceeds limit max_value_bytes="
                                + std::to_string(limits_.store.max_value_bytes));
    stamp(st, reply);
    promise.deliver(pack(reply));
    return;
  }
  command.set_leader_time_ms(clock_());
  auto bytes = command.SerializeAsString();
  if (bytes.size() > limits_.store.max_command_bytes) {
    auto reply = status_reply(v1::KV_STATUS_LIMIT_EXCEEDED,
                              "request of " + std::to_string(bytes.size())
                                + " bytes exceeds limit max_command_bytes="
                                + std::to_string(limits_.store.max_command_bytes));
    stamp(st, reply);
    promise.deliver(pack(reply));
    return;
  }
  raft::propose_command(self, std::move(bytes), [self, promise](const v1::ProposeReply& outcome) mutable {
    auto& st = self->state;
    if (outcome.status() != v1::PROPOSE_STATUS_OK) {
      promise.deliver(pack(reply_for_failure(st, outcome)));
      return;
    }
    v1::KvReply reply;
    if (!reply.ParseFromString(outcome.result()))
      reply = status_reply(v1::KV_STATUS_MALFORMED_COMMAND, "state machine reply does not parse");
    stamp(st, reply);
    promise.deliver(pack(reply));
  });
}

caf::result<envelope> kv_service::on_watch(raft::shell_actor* self, const v1::WatchRequest& req) {
  auto& st = self->state;
  auto out = kv_.events_since(req.key(), req.range_end(), req.start_revision());
  out.mutable_header()->set_raft_term(st.core->term());
  out.mutable_header()->set_member_id(st.core->id());
  if (out.status() != v1::KV_STATUS_OK || out.events_size() > 0 || req.wait_ms() <= 0
      || watches_.size() >= limits_.max_parked_watches)
    return pack(out);
  auto parked = req;
  parked.set_start_revision(out.next_revision());
  auto wait = std::min(req.wait_ms(), limits_.max_watch_wait_ms);
  auto promise = self->make_response_promise<envelope>();
  watches_.push_back({std::move(parked), clock_() + wait, promise});
  return promise;
}

void kv_service::answer_watches(bool expire_only) {
  auto now = clock_();
  for (auto i = watches_.begin(); i != watches_.end();) {
    auto& w = *i;
    bool due = w.deadline_ms <= now;
    bool maybe = !expire_only && kv_.revision() >= w.request.start_revision();
    if (!due && !maybe) {
      ++i;
      continue;
    }
    auto out = kv_.events_since(w.request.key(), w.request.range_end(), w.request.start_revision());
    if (out.events_size() == 0 && out.status() == v1::KV_STATUS_OK && !due) {
      ++i;
      continue;
    }
    w.promise.deliver(pack(out));
    i = watches_.erase(i);
  }
}

void kv_service::after_apply(raft::shell_actor*) {
  lease_expiry_pending_ = false;
  if (!watches_.empty())
    answer_watches(false);
}

void kv_service::on_tick(raft::shell_actor* self) {
  if (!watches_.empty())
    answer_watches(true);
  expire_leases(self);
}

// Lease expiry is decided by the leader's clock and goes through the log, so
// that every replica revokes the same leases at the same log position
// (docs/kv.md, "Lease expiry"). A new leader first gives every lease one full
// TTL from the moment it took over, as etcd's lessor does on promotion:
// keepalives sent to the old leader in its last moments, or lost during the
// election, must not make a lease expire early.
void kv_service::expire_leases(raft::shell_actor* self) {
  auto& st = self->state;
  if (st.core->current_role() != raft::role::leader) {
    leader_term_ = 0;
    return;
  }
  auto now = clock_();
  if (leader_term_ != st.core->term()) {
    leader_term_ = st.core->term();
    leader_since_ms_ = now;
  }
  if (lease_expiry_pending_ || kv_.lease_count() == 0)
    return;
  if (now - last_lease_check_ms_ < limits_.lease_check_interval_ms)
    return;
  last_lease_check_ms_ = now;
  auto ids = kv_.expired_leases(now, 1000);
  std::erase_if(ids, [&](std::int64_t id) {
    return now < leader_since_ms_ + 1000 * kv_.lease_ttl_seconds(id);
  });
  if (ids.empty())
    return;
  v1::KvCommand cmd;
  cmd.set_leader_time_ms(now);
  cmd.set_system(true);
  for (auto id : ids)
    cmd.mutable_lease_expire()->add_ids(id);
  lease_expiry_pending_ = true;
  raft::propose_command(self, cmd.SerializeAsString(), [this](const v1::ProposeReply&) {
    lease_expiry_pending_ = false;
  });
}

} // namespace troupe::kv
