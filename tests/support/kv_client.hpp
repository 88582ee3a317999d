// A KV client for integration tests: talks to the consensus members of a
// real cluster through their nodes' gateways, as troupectl does, follows
// NOT_LEADER redirects, and classifies every outcome for a client history:
// ok, fail (certainly not applied) or unknown (may have applied).
//
// One kv_client per thread (it owns a scoped_actor). Not thread-safe.
#pragma once

#include "net/envelope.hpp"

#include "troupe/kv.pb.h"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace troupe::test {

enum class outcome { ok, fail, unknown };

struct put_result {
  outcome result = outcome::unknown;
  std::int64_t revision = 0;
  std::string error;
};

struct get_result {
  outcome result = outcome::unknown;
  std::optional<std::string> value; // nullopt: the key is absent
  std::string error;
};

class kv_client {
public:
  /// `nodes`: node id -> cluster address (HOST:PORT) of every consensus node.
  kv_client(caf::actor_system& sys, std::map<std::string, std::string> nodes,
            std::uint64_t client_id);

  /// One put, with a fresh request id, within `timeout` overall (redirects
  /// included). A timeout or OUTCOME_UNKNOWN is `unknown`; an error reply
  /// that proves nothing was applied (NOT_LEADER with no leader after the
  /// retries, UNAVAILABLE, OVERLOADED, LIMIT_EXCEEDED) is `fail`.
  put_result put(const std::string& key, const std::string& value,
                 std::chrono::milliseconds timeout = std::chrono::seconds{2});

  /// A linearizable get (or serializable), within `timeout`.
  get_result get(const std::string& key, bool serializable = false,
                 std::chrono::milliseconds timeout = std::chrono::seconds{2});

  /// Every key with `prefix`, linearizable; nullopt on failure.
  std::optional<std::map<std::string, std::string>>
  range_prefix(const std::string& prefix,
               std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Sends `req` (a KvRequest) to a member, following redirects, and
  /// returns the final reply; nullopt after a timeout or transport error
  /// (`error` says which).
  std::optional<v1::KvReply> call(const v1::KvRequest& req,
                                  std::chrono::milliseconds timeout, std::string& error);

private:
  std::optional<caf::actor> gateway(const std::string& node);
  std::optional<envelope> ask(const std::string& node, const envelope& msg,
                              std::chrono::milliseconds timeout, std::string& error);

  caf::actor_system& sys_;
  caf::scoped_actor self_;
  std::map<std::string, std::string> nodes_;
  std::map<std::string, caf::actor> gateways_;
  std::string leader_; // last known leader node
  std::uint64_t client_id_;
  std::uint64_t next_request_ = 1;
  std::size_t rotate_ = 0;
};

} // namespace troupe::test
