#include "cli/kv_requests.hpp"

namespace troupe::cli {

namespace {

// The server refuses an empty key, so "every key" (an empty prefix or START)
// is spelled as etcd does: from "\0", the smallest non-empty key.
std::string first_key_or(const std::string& key) {
  return key.empty() ? to_end_marker() : key;
}

std::optional<failure> check_key(const std::string& key, bool prefix) {
  if (key.empty() && !prefix)
    return usage(
        "KEY must not be empty (with --prefix, \"\" selects every key)");
  return std::nullopt;
}

std::optional<failure> check_not_negative(int64_t value, const char* flag) {
  if (value < 0)
    return usage(std::string{flag} + " must be >= 0");
  return std::nullopt;
}

// Fills key and range_end for KEY or, with `prefix`, every key under KEY.
template <class Request>
void select_keys(Request& req, const std::string& key, bool prefix) {
  req.set_key(prefix ? first_key_or(key) : key);
  if (prefix)
    req.set_range_end(prefix_end(key));
}

} // namespace

std::string prefix_end(std::string_view prefix) {
  std::string end{prefix};
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff)
    end.pop_back();
  if (end.empty())
    return to_end_marker();
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

outcome<v1::KvRequest> build_put(const put_args& args) {
  if (auto err = check_key(args.key, false))
    return *err;
  if (auto err = check_not_negative(args.lease, "--lease"))
    return *err;
  v1::KvRequest req;
  auto* put = req.mutable_put();
  put->set_key(args.key);
  put->set_value(args.value);
  put->set_lease(args.lease);
  put->set_prev_kv(args.prev_kv);
  return req;
}

outcome<v1::KvRequest> build_get(const get_args& args) {
  if (auto err = check_key(args.key, args.prefix))
    return *err;
  if (auto err = check_not_negative(args.revision, "--rev"))
    return *err;
  if (auto err = check_not_negative(args.limit, "--limit"))
    return *err;
  if (args.keys_only && args.count_only)
    return usage("--keys-only and --count-only exclude each other");
  v1::KvRequest req;
  auto* range = req.mutable_range();
  select_keys(*range, args.key, args.prefix);
  range->set_revision(args.revision);
  range->set_limit(args.limit);
  range->set_serializable(args.serializable);
  range->set_count_only(args.count_only);
  return req;
}

outcome<v1::KvRequest> build_delete(const del_args& args) {
  if (auto err = check_key(args.key, args.prefix))
    return *err;
  // etcdctl deletes everything for `del "" --prefix`; one typo away from an
  // empty cluster is too close, so troupectl asks for a real prefix.
  if (args.key.empty())
    return usage("refusing to delete every key: give a non-empty KEY with "
                 "--prefix (or delete by range: kv range shows what is there)");
  v1::KvRequest req;
  auto* del = req.mutable_delete_range();
  select_keys(*del, args.key, args.prefix);
  del->set_prev_kv(args.prev_kv);
  return req;
}

outcome<v1::KvRequest> build_range(const range_args& args) {
  if (args.end.empty() && !args.to_end)
    return usage("give END, or --to-end for every key >= START");
  if (!args.end.empty() && args.to_end)
    return usage("give END or --to-end, not both");
  if (!args.to_end && args.end <= args.start)
    return usage("END must sort after START (keys compare as bytes)");
  if (auto err = check_not_negative(args.revision, "--rev"))
    return *err;
  if (auto err = check_not_negative(args.limit, "--limit"))
    return *err;
  v1::KvRequest req;
  auto* range = req.mutable_range();
  range->set_key(first_key_or(args.start));
  range->set_range_end(args.to_end ? to_end_marker() : args.end);
  range->set_limit(args.limit);
  range->set_revision(args.revision);
  return req;
}

outcome<v1::KvRequest> build_cas(const cas_args& args) {
  if (auto err = check_key(args.key, false))
    return *err;
  if (args.create && args.values.size() != 1)
    return usage("kv cas --create takes KEY NEW (the key must be absent)");
  if (!args.create && args.values.size() != 2)
    return usage("kv cas takes KEY EXPECTED NEW (or KEY NEW with --create)");
  v1::KvRequest req;
  auto* txn = req.mutable_txn();
  auto* cmp = txn->add_compare();
  cmp->set_key(args.key);
  cmp->set_result(v1::Compare::EQUAL);
  if (args.create) {
    cmp->set_target(v1::Compare::VERSION);
    cmp->set_version(0);
  } else {
    cmp->set_target(v1::Compare::VALUE);
    cmp->set_value(args.values.front());
  }
  auto* put = txn->add_success()->mutable_request_put();
  put->set_key(args.key);
  put->set_value(args.values.back());
  txn->add_failure()->mutable_request_range()->set_key(args.key);
  return req;
}

outcome<v1::WatchRequest> build_watch(const watch_args& args) {
  if (auto err = check_key(args.key, args.prefix))
    return *err;
  if (auto err = check_not_negative(args.revision, "--rev"))
    return *err;
  if (!args.follow && args.revision == 0)
    return usage("kv watch without --follow prints the events since --rev N: "
                 "give --rev, or --follow to wait for new events");
  v1::WatchRequest req;
  select_keys(req, args.key, args.prefix);
  req.set_start_revision(args.revision);
  return req;
}

outcome<v1::KvRequest> build_lease_grant(int64_t ttl_seconds, int64_t id) {
  if (ttl_seconds <= 0)
    return usage("TTL must be > 0 seconds");
  if (auto err = check_not_negative(id, "--id"))
    return *err;
  v1::KvRequest req;
  req.mutable_lease_grant()->set_ttl_seconds(ttl_seconds);
  req.mutable_lease_grant()->set_id(id);
  return req;
}

outcome<v1::KvRequest> build_lease_revoke(int64_t id) {
  if (id <= 0)
    return usage("lease ID must be > 0 (kv lease grant prints it)");
  v1::KvRequest req;
  req.mutable_lease_revoke()->set_id(id);
  return req;
}

outcome<v1::KvRequest> build_lease_keep_alive(int64_t id) {
  if (id <= 0)
    return usage("lease ID must be > 0 (kv lease grant prints it)");
  v1::KvRequest req;
  req.mutable_lease_keep_alive()->set_id(id);
  return req;
}

outcome<v1::KvRequest> build_compaction(int64_t revision) {
  if (revision <= 0)
    return usage("REV must be > 0 (kv put prints revisions)");
  v1::KvRequest req;
  req.mutable_compaction()->set_revision(revision);
  return req;
}

outcome<cas_result> read_cas_reply(const v1::KvReply& reply) {
  if (!reply.has_txn())
    return failure{exit_failed, "kv cas: the reply carries no txn result"};
  cas_result result;
  result.succeeded = reply.txn().succeeded();
  result.revision = reply.header().revision();
  if (result.succeeded)
    return result;
  auto& ops = reply.txn().responses();
  if (ops.empty() || !ops[0].has_response_range())
    return failure{exit_failed,
                   "kv cas: the failed txn carries no read of the key"};
  auto& kvs = ops[0].response_range().kvs();
  result.current_exists = !kvs.empty();
  if (result.current_exists)
    result.current_value = kvs[0].value();
  return result;
}

} // namespace troupe::cli
