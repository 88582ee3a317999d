// The loop behind `troupectl kv watch`: WatchRequest pages from any member,
// resuming each time at next_revision.
#pragma once

#include "cli/member_call.hpp"

#include "troupe/kv.pb.h"

#include <cstdint>
#include <functional>
#include <string>

namespace troupe::cli {

/// How long a member may hold one long poll. It must stay below the
/// gateway's forwarding timeout (defaults::request_timeout, 5 s), or the
/// gateway answers request_timeout for a poll that merely found nothing.
constexpr int64_t watch_poll_ms = 2500;

/// Pages a watch that bounds a run without --follow: 10,000 pages of up to
/// max_watch_events (10,000) events each.
constexpr int watch_max_pages = 10000;

/// Asks raft/<node> for the events of `req` from req.start_revision on and
/// hands each to `on_event`, in order. Without `follow` it stops once it has
/// caught up with the member's revision and returns the next revision; with
/// `follow` it long-polls until a call fails. Each poll gets the whole of
/// policy.timeout, retries included. KV_STATUS_COMPACTED fails with the
/// revision to resume from.
outcome<int64_t>
run_watch(const call_env& env, const call_policy& policy,
          const std::string& node, v1::WatchRequest req, bool follow,
          const std::function<void(const v1::Event&)>& on_event);

} // namespace troupe::cli
