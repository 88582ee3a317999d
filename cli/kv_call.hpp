// One troupectl run's KV client: a random client_id, request ids counting up
// from 1, and the verdicts on KvReply and WatchResponse statuses that
// call_member acts on.
#pragma once

#include "cli/member_call.hpp"

#include "troupe/kv.pb.h"

#include <cstdint>
#include <string>

namespace troupe::cli {

/// A nonzero 64-bit id from std::random_device. Two troupectl runs must not
/// share a client_id: the state machine would answer the second run's
/// request 1 with the first run's cached reply.
uint64_t random_client_id();

/// KvReply: NOT_LEADER with a leader redirects, UNAVAILABLE, OVERLOADED,
/// OUTCOME_UNKNOWN and NOT_LEADER without a leader are retried, every other
/// status is done (the command reports it). A reply that is not a KvReply
/// gives up.
verdict judge_kv_reply(const envelope& reply, const std::string& node);

/// WatchResponse: UNAVAILABLE and OVERLOADED are retried, anything else is
/// done (COMPACTED is the watch loop's to report).
verdict judge_watch_response(const envelope& reply, const std::string& node);

/// Turns a non-OK status into the failure line: what happened, and what to
/// do (the comments of KvStatus in kv.proto).
failure kv_status_failure(v1::KvStatus status, const std::string& message);

class kv_session {
public:
  explicit kv_session(uint64_t client_id) : client_id_(client_id) {}

  /// Stamps `req` with the session's ids and runs it against raft/<node>
  /// through call_member. A final status other than OK is a failure.
  outcome<v1::KvReply> execute(const call_env& env, const call_policy& policy,
                               const std::string& node, v1::KvRequest req);

  uint64_t client_id() const noexcept {
    return client_id_;
  }

private:
  uint64_t client_id_;
  uint64_t next_request_id_ = 1;
};

} // namespace troupe::cli
