// Calling a consensus member `raft/<node>` through the endpoint's gateway:
// follow NOT_LEADER redirects and retry transient failures with backoff,
// resending the very same request bytes (so a KvRequest keeps its client_id
// and request_id and stays exactly-once). Pure: the transport, the clock and
// sleeping are injected, so the unit tests drive it without a cluster.
#pragma once

#include "cli/outcome.hpp"
#include "net/envelope.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace troupe::cli {

/// The name of the consensus member on `node`.
std::string member_name(const std::string& node);

/// Requests `msg` from the actor `name`, waiting at most `timeout`.
using ask_fn = std::function<caf::expected<envelope>(
    const std::string& name, const envelope& msg,
    std::chrono::milliseconds timeout)>;

struct call_env {
  ask_fn ask;
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
};

/// A call_env on the real steady clock and std::this_thread::sleep_for.
call_env real_call_env(ask_fn ask);

struct call_policy {
  /// The whole call, retries included, must finish within this (--timeout-ms).
  std::chrono::milliseconds timeout{10000};
  /// NOT_LEADER redirects followed before giving up.
  int max_redirects = 3;
  /// Backoff between retries: doubles from min to max. 50 ms lands the first
  /// retry just after a typical election (100 to 200 ms of silence with the
  /// shell's defaults); 1 s keeps a long outage from flooding the cluster.
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{1000};
};

/// What a reply tells the caller to do.
struct verdict {
  enum kind_t {
    done,     // hand the reply to the command
    redirect, // resend to raft/<node> (NOT_LEADER with a leader)
    retry,    // transient: resend to the same member after a backoff
    restart,  // the member stopped: ask the first member again after a backoff
    give_up,  // fail with `reason`
  };
  kind_t kind = done;
  std::string node;   // redirect
  std::string reason; // retry, restart, give_up: what happened
};

/// Judges a reply envelope from member `node`.
using judge_fn
    = std::function<verdict(const envelope& reply, const std::string& node)>;

/// Sends `msg` to raft/<first_node> and returns the first reply that `judge`
/// calls done. Transport errors are judged here: no_such_actor from the
/// first node means it runs no consensus member; timeouts, full mailboxes
/// and unreachable members are retried (a timeout may hide an applied
/// request, which is why the request must carry exactly-once ids). Fails
/// after `policy.max_redirects` redirects, or when the next retry would end
/// after the deadline, with one line naming the last thing that happened.
outcome<envelope> call_member(const call_env& env, const call_policy& policy,
                              const std::string& first_node,
                              const envelope& msg, const judge_fn& judge);

} // namespace troupe::cli
