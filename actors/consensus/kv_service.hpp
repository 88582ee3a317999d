// The KV service: the state machine a consensus member replicates
// (kv::kv_state), and the client protocol on top of it (docs/kv.md, "The
// service"). It plugs into the Raft shell as its state_machine:
//
//   KvRequest     request -> KvReply. Writes become KvCommands proposed to
//                 Raft and are answered once applied here; linearizable
//                 reads wait for ReadIndex; serializable reads are answered
//                 at once from the local replica. A follower answers
//                 KV_STATUS_NOT_LEADER with the leader's node id.
//   SystemKvRequest  the same, from the runtime: may write /troupe/sys/.
//   WatchRequest  request -> WatchResponse, served by any member from its
//                 local history; a long poll (wait_ms) is held until an event
//                 arrives or the wait ends.
//
// On the leader it also proposes the expiry of leases whose deadline passed
// (by the leader's clock, stamped into the command).
#pragma once

#include "actors/consensus/kv_state.hpp"
#include "actors/consensus/raft_shell.hpp"

#include "troupe/kv.pb.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace troupe::kv {

struct service_limits {
  kv::limits store;
  /// Long-polling watches held at once; more are answered at once (empty).
  std::size_t max_parked_watches = 1000;
  /// Cap on WatchRequest.wait_ms.
  std::int64_t max_watch_wait_ms = 30'000;
  /// How often the leader looks for expired leases.
  std::int64_t lease_check_interval_ms = 500;
};

/// Milliseconds on the wall clock; the only clock the service reads, and
/// only on the leader when stamping a command (leases).
using clock_fn = std::function<std::int64_t()>;

class kv_service final : public raft::state_machine {
public:
  explicit kv_service(service_limits limits = {}, clock_fn clock = {});

  std::string apply(const raft::entry& e) override;
  std::string snapshot() override;
  bool restore(const std::string& data) override;
  std::optional<caf::result<envelope>> on_request(raft::shell_actor* self,
                                                  const envelope& env) override;
  void on_tick(raft::shell_actor* self) override;
  void after_apply(raft::shell_actor* self) override;
  std::int64_t revision() const override { return kv_.revision(); }

  const kv_state& state() const {
    return kv_;
  }

private:
  struct parked_watch {
    v1::WatchRequest request;
    std::int64_t deadline_ms = 0;
    caf::typed_response_promise<envelope> promise;
  };

  caf::result<envelope> on_kv_request(raft::shell_actor* self, const v1::KvRequest& req,
                                      bool system);
  caf::result<envelope> on_watch(raft::shell_actor* self, const v1::WatchRequest& req);
  void read(raft::shell_actor* self, const v1::RangeRequest& range,
            caf::typed_response_promise<envelope> promise);
  void write(raft::shell_actor* self, v1::KvCommand command,
             caf::typed_response_promise<envelope> promise);
  void expire_leases(raft::shell_actor* self);
  void answer_watches(bool expire_only);

  service_limits limits_;
  clock_fn clock_;
  kv_state kv_;
  std::deque<parked_watch> watches_;
  std::int64_t last_lease_check_ms_ = 0;
  std::uint64_t leader_term_ = 0;     // the term this member last led in
  std::int64_t leader_since_ms_ = 0;  // when it started leading in it
  bool lease_expiry_pending_ = false;
};

/// The KvReply for a shell outcome that is not OK (NOT_LEADER with the
/// leader's node id, OVERLOADED, OUTCOME_UNKNOWN, UNAVAILABLE).
v1::KvReply reply_for_failure(const raft::shell_state& st, const v1::ProposeReply& outcome);

} // namespace troupe::kv
