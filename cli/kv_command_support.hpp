// What the kv command files share: running one KvRequest against the
// endpoint's member, and printing its reply.
#pragma once

#include "cli/command.hpp"
#include "cli/outcome.hpp"
#include "cli/usage_check.hpp"

#include "troupe/kv.pb.h"

#include <functional>
#include <string>

namespace troupe::cli {

/// Runs `req` against raft/<endpoint node> with a fresh kv_session (a new
/// random client_id, request_id 1), following NOT_LEADER and retrying within
/// --timeout-ms. A final status other than OK is a failure.
outcome<v1::KvReply> execute_kv(client& c, const caf::actor& gateway,
                                const options& opts, v1::KvRequest req);

/// Prints `reply` as JSON with -o json, else `table`.
int print_kv(const options& opts, const v1::KvReply& reply,
             const std::string& table);

/// A command whose table output depends only on the reply.
using kv_renderer = std::function<std::string(const v1::KvReply&)>;
command kv_command(v1::KvRequest req, kv_renderer table);

} // namespace troupe::cli
