#include "actors/consensus/kv_state.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <tuple>

namespace troupe::kv {

using v1::KvReply;
using v1::KvStatus;

/// One command being applied. All of its writes share `write_revision`
/// (revision() + 1); the store's revision moves there only if something was
/// written, so reads, failed compares and lease bookkeeping do not bump it.
struct kv_state::context {
  std::int64_t now_ms = 0;
  bool system = false;
  std::int64_t write_revision = 0;
  bool wrote = false;
  std::int64_t read_revision() const {
    return wrote ? write_revision : write_revision - 1;
  }
};

namespace {

KvReply error(KvStatus status, std::string message) {
  KvReply reply;
  reply.set_status(status);
  reply.set_error_message(std::move(message));
  return reply;
}

KvReply limit_error(std::string_view name, std::size_t limit) {
  return error(v1::KV_STATUS_LIMIT_EXCEEDED, "exceeds limit "
                                                 + std::string{name} + "="
                                                 + std::to_string(limit));
}

bool is_system(std::string_view key) {
  return key.substr(0, system_prefix.size()) == system_prefix;
}

/// True if `key` lies in the RangeRequest-style range [start, range_end).
bool in_range(std::string_view key, std::string_view start,
              std::string_view range_end) {
  if (range_end.empty())
    return key == start;
  if (range_end == std::string_view{"\0", 1})
    return key >= start;
  return key >= start && key < range_end;
}

/// True if [start, range_end) may contain a system key.
bool touches_system(std::string_view start, std::string_view range_end) {
  if (range_end.empty())
    return is_system(start);
  static const std::string system_end = prefix_end(system_prefix);
  bool to_infinity = range_end == std::string_view{"\0", 1};
  return start < std::string_view{system_end}
         && (to_infinity || system_prefix < range_end);
}

v1::KeyValue to_key_value(const std::string& key, const kv_state::record& rec) {
  v1::KeyValue kv;
  kv.set_key(key);
  kv.set_value(rec.value);
  kv.set_create_revision(rec.create_revision);
  kv.set_mod_revision(rec.mod_revision);
  kv.set_version(rec.version);
  kv.set_lease(rec.lease);
  return kv;
}

template <class T>
bool compare_values(v1::Compare::CompareResult result, const T& lhs,
                    const T& rhs) {
  switch (result) {
  case v1::Compare::EQUAL:
    return lhs == rhs;
  case v1::Compare::GREATER:
    return lhs > rhs;
  case v1::Compare::LESS:
    return lhs < rhs;
  case v1::Compare::NOT_EQUAL:
    return lhs != rhs;
  default:
    return false;
  }
}

/// The oneof case a compare target must carry.
v1::Compare::TargetUnionCase expected_case(v1::Compare::CompareTarget target) {
  switch (target) {
  case v1::Compare::VERSION:
    return v1::Compare::kVersion;
  case v1::Compare::CREATE:
    return v1::Compare::kCreateRevision;
  case v1::Compare::MOD:
    return v1::Compare::kModRevision;
  case v1::Compare::VALUE:
    return v1::Compare::kValue;
  case v1::Compare::LEASE:
    return v1::Compare::kLease;
  default:
    return v1::Compare::TARGET_UNION_NOT_SET;
  }
}

const google::protobuf::RepeatedPtrField<v1::RequestOp>&
branch(const v1::TxnRequest& request, bool succeeded) {
  return succeeded ? request.success() : request.failure();
}

} // namespace

std::string prefix_end(std::string_view prefix) {
  std::string end{prefix};
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string{"\0", 1};
}

kv_state::kv_state(limits lim) : limits_(lim) {}

// ---- apply ----

std::string kv_state::apply(std::uint64_t index, std::string_view command) {
  if (index <= applied_index_)
    throw std::logic_error("kv_state::apply: index " + std::to_string(index)
                           + " <= applied index "
                           + std::to_string(applied_index_));
  applied_index_ = index;
  if (command.size() > limits_.max_command_bytes) {
    auto reply = limit_error("max_command_bytes", limits_.max_command_bytes);
    reply.mutable_header()->set_revision(revision_);
    return reply.SerializeAsString();
  }
  v1::KvCommand parsed;
  if (!parsed.ParseFromArray(command.data(),
                             static_cast<int>(command.size()))) {
    auto reply
        = error(v1::KV_STATUS_MALFORMED_COMMAND, "the command does not parse");
    reply.mutable_header()->set_revision(revision_);
    return reply.SerializeAsString();
  }
  if (auto i = clients_.find(parsed.client_id());
      parsed.client_id() != 0 && i != clients_.end()) {
    if (parsed.request_id() == i->second.request_id)
      return i->second.reply; // a retry: answered before, apply nothing
    if (parsed.request_id() < i->second.request_id) {
      auto reply = error(v1::KV_STATUS_STALE_REQUEST,
                         "request_id " + std::to_string(parsed.request_id())
                             + " is older than the last answered "
                             + std::to_string(i->second.request_id));
      reply.mutable_header()->set_revision(revision_);
      return reply.SerializeAsString();
    }
  }
  context ctx{parsed.leader_time_ms(), parsed.system(), revision_ + 1, false};
  auto reply = execute(parsed, ctx);
  if (ctx.wrote)
    revision_ = ctx.write_revision;
  reply.mutable_header()->set_revision(revision_);
  return remember(index, parsed, reply.SerializeAsString());
}

std::string kv_state::remember(std::uint64_t index,
                               const v1::KvCommand& command,
                               std::string reply) {
  if (command.client_id() == 0)
    return reply;
  auto& session = clients_[command.client_id()];
  clients_by_index_.erase(session.last_index);
  session = client_session{command.request_id(), reply, index};
  clients_by_index_[index] = command.client_id();
  // Evict the client whose last command is oldest in the log: LRU by log
  // index, so every replica evicts the same one.
  if (clients_.size() > limits_.max_clients) {
    auto oldest = clients_by_index_.begin();
    clients_.erase(oldest->second);
    clients_by_index_.erase(oldest);
  }
  return reply;
}

KvReply kv_state::execute(const v1::KvCommand& command, context& ctx) {
  using v1::KvCommand;
  switch (command.request_case()) {
  case KvCommand::kPut:
    return put(command.put(), ctx);
  case KvCommand::kRange:
    return range_at(command.range(), ctx.read_revision(), 0, 0);
  case KvCommand::kDeleteRange:
    return delete_range(command.delete_range(), ctx);
  case KvCommand::kTxn:
    return txn(command.txn(), ctx);
  case KvCommand::kLeaseGrant:
    return lease_grant(command.lease_grant(), ctx);
  case KvCommand::kLeaseRevoke:
    return lease_revoke(command.lease_revoke(), ctx);
  case KvCommand::kLeaseKeepAlive:
    return lease_keep_alive(command.lease_keep_alive(), ctx);
  case KvCommand::kLeaseExpire:
    return lease_expire(command.lease_expire(), ctx);
  case KvCommand::kCompaction: {
    KvReply reply;
    std::string message;
    reply.set_status(compact(command.compaction().revision(), &message));
    reply.set_error_message(message);
    reply.mutable_compaction();
    return reply;
  }
  default:
    return error(v1::KV_STATUS_MALFORMED_COMMAND,
                 "the command carries no request");
  }
}

// ---- writes ----

bool kv_state::check_put(const v1::PutRequest& request, const context& ctx,
                         KvReply& failure) const {
  if (request.key().empty())
    failure = error(v1::KV_STATUS_INVALID_ARGUMENT, "empty key");
  else if (request.key().size() > limits_.max_key_bytes)
    failure = limit_error("max_key_bytes", limits_.max_key_bytes);
  else if (request.value().size() > limits_.max_value_bytes)
    failure = limit_error("max_value_bytes", limits_.max_value_bytes);
  else if (is_system(request.key()) && !ctx.system)
    failure
        = error(v1::KV_STATUS_PERMISSION_DENIED,
                "key is in the system keyspace " + std::string{system_prefix});
  else if (request.lease() != 0 && !leases_.contains(request.lease()))
    failure = error(v1::KV_STATUS_LEASE_NOT_FOUND,
                    "lease " + std::to_string(request.lease()) + " not found");
  else
    return true;
  return false;
}

bool kv_state::check_delete(const v1::DeleteRangeRequest& request,
                            const context& ctx, KvReply& failure) const {
  if (request.key().empty())
    failure = error(v1::KV_STATUS_INVALID_ARGUMENT, "empty key");
  else if (touches_system(request.key(), request.range_end()) && !ctx.system)
    failure = error(v1::KV_STATUS_PERMISSION_DENIED,
                    "range touches the system keyspace "
                        + std::string{system_prefix});
  else
    return true;
  return false;
}

KvReply kv_state::put(const v1::PutRequest& request, context& ctx) {
  KvReply reply;
  if (!check_put(request, ctx, reply))
    return reply;
  const record* previous = latest(request.key());
  if (!previous && live_keys_ >= limits_.max_keys)
    return limit_error("max_keys", limits_.max_keys);
  auto* response = reply.mutable_put();
  if (previous && request.prev_kv())
    *response->mutable_prev_kv() = to_key_value(request.key(), *previous);
  record rec;
  rec.value = request.value();
  rec.lease = request.lease();
  write(request.key(), std::move(rec), ctx);
  return reply;
}

KvReply kv_state::delete_range(const v1::DeleteRangeRequest& request,
                               context& ctx) {
  KvReply reply;
  if (!check_delete(request, ctx, reply))
    return reply;
  auto* response = reply.mutable_delete_range();
  auto keys = live_keys_in(request.key(), request.range_end());
  for (const auto& key : keys) {
    if (request.prev_kv())
      *response->add_prev_kvs() = to_key_value(key, *latest(key));
    delete_key(key, ctx);
  }
  response->set_deleted(static_cast<std::int64_t>(keys.size()));
  return reply;
}

// ---- txn ----

bool kv_state::compare_holds(const v1::Compare& compare) const {
  const record* rec = latest(compare.key());
  // As etcd: a missing key compares as all zeroes, except that no value
  // compare holds on it.
  record missing;
  const record& r = rec ? *rec : missing;
  switch (compare.target()) {
  case v1::Compare::VERSION:
    return compare_values(compare.result(), r.version, compare.version());
  case v1::Compare::CREATE:
    return compare_values(compare.result(), r.create_revision,
                          compare.create_revision());
  case v1::Compare::MOD:
    return compare_values(compare.result(), r.mod_revision,
                          compare.mod_revision());
  case v1::Compare::VALUE:
    return rec && compare_values(compare.result(), r.value, compare.value());
  case v1::Compare::LEASE:
    return compare_values(compare.result(), r.lease, compare.lease());
  default:
    return false;
  }
}

/// Validates the whole chosen branch before any of it runs, so a txn either
/// applies completely or not at all.
bool kv_state::check_txn(const v1::TxnRequest& request, bool succeeded,
                         const context& ctx, KvReply& failure) const {
  std::set<std::string> new_keys;
  std::size_t added_bytes = 0;
  for (const auto& op : branch(request, succeeded)) {
    if (op.has_request_put()) {
      if (!check_put(op.request_put(), ctx, failure))
        return false;
      if (!latest(op.request_put().key()))
        new_keys.insert(op.request_put().key());
      added_bytes
          += op.request_put().key().size() + op.request_put().value().size();
    } else if (op.has_request_delete_range()
               && !check_delete(op.request_delete_range(), ctx, failure)) {
      return false;
    }
  }
  if (live_keys_ + new_keys.size() > limits_.max_keys) {
    failure = limit_error("max_keys", limits_.max_keys);
    return false;
  }
  // A range inside the txn may see the branch's puts: check it against the
  // limits with every put counted, so it cannot fail half-way.
  for (const auto& op : branch(request, succeeded)) {
    if (!op.has_request_range())
      continue;
    failure
        = range_at(op.request_range(), revision_, new_keys.size(), added_bytes);
    if (failure.status() != v1::KV_STATUS_OK)
      return false;
  }
  return true;
}

KvReply kv_state::txn(const v1::TxnRequest& request, context& ctx) {
  auto ops = std::max(
      {request.compare_size(), request.success_size(), request.failure_size()});
  if (static_cast<std::size_t>(ops) > limits_.max_txn_ops)
    return limit_error("max_txn_ops", limits_.max_txn_ops);
  for (const auto& compare : request.compare())
    if (compare.target_union_case() != expected_case(compare.target()))
      return error(v1::KV_STATUS_INVALID_ARGUMENT,
                   "compare value does not match its target");
  bool succeeded
      = std::all_of(request.compare().begin(), request.compare().end(),
                    [this](const auto& c) { return compare_holds(c); });
  KvReply reply;
  if (!check_txn(request, succeeded, ctx, reply))
    return reply;
  reply.Clear();
  auto* response = reply.mutable_txn();
  response->set_succeeded(succeeded);
  for (const auto& op : branch(request, succeeded)) {
    KvReply part;
    if (op.has_request_put())
      part = put(op.request_put(), ctx);
    else if (op.has_request_delete_range())
      part = delete_range(op.request_delete_range(), ctx);
    else if (op.has_request_range())
      part = range_at(op.request_range(), ctx.read_revision(), 0, 0);
    if (part.status() != v1::KV_STATUS_OK) // check_txn must have caught it
      throw std::logic_error("kv_state::txn: op failed after validation: "
                             + part.error_message());
    auto* out = response->add_responses();
    if (part.has_put())
      *out->mutable_response_put() = part.put();
    else if (part.has_delete_range())
      *out->mutable_response_delete_range() = part.delete_range();
    else if (part.has_range())
      *out->mutable_response_range() = part.range();
  }
  return reply;
}

// ---- leases ----

KvReply kv_state::lease_grant(const v1::LeaseGrantRequest& request,
                              context& ctx) {
  if (request.ttl_seconds() <= 0 || request.id() < 0)
    return error(v1::KV_STATUS_INVALID_ARGUMENT,
                 "ttl_seconds must be > 0 and id >= 0");
  if (request.ttl_seconds() > limits_.max_lease_ttl_seconds)
    return limit_error("max_lease_ttl_seconds",
                       static_cast<std::size_t>(limits_.max_lease_ttl_seconds));
  if (leases_.size() >= limits_.max_leases)
    return limit_error("max_leases", limits_.max_leases);
  std::int64_t id = request.id();
  if (id != 0 && leases_.contains(id))
    return error(v1::KV_STATUS_LEASE_EXISTS,
                 "lease " + std::to_string(id) + " exists");
  if (id == 0) {
    while (leases_.contains(next_lease_id_))
      ++next_lease_id_;
    id = next_lease_id_++;
  }
  auto& granted = leases_[id];
  granted.ttl_seconds = request.ttl_seconds();
  granted.deadline_ms = ctx.now_ms + request.ttl_seconds() * 1000;
  KvReply reply;
  reply.mutable_lease_grant()->set_id(id);
  reply.mutable_lease_grant()->set_ttl_seconds(request.ttl_seconds());
  return reply;
}

KvReply kv_state::lease_revoke(const v1::LeaseRevokeRequest& request,
                               context& ctx) {
  auto i = leases_.find(request.id());
  if (i == leases_.end())
    return error(v1::KV_STATUS_LEASE_NOT_FOUND,
                 "lease " + std::to_string(request.id()) + " not found");
  bool holds_system
      = std::any_of(i->second.keys.begin(), i->second.keys.end(),
                    [](const std::string& key) { return is_system(key); });
  if (holds_system && !ctx.system)
    return error(v1::KV_STATUS_PERMISSION_DENIED,
                 "lease holds keys of the system keyspace "
                     + std::string{system_prefix});
  revoke(request.id(), ctx);
  KvReply reply;
  reply.mutable_lease_revoke();
  return reply;
}

KvReply kv_state::lease_keep_alive(const v1::LeaseKeepAliveRequest& request,
                                   context& ctx) {
  auto i = leases_.find(request.id());
  if (i == leases_.end())
    return error(v1::KV_STATUS_LEASE_NOT_FOUND,
                 "lease " + std::to_string(request.id()) + " not found");
  i->second.deadline_ms = ctx.now_ms + i->second.ttl_seconds * 1000;
  KvReply reply;
  reply.mutable_lease_keep_alive()->set_id(request.id());
  reply.mutable_lease_keep_alive()->set_ttl_seconds(i->second.ttl_seconds);
  return reply;
}

KvReply kv_state::lease_expire(const v1::LeaseExpireRequest& request,
                               context& ctx) {
  KvReply reply;
  auto* response = reply.mutable_lease_expire();
  for (auto id : request.ids()) {
    auto i = leases_.find(id);
    // Re-checked against the command's time: a keepalive committed after the
    // leader asked expired_leases() but before this command keeps the lease.
    if (i == leases_.end() || i->second.deadline_ms > ctx.now_ms)
      continue;
    revoke(id, ctx);
    response->add_revoked(id);
  }
  return reply;
}

void kv_state::revoke(std::int64_t id, context& ctx) {
  auto keys = leases_.at(id).keys; // a copy: delete_key edits the set
  for (const auto& key : keys)
    delete_key(key, ctx);
  leases_.erase(id);
}

std::vector<std::int64_t> kv_state::expired_leases(std::int64_t now_ms,
                                                   std::size_t max_ids) const {
  std::vector<std::int64_t> ids;
  for (const auto& [id, held] : leases_) {
    if (ids.size() >= max_ids)
      break;
    if (held.deadline_ms <= now_ms)
      ids.push_back(id);
  }
  return ids;
}

// ---- MVCC history ----

const kv_state::record* kv_state::latest(const std::string& key) const {
  auto i = history_.find(key);
  if (i == history_.end() || i->second.empty() || i->second.back().tombstone)
    return nullptr;
  return &i->second.back();
}

const kv_state::record* kv_state::at_revision(const std::string& key,
                                              std::int64_t revision) const {
  auto i = history_.find(key);
  if (i == history_.end())
    return nullptr;
  const auto& records = i->second;
  auto after = std::upper_bound(
      records.begin(), records.end(), revision,
      [](std::int64_t rev, const record& r) { return rev < r.mod_revision; });
  if (after == records.begin() || std::prev(after)->tombstone)
    return nullptr;
  return &*std::prev(after);
}

/// Appends `rec` (a put, or a tombstone) at the command's revision. A second
/// write to one key in the same txn replaces the first, so each key has at
/// most one record per revision and watchers see the txn's final effect.
void kv_state::write(const std::string& key, record rec, context& ctx) {
  auto& records = history_[key];
  auto live_back = [&records]() -> record* {
    return records.empty() || records.back().tombstone ? nullptr
                                                       : &records.back();
  };
  if (record* current = live_back()) {
    if (current->lease != 0)
      leases_.at(current->lease).keys.erase(key);
    --live_keys_;
  }
  if (!records.empty() && records.back().mod_revision == ctx.write_revision)
    records.pop_back();
  const record* before = live_back(); // the key as of the previous revision
  rec.mod_revision = ctx.write_revision;
  ctx.wrote = true;
  if (rec.tombstone) {
    if (before)
      records.push_back(std::move(rec));
    else if (records.empty())
      history_.erase(key); // created and deleted within one txn: no trace
    return;
  }
  rec.create_revision = before ? before->create_revision : ctx.write_revision;
  rec.version = before ? before->version + 1 : 1;
  if (rec.lease != 0)
    leases_.at(rec.lease).keys.insert(key);
  ++live_keys_;
  records.push_back(std::move(rec));
}

void kv_state::delete_key(const std::string& key, context& ctx) {
  record tombstone;
  tombstone.tombstone = true;
  write(key, std::move(tombstone), ctx);
}

std::vector<std::string>
kv_state::live_keys_in(std::string_view key, std::string_view range_end) const {
  std::vector<std::string> keys;
  for (auto i = history_.lower_bound(std::string{key});
       i != history_.end() && in_range(i->first, key, range_end); ++i)
    if (latest(i->first))
      keys.push_back(i->first);
  return keys;
}

// ---- reads ----

KvReply kv_state::range(const v1::RangeRequest& request) const {
  auto reply = range_at(request, revision_, 0, 0);
  reply.mutable_header()->set_revision(revision_);
  return reply;
}

KvReply kv_state::range_at(const v1::RangeRequest& request,
                           std::int64_t latest_revision, std::size_t extra_keys,
                           std::size_t extra_bytes) const {
  if (request.key().empty() || request.limit() < 0 || request.revision() < 0)
    return error(v1::KV_STATUS_INVALID_ARGUMENT,
                 "empty key, or negative limit or revision");
  std::int64_t at
      = request.revision() == 0 ? latest_revision : request.revision();
  if (at > latest_revision)
    return error(v1::KV_STATUS_FUTURE_REVISION,
                 "revision " + std::to_string(at) + " is after the current "
                     + std::to_string(latest_revision));
  if (at < compact_revision_)
    return error(v1::KV_STATUS_COMPACTED,
                 "revision " + std::to_string(at)
                     + " is compacted (compact revision "
                     + std::to_string(compact_revision_) + ")");
  auto cap = request.limit() == 0 ? SIZE_MAX
                                  : static_cast<std::size_t>(request.limit());
  KvReply reply;
  auto* response = reply.mutable_range();
  std::size_t count = 0;
  std::size_t bytes = extra_bytes;
  for (auto i = history_.lower_bound(request.key());
       i != history_.end()
       && in_range(i->first, request.key(), request.range_end());
       ++i) {
    const record* rec = at_revision(i->first, at);
    if (!rec)
      continue;
    if (++count > cap || request.count_only())
      continue;
    bytes += i->first.size() + rec->value.size();
    if (bytes > limits_.max_range_bytes)
      return limit_error("max_range_bytes", limits_.max_range_bytes);
    *response->add_kvs() = to_key_value(i->first, *rec);
  }
  auto returned = std::min(count + extra_keys, cap);
  if (!request.count_only() && returned > limits_.max_range_keys)
    return limit_error("max_range_keys", limits_.max_range_keys);
  response->set_count(static_cast<std::int64_t>(count));
  response->set_more(count > cap);
  return reply;
}

// ---- watch ----

v1::WatchResponse kv_state::events_since(std::string_view key,
                                         std::string_view range_end,
                                         std::int64_t start_revision) const {
  v1::WatchResponse out;
  out.mutable_header()->set_revision(revision_);
  out.set_next_revision(std::max(start_revision, revision_ + 1));
  if (key.empty() || start_revision < 0) {
    out.set_status(v1::KV_STATUS_INVALID_ARGUMENT);
    out.set_error_message("empty key or negative start_revision");
    return out;
  }
  if (start_revision == 0)
    return out;
  if (start_revision <= compact_revision_) {
    out.set_status(v1::KV_STATUS_COMPACTED);
    out.set_error_message("start_revision " + std::to_string(start_revision)
                          + " is compacted (compact revision "
                          + std::to_string(compact_revision_) + ")");
    out.set_compact_revision(compact_revision_);
    return out;
  }
  std::vector<std::tuple<std::int64_t, const std::string*, const record*>>
      found;
  for (auto i = history_.lower_bound(std::string{key});
       i != history_.end() && in_range(i->first, key, range_end); ++i)
    for (const auto& rec : i->second)
      if (rec.mod_revision >= start_revision)
        found.emplace_back(rec.mod_revision, &i->first, &rec);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), *std::get<1>(a))
           < std::tie(std::get<0>(b), *std::get<1>(b));
  });
  for (const auto& [rev, event_key, rec] : found) {
    // Cut only between revisions, so resuming at next_revision loses nothing.
    if (static_cast<std::size_t>(out.events_size()) >= limits_.max_watch_events
        && rev != out.events(out.events_size() - 1).kv().mod_revision()) {
      out.set_next_revision(rev);
      break;
    }
    auto* event = out.add_events();
    if (rec->tombstone) {
      event->set_type(v1::Event::DELETE);
      event->mutable_kv()->set_key(*event_key);
      event->mutable_kv()->set_mod_revision(rev);
    } else {
      event->set_type(v1::Event::PUT);
      *event->mutable_kv() = to_key_value(*event_key, *rec);
    }
  }
  return out;
}

// ---- compaction ----

KvStatus kv_state::compact(std::int64_t revision, std::string* error_message) {
  auto fail = [error_message](KvStatus status, std::string message) {
    if (error_message)
      *error_message = std::move(message);
    return status;
  };
  if (revision > revision_)
    return fail(v1::KV_STATUS_FUTURE_REVISION,
                "compact revision " + std::to_string(revision)
                    + " is after the current " + std::to_string(revision_));
  if (revision <= compact_revision_)
    return fail(v1::KV_STATUS_COMPACTED,
                "already compacted to revision "
                    + std::to_string(compact_revision_));
  for (auto i = history_.begin(); i != history_.end();) {
    auto& records = i->second;
    // Keep the newest record at or before `revision` (reads there need it)
    // and everything after; a tombstone at that point is dropped too.
    auto after = std::upper_bound(
        records.begin(), records.end(), revision,
        [](std::int64_t rev, const record& r) { return rev < r.mod_revision; });
    if (after != records.begin()) {
      auto keep = std::prev(after);
      records.erase(records.begin(), keep->tombstone ? after : keep);
    }
    i = records.empty() ? history_.erase(i) : std::next(i);
  }
  compact_revision_ = revision;
  return v1::KV_STATUS_OK;
}

// ---- snapshots ----

std::string kv_state::serialize() const {
  v1::KvSnapshot snapshot;
  snapshot.set_applied_index(applied_index_);
  snapshot.set_revision(revision_);
  snapshot.set_compact_revision(compact_revision_);
  snapshot.set_next_lease_id(next_lease_id_);
  for (const auto& [key, records] : history_) {
    auto* out = snapshot.add_keys();
    out->set_key(key);
    for (const auto& rec : records) {
      auto* r = out->add_records();
      r->set_mod_revision(rec.mod_revision);
      r->set_create_revision(rec.create_revision);
      r->set_version(rec.version);
      r->set_lease(rec.lease);
      r->set_value(rec.value);
      r->set_tombstone(rec.tombstone);
    }
  }
  for (const auto& [id, held] : leases_) {
    auto* out = snapshot.add_leases();
    out->set_id(id);
    out->set_ttl_seconds(held.ttl_seconds);
    out->set_deadline_ms(held.deadline_ms);
  }
  for (const auto& [id, session] : clients_) {
    auto* out = snapshot.add_clients();
    out->set_client_id(id);
    out->set_request_id(session.request_id);
    out->set_reply(session.reply);
    out->set_last_index(session.last_index);
  }
  return snapshot.SerializeAsString();
}

bool kv_state::restore(std::string_view bytes) {
  v1::KvSnapshot snapshot;
  if (!snapshot.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return false;
  kv_state next{limits_};
  next.applied_index_ = snapshot.applied_index();
  next.revision_ = snapshot.revision();
  next.compact_revision_ = snapshot.compact_revision();
  next.next_lease_id_ = snapshot.next_lease_id();
  for (const auto& in : snapshot.leases())
    next.leases_[in.id()] = lease{in.ttl_seconds(), in.deadline_ms(), {}};
  for (const auto& in : snapshot.keys()) {
    auto& records = next.history_[in.key()];
    for (const auto& r : in.records()) {
      bool ascending
          = records.empty() || records.back().mod_revision < r.mod_revision();
      if (!ascending || r.mod_revision() > next.revision_)
        return false;
      records.push_back(record{r.mod_revision(), r.create_revision(),
                               r.version(), r.lease(), r.value(),
                               r.tombstone()});
    }
    if (records.empty())
      return false;
    if (const record* live = next.latest(in.key())) {
      ++next.live_keys_;
      if (live->lease != 0 && !next.leases_.contains(live->lease))
        return false;
      if (live->lease != 0)
        next.leases_[live->lease].keys.insert(in.key());
    }
  }
  for (const auto& in : snapshot.clients()) {
    next.clients_[in.client_id()]
        = client_session{in.request_id(), in.reply(), in.last_index()};
    next.clients_by_index_[in.last_index()] = in.client_id();
  }
  if (next.clients_by_index_.size() != next.clients_.size())
    return false;
  *this = std::move(next);
  return true;
}

} // namespace troupe::kv
