// The placed actors of a cache cluster (docs/cache-cluster.md):
//
// cache/<shard>/primary: marks the shard's engine here as the primary (the
//   RESP threads then serve its slots and record its writes) and serves
//   the replication stream: ReplFetch -> ReplBatch, at once when there is
//   data, else parked until there is (the backlog wakes it) or wait_ms.
//   A replica from another history gets a dump of the shard first, sent in
//   chunks and then continued from the backlog at the dump's offset.
// cache/<shard>/replica: fetches the stream from the primary by name and
//   applies it to the shard's engine here, so that a promotion finds the
//   data in place. Its fetch offset is its acknowledgement (WAIT).
//
// Both stop when their placement moves (or the node fences itself); the
// engine and its keys stay with the node's cluster, which is what makes a
// promotion on the replica's node instant.
#include "actors/cache/role_state.hpp"
#include "runtime/logging.hpp"
#include "runtime/named.hpp"
#include "runtime/type_ids.hpp"
#include "troupe/cache.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>

namespace troupe::cache {

namespace {

using namespace std::chrono_literals;

constexpr uint32_t batch_bytes = 1 << 20;
constexpr uint32_t fetch_wait_ms = 100;
constexpr size_t max_parked = 64;


// -- primary -------------------------------------------------------------------------

struct primary_state {
  std::shared_ptr<role_state> rs;
  std::string shard;
  std::shared_ptr<engine> eng;
  struct parked_fetch {
    caf::response_promise rp;
    v1::ReplFetch req;
    int64_t deadline_ms;
  };
  std::vector<parked_fetch> parked;
  struct dump_state {
    std::string replid;
    std::string data;
    uint64_t offset = 0;
  };
  std::map<std::string, dump_state> dumps; // by replica node
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "cache-primary";
};

using primary_actor = caf::stateful_actor<primary_state>;

v1::ReplBatch error_batch(const std::string& why) {
  v1::ReplBatch b;
  b.set_error(why);
  return b;
}

// The answer to `req` now, or nullopt if there is nothing to send yet.
std::optional<v1::ReplBatch> answer(primary_actor* self, const v1::ReplFetch& req) {
  auto& st = self->state;
  auto* bl = st.eng->backlog();
  auto max = std::clamp<uint32_t>(req.max_bytes(), 4096, batch_bytes);
  v1::ReplBatch b;
  b.set_primary_offset(bl->end_offset());
  // A dump in progress for this replica goes on, or ends.
  if (auto d = st.dumps.find(req.replica_node());
      d != st.dumps.end() && req.replid() == d->second.replid && req.dump_pos() > 0) {
    auto& dump = d->second;
    if (req.dump_pos() < dump.data.size()) {
      b.set_replid(dump.replid);
      b.set_full_sync(true);
      b.set_offset(dump.offset);
      b.set_dump_pos(req.dump_pos());
      b.set_dump_size(dump.data.size());
      b.set_data(dump.data.substr(req.dump_pos(), max));
      return b;
    }
    st.dumps.erase(d); // received whole: on from the backlog
  }
  auto replid = bl->replid();
  std::string data;
  if (req.replid() == replid && bl->read(req.offset(), max, data)) {
    bl->ack(req.replica_node(), req.offset(), st.eng->now_ms());
    if (data.empty())
      return std::nullopt;
    b.set_replid(replid);
    b.set_offset(req.offset());
    b.set_data(std::move(data));
    return b;
  }
  // Another history, or too far behind: a full sync. The dump is taken
  // with writes held back for its duration (reads go on); the replica gets
  // it in chunks of at most `max`.
  primary_state::dump_state dump;
  dump.replid = replid;
  dump.offset = st.eng->dump(dump.data);
  st.log->info("{}: full sync of {} to {} ({} bytes at offset {})", st.shard,
               req.replid().empty() ? "an empty replica" : "a replica of another history",
               req.replica_node(), dump.data.size(), dump.offset);
  b.set_replid(replid);
  b.set_full_sync(true);
  b.set_offset(dump.offset);
  b.set_dump_pos(0);
  b.set_dump_size(dump.data.size());
  b.set_data(dump.data.substr(0, max));
  st.dumps[req.replica_node()] = std::move(dump);
  bl->forget(req.replica_node());
  return b;
}

void serve_parked(primary_actor* self, bool expire_only) {
  auto& st = self->state;
  auto now = st.eng->now_ms();
  std::vector<primary_state::parked_fetch> still;
  for (auto& p : st.parked) {
    auto b = expire_only ? std::nullopt : answer(self, p.req);
    if (!b && now < p.deadline_ms) {
      still.push_back(std::move(p));
      continue;
    }
    if (!b) {
      b = v1::ReplBatch{};
      b->set_replid(st.eng->backlog()->replid());
      b->set_offset(p.req.offset());
      b->set_primary_offset(st.eng->backlog()->end_offset());
    }
    p.rp.deliver(pack(*b));
  }
  st.parked = std::move(still);
  if (!st.parked.empty())
    st.eng->backlog()->arm();
}

caf::result<envelope> on_fetch(primary_actor* self, const envelope& env) {
  auto& st = self->state;
  auto req = unpack<v1::ReplFetch>(env);
  if (!req)
    return std::move(req.error());
  if (req->shard() != st.shard)
    return pack(error_batch("this is the primary of " + st.shard + ", not " + req->shard()));
  if (req->primary_node() != st.rs->ctx->self.node_id)
    return pack(error_batch("the replica's slot map names " + req->primary_node()
                            + " as the primary of " + st.shard + ", not "
                            + st.rs->ctx->self.node_id));
  if (auto b = answer(self, *req))
    return pack(*b);
  if (st.parked.size() >= max_parked)
    return pack(error_batch("too many parked fetches"));
  // Armed before looking again, so that an append in between wakes us.
  st.eng->backlog()->arm();
  if (auto b = answer(self, *req))
    return pack(*b);
  auto rp = self->make_response_promise<envelope>();
  st.parked.push_back(
    {rp, *req, st.eng->now_ms() + std::min<uint32_t>(req->wait_ms(), 1000)});
  return rp;
}

caf::behavior primary_behavior(primary_actor* self, std::shared_ptr<role_state> rs,
                               child_context c) {
  auto& st = self->state;
  st.rs = rs;
  st.shard = shard_of_placement(c.name, "/primary");
  st.log = logger_for("cache");
  auto* cl = rs->cl.get();
  st.eng = cl->shard_engine(st.shard);
  cl->set_primary(st.shard, true);
  caf::weak_actor_ptr weak{self->ctrl()};
  st.eng->backlog()->set_waker([weak] {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<caf::actor>(strong), cache_wake_atom_v);
  });
  self->attach_functor([cl, shard = st.shard, eng = st.eng] {
    eng->backlog()->set_waker(nullptr);
    cl->set_primary(shard, false);
  });
  st.log->info("{}: primary here (replid {}, offset {})", st.shard, st.eng->backlog()->replid(),
               st.eng->backlog()->end_offset());
  self->send(self, tick_atom_v);
  auto gate = c.gate;
  return {
    [self](cache_wake_atom) { serve_parked(self, false); },
    [self](tick_atom) {
      serve_parked(self, true);
      self->delayed_send(self, 25ms, tick_atom_v);
    },
    [self, gate](const envelope& env) -> caf::result<envelope> {
      if (gate)
        gate->leave();
      if (env.type == v1::ReplFetch::descriptor()->full_name())
        return on_fetch(self, env);
      return make_error(errc::unexpected_message,
                        "cache primaries handle troupe.v1.ReplFetch, not " + env.type);
    },
  };
}

// -- replica ---------------------------------------------------------------------------

struct replica_state {
  std::shared_ptr<role_state> rs;
  std::string shard;
  std::shared_ptr<engine> eng;
  std::string replid;
  uint64_t offset = 0;
  uint64_t dump_pos = 0;
  uint64_t dump_size = 0;
  std::unique_ptr<resp::request_parser> parser;
  std::vector<std::string_view> args;
  int64_t last_error_log_ms = 0;
  std::string placement;
  bool synced = false; // streaming from the backlog (not in a full sync)
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "cache-replica";
};

using replica_actor = caf::stateful_actor<replica_state>;

void new_parser(replica_state& st) {
  resp::limits lim;
  lim.max_bulk_len = int64_t{4} << 30;
  lim.max_multibulk_len = 1 << 20;
  lim.max_query_buffer = size_t{8} << 30;
  st.parser = std::make_unique<resp::request_parser>(lim);
}

// Applies every complete command in the stream so far. false on a broken
// stream (then the replica starts over with a full sync).
bool apply_stream(replica_state& st, const std::string& data) {
  st.parser->append(data);
  while (true) {
    auto status = st.parser->next(st.args);
    if (status == resp::parse_status::need_more)
      return true;
    if (status != resp::parse_status::command)
      return false;
    st.eng->apply(st.args);
  }
}

void fetch(replica_actor* self);

void retry_later(replica_actor* self, const std::string& why) {
  auto& st = self->state;
  auto now = wall_clock_ms();
  if (now - st.last_error_log_ms > 5000) {
    st.last_error_log_ms = now;
    st.log->info("{}: replica waits for its primary: {}", st.shard, why);
  }
  self->delayed_send(self, 50ms, tick_atom_v);
}

void on_batch(replica_actor* self, const v1::ReplBatch& b) {
  auto& st = self->state;
  if (!b.error().empty()) {
    retry_later(self, b.error());
    return;
  }
  bool ok = true;
  if (b.full_sync()) {
    if (b.dump_pos() == 0) {
      st.eng->clear();
      new_parser(st);
      st.replid = b.replid();
      st.offset = b.offset();
      st.dump_pos = 0;
      st.dump_size = b.dump_size();
    }
    if (b.replid() != st.replid || b.dump_pos() != st.dump_pos) {
      ok = false;
    } else {
      ok = apply_stream(st, b.data());
      st.dump_pos += b.data().size();
      if (st.dump_pos >= st.dump_size)
        st.log->info("{}: full sync done ({} bytes), streaming from offset {}", st.shard,
                     st.dump_size, st.offset);
    }
  } else if (b.replid() != st.replid || b.offset() != st.offset) {
    ok = false;
  } else {
    ok = apply_stream(st, b.data());
    st.offset += b.data().size();
    if (!st.synced) {
      st.synced = true; // streaming: a handover to this node loses nothing acknowledged
      st.rs->ctx->placements.set_synced(st.placement, true);
    }
  }
  if (!ok) {
    st.log->warn("{}: replication stream out of step (replid {}, offset {}); full sync",
                 st.shard, b.replid(), b.offset());
    st.replid.clear();
    st.offset = 0;
    st.dump_pos = 0;
  }
  if (b.full_sync() && st.synced) {
    st.synced = false;
    st.rs->ctx->placements.set_synced(st.placement, false);
  }
  fetch(self);
}

// The shard's primary as this node's slot map says, once the map shows
// this node as the shard's replica (so it is not older than the placement
// this actor runs for); "" until then.
std::string expected_primary(const replica_state& st) {
  auto m = st.rs->cl->map();
  for (auto& sv : m->shards) {
    if (sv.name != st.shard)
      continue;
    for (auto& r : sv.replicas)
      if (r.node == st.rs->ctx->self.node_id)
        return sv.primary.node;
  }
  return {};
}

void fetch(replica_actor* self) {
  auto& st = self->state;
  auto primary = expected_primary(st);
  if (primary.empty()) {
    self->delayed_send(self, 20ms, tick_atom_v);
    return;
  }
  v1::ReplFetch f;
  f.set_primary_node(primary);
  f.set_shard(st.shard);
  f.set_replica_node(st.rs->ctx->self.node_id);
  f.set_replid(st.replid);
  f.set_offset(st.offset);
  f.set_dump_pos(st.dump_pos > 0 ? st.dump_pos : 0);
  if (st.dump_pos >= st.dump_size && st.dump_size > 0) {
    // The dump is complete: say so once (dump_pos == size), then stream.
    f.set_dump_pos(st.dump_pos);
    st.dump_pos = 0;
    st.dump_size = 0;
  }
  f.set_max_bytes(batch_bytes);
  f.set_wait_ms(fetch_wait_ms);
  request_by_name(
    self, st.rs->ctx, primary_placement(st.shard), pack(f), 3s,
    [self](envelope& env) {
      auto b = unpack<v1::ReplBatch>(env);
      if (!b) {
        retry_later(self, "unreadable ReplBatch: " + caf::to_string(b.error()));
        return;
      }
      on_batch(self, *b);
    },
    [self](caf::error& err) { retry_later(self, caf::to_string(err)); });
}

caf::behavior replica_behavior(replica_actor* self, std::shared_ptr<role_state> rs,
                               child_context c) {
  auto& st = self->state;
  st.rs = rs;
  st.shard = shard_of_placement(c.name, "/replica");
  st.log = logger_for("cache");
  st.eng = rs->cl->shard_engine(st.shard);
  st.placement = c.name;
  rs->cl->set_primary(st.shard, false);
  rs->ctx->placements.set_synced(c.name, false);
  self->attach_functor([ctx = rs->ctx, name = c.name] { ctx->placements.set_synced(name, false); });
  new_parser(st);
  st.log->info("{}: replica here, syncing from {}", st.shard, primary_placement(st.shard));
  fetch(self);
  auto gate = c.gate;
  return {
    [self](tick_atom) { fetch(self); },
    [gate](const envelope& env) -> caf::result<envelope> {
      if (gate)
        gate->leave();
      return make_error(errc::unexpected_message,
                        "a cache replica takes no messages (got " + env.type + ")");
    },
  };
}

} // namespace

placeable_start primary_start(std::shared_ptr<role_state> rs) {
  return [rs](caf::local_actor* host, const child_context& c) {
    return host->spawn(primary_behavior, rs, c);
  };
}

placeable_start replica_start(std::shared_ptr<role_state> rs) {
  return [rs](caf::local_actor* host, const child_context& c) {
    return host->spawn(replica_behavior, rs, c);
  };
}

} // namespace troupe::cache
