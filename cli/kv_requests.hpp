// The requests of `troupectl kv ...`, built from the command's arguments.
// Pure functions: they validate the arguments (a failure is a usage error,
// exit 2) and build the protobuf request, before anything connects. The
// exactly-once ids (client_id, request_id) are stamped later by kv_session.
#pragma once

#include "cli/outcome.hpp"

#include "troupe/kv.pb.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::cli {

/// The range_end that selects every key starting with `prefix`: the prefix
/// with trailing 0xff bytes dropped and its last byte incremented. "\0"
/// (every key >= the start) when nothing is left, as for "" or "\xff\xff".
std::string prefix_end(std::string_view prefix);

/// The range_end value that means "every key >= key" (kv.proto).
inline const std::string& to_end_marker() {
  static const std::string marker(1, '\0');
  return marker;
}

struct put_args {
  std::string key;
  std::string value;
  int64_t lease = 0; // 0 = none
  bool prev_kv = false;
};

struct get_args {
  std::string key;
  bool prefix = false;
  int64_t revision = 0; // 0 = latest
  int64_t limit = 0;    // 0 = no limit
  bool serializable = false;
  bool keys_only = false; // client side: the reply still carries values
  bool count_only = false;
};

struct del_args {
  std::string key;
  bool prefix = false;
  bool prev_kv = false;
};

struct range_args {
  std::string start;
  std::string end;     // exclusive; empty with to_end
  bool to_end = false; // every key >= start
  int64_t limit = 0;
  int64_t revision = 0;
};

/// kv cas KEY EXPECTED NEW, or with --create KEY NEW: `values` holds the
/// positional arguments after KEY.
struct cas_args {
  std::string key;
  std::vector<std::string> values;
  bool create = false;
};

struct watch_args {
  std::string key;
  bool prefix = false;
  int64_t revision = 0; // 0 = from the next write on
  bool follow = false;
};

outcome<v1::KvRequest> build_put(const put_args& args);
outcome<v1::KvRequest> build_get(const get_args& args);
outcome<v1::KvRequest> build_delete(const del_args& args);
outcome<v1::KvRequest> build_range(const range_args& args);

/// A txn: if VALUE(key) == EXPECTED (with create: VERSION(key) == 0, the key
/// is absent) put NEW, else read the key so that the failure can show the
/// current value.
outcome<v1::KvRequest> build_cas(const cas_args& args);

/// The first WatchRequest of `kv watch`; wait_ms is set by the watch loop.
outcome<v1::WatchRequest> build_watch(const watch_args& args);

/// kv lease grant TTL [--id ID]: ttl_seconds > 0; id 0 lets the store pick.
outcome<v1::KvRequest> build_lease_grant(int64_t ttl_seconds, int64_t id);
/// kv lease revoke ID: deletes the lease and every key attached to it.
outcome<v1::KvRequest> build_lease_revoke(int64_t id);
/// kv lease keep-alive ID: one renewal.
outcome<v1::KvRequest> build_lease_keep_alive(int64_t id);
/// kv compact REV: drops history before REV.
outcome<v1::KvRequest> build_compaction(int64_t revision);

/// What a cas reply says: whether the compare held, and the key's current
/// version when it did not.
struct cas_result {
  bool succeeded = false;
  int64_t revision = 0; // of the put, when it succeeded
  bool current_exists = false;
  std::string current_value; // when it did not succeed and the key exists
};

/// Reads a KV_STATUS_OK reply to build_cas's txn. Fails if the reply does not
/// have the txn's shape.
outcome<cas_result> read_cas_reply(const v1::KvReply& reply);

} // namespace troupe::cli
