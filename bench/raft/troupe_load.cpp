#include "troupe_load.hpp"

#include "process.hpp"
#include "runtime/type_ids.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <vector>

namespace troupe::kvbench {

namespace {

using namespace std::chrono_literals;

// What all clients of one run share: the bound on successes and the slots
// each client writes its tally into before it reports done (the done
// message orders the write before the coordinator's read).
struct shared_run {
  std::atomic<uint64_t> ok_total{0};
  std::atomic<uint64_t> errors{0};
  std::vector<load_result> tallies;
};

// A put that gets a retryable reply is resent with the same ids (the state
// machine answers a duplicate exactly once) after this pause, at most
// max_attempts times; a redirect to the named leader is resent at once.
constexpr auto retry_pause = 5ms;
constexpr uint32_t max_attempts = 50;

struct client_state {
  troupe_target target;
  load_shape shape;
  window win;
  std::shared_ptr<shared_run> run;
  uint32_t index = 0;
  std::optional<key_source> keys;
  uint64_t request_id = 0;
  envelope pending;                // the current put, kept for resends
  bench_clock::time_point started; // its first attempt
  uint32_t attempts = 0;
  load_result tally;
  caf::actor coordinator;
  static inline const char* name = "kv_bench_client";
};

using client_actor = caf::stateful_actor<client_state>;

bool issuing(const client_state& st) {
  return bench_clock::now() < st.win.end
         && st.run->ok_total.load(std::memory_order_relaxed) < st.shape.max_ops
         && st.run->errors.load(std::memory_order_relaxed)
                <= st.shape.max_errors;
}

void finish(client_actor* self) {
  auto& st = self->state;
  st.run->tallies[st.index] = std::move(st.tally);
  self->send(st.coordinator, caf::ok_atom::value, st.index);
  self->quit();
}

void on_put_error(client_actor* self, const std::string& what) {
  record_error(self->state.tally, what);
  self->state.run->errors.fetch_add(1, std::memory_order_relaxed);
}

void next_put(client_actor* self);
void send_pending(client_actor* self);

// After an error reply: resend the same put (after `pause` if nonzero), or
// give up on it after max_attempts and start the next one.
void resend_or_next(client_actor* self, std::chrono::milliseconds pause) {
  auto& st = self->state;
  if (!issuing(st))
    return finish(self);
  if (st.attempts >= max_attempts)
    return next_put(self);
  if (pause.count() == 0)
    return send_pending(self);
  self->delayed_send(self, pause, tick_atom_v);
}

void on_reply(client_actor* self, const envelope& reply) {
  auto& st = self->state;
  auto r = classify_put(reply);
  switch (r.outcome) {
  case put_outcome::ok:
    // The latency runs from the first attempt: what the client waited.
    record_ok(st.tally, st.win, st.started, bench_clock::now(), r.revision);
    st.run->ok_total.fetch_add(1, std::memory_order_relaxed);
    return next_put(self);
  case put_outcome::redirect:
    on_put_error(self, r.error);
    // Only the send path reaches a name on another node; route would
    // answer not_hosted_here, so it keeps asking its own node.
    if (st.target.path == gateway_path::send) {
      st.target.node_id = r.leader_node;
      return resend_or_next(self, 0ms);
    }
    return resend_or_next(self, retry_pause);
  case put_outcome::retry:
    on_put_error(self, r.error);
    return resend_or_next(self, retry_pause);
  case put_outcome::fail:
    on_put_error(self, r.error);
    return next_put(self);
  }
}

void send_pending(client_actor* self) {
  auto& st = self->state;
  ++st.attempts;
  request_named(self, st.target.path, st.target.gateway, st.shape.op_timeout,
                member_name(st.target.node_id), st.pending)
      .then([=](envelope& reply) { on_reply(self, reply); },
            [=](caf::error& err) {
              on_put_error(self, describe(err));
              resend_or_next(self, retry_pause);
            });
}

void next_put(client_actor* self) {
  auto& st = self->state;
  if (!issuing(st))
    return finish(self);
  auto key = st.keys->next_key();
  auto op = st.request_id++;
  st.pending = make_put(st.target.client_id_base + st.index, st.request_id, key,
                        st.keys->value_for(op));
  st.started = bench_clock::now();
  st.attempts = 0;
  send_pending(self);
}

caf::behavior put_client(client_actor* self, troupe_target target,
                         load_shape shape, window win,
                         std::shared_ptr<shared_run> run, uint32_t index,
                         caf::actor coordinator) {
  auto& st = self->state;
  st.target = std::move(target);
  st.shape = shape;
  st.win = win;
  st.run = std::move(run);
  st.index = index;
  st.keys.emplace(shape, index);
  st.coordinator = std::move(coordinator);
  next_put(self);
  // The only message of its own: the end of a retry pause.
  return {[=](tick_atom) { send_pending(self); }};
}

} // namespace

load_result run_troupe_load(caf::actor_system& sys, const troupe_target& target,
                            const load_shape& shape) {
  auto run = std::make_shared<shared_run>();
  run->tallies.resize(shape.clients);
  caf::scoped_actor self{sys};
  auto t0 = bench_clock::now();
  window win{t0 + shape.warmup, t0 + shape.warmup + shape.measure};
  for (uint32_t i = 0; i < shape.clients; ++i)
    sys.spawn(put_client, target, shape, win, run, i,
              caf::actor_cast<caf::actor>(self));
  // Every client stops issuing at the window's end and has at most one put
  // outstanding, which ends within op_timeout.
  auto hard_end = win.end + shape.op_timeout + 2s;
  for (uint32_t done = 0; done < shape.clients;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        hard_end - bench_clock::now());
    bool timed_out = false;
    self->receive([&](caf::ok_atom, uint32_t) { ++done; },
                  caf::after(std::max(left, 1ms)) >> [&] { timed_out = true; });
    if (timed_out)
      fatal("troupe load: " + std::to_string(shape.clients - done)
            + " clients did not finish");
  }
  load_result total;
  total.system = "troupe";
  total.clients = shape.clients;
  for (auto& t : run->tallies)
    merge(total, std::move(t));
  auto end = std::min(bench_clock::now(), win.end);
  total.seconds
      = std::max(0.0, std::chrono::duration<double>(end - win.begin).count());
  return total;
}

namespace {

struct probe_state {
  troupe_target target;
  probe_timing timing;
  key_source keys{load_shape{}, 0};
  uint64_t request_id = 0;
  size_t in_flight = 0;
  caf::actor coordinator;
  static inline const char* name = "kv_bench_probe";
};

using probe_actor = caf::stateful_actor<probe_state>;

// Launches one put unless too many are in flight. Replies other than OK
// (NOT_LEADER, UNAVAILABLE, timeouts) only free the slot: the next tick
// launches the next put.
void probe_put(probe_actor* self) {
  auto& st = self->state;
  if (st.in_flight >= st.timing.max_in_flight())
    return;
  ++st.in_flight;
  auto op = st.request_id++;
  auto msg = make_put(st.target.client_id_base, st.request_id,
                      st.keys.next_key(), st.keys.value_for(op));
  request_named(self, st.target.path, st.target.gateway,
                st.timing.attempt_timeout, member_name(st.target.node_id),
                std::move(msg))
      .then(
          [=](envelope& reply) {
            auto done = bench_clock::now();
            --self->state.in_flight;
            std::string error;
            if (put_revision(reply, error) > 0) {
              self->send(self->state.coordinator, caf::ok_atom::value,
                         done.time_since_epoch().count());
              self->quit();
            }
          },
          [=](caf::error&) { --self->state.in_flight; });
}

caf::behavior write_probe(probe_actor* self, troupe_target target,
                          probe_timing timing, caf::actor coordinator) {
  auto& st = self->state;
  st.target = std::move(target);
  st.timing = timing;
  st.keys = key_source{
      load_shape{}, static_cast<uint32_t>(st.target.client_id_base % 100000)};
  st.coordinator = std::move(coordinator);
  self->send(self, tick_atom_v);
  return {[=](tick_atom) {
    probe_put(self);
    self->delayed_send(self, self->state.timing.interval, tick_atom_v);
  }};
}

} // namespace

std::optional<bench_clock::time_point> troupe_first_write(
    caf::actor_system& sys, const std::vector<troupe_target>& targets,
    const probe_timing& timing, bench_clock::time_point deadline) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> probes;
  for (auto& t : targets)
    probes.push_back(
        sys.spawn(write_probe, t, timing, caf::actor_cast<caf::actor>(self)));
  std::optional<bench_clock::time_point> first;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - bench_clock::now());
  self->receive(
      [&](caf::ok_atom, bench_clock::rep ns) {
        first = bench_clock::time_point{bench_clock::duration{ns}};
      },
      caf::after(std::max(left, 1ms)) >> [] {});
  for (auto& p : probes)
    caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  return first;
}

} // namespace troupe::kvbench
