// Table output of `troupectl kv ...`, modelled on etcdctl's simple output.
// Keys and values are bytes: everything printed goes through escape_bytes,
// so a value cannot move the cursor or inject terminal escapes. -o json
// prints protobuf JSON instead (bytes as base64) and needs nothing here.
#pragma once

#include "cli/kv_requests.hpp"

#include "troupe/kv.pb.h"

#include <string>
#include <string_view>

namespace troupe::cli {

/// `bytes` with valid UTF-8 kept, and control characters, DEL, C1 controls,
/// invalid UTF-8 bytes and the backslash escaped (\n \r \t \\ \xNN).
std::string escape_bytes(std::string_view bytes);

/// "OK (revision R)", then with prev_kv the previous key and value lines.
std::string render_put(const v1::KvReply& reply, bool prev_kv);

/// Each key, then its value, one per line; only keys with keys_only; only
/// the count with count_only.
std::string render_range(const v1::KvReply& reply, bool keys_only,
                         bool count_only);

/// The number deleted, then with prev_kv each deleted key and value.
std::string render_delete(const v1::KvReply& reply, bool prev_kv);

/// One line: "PUT key value rev" or "DELETE key rev".
std::string render_event(const v1::Event& event);

/// "OK (revision R)" or "FAILED: current value is V" / "FAILED: key is absent"
/// / "FAILED: key exists, value V" (with --create).
std::string render_cas(const cas_result& result, bool create);

} // namespace troupe::cli
