// The dashboard actor: gathers (members, trees, Raft, journal), feeds the
// model, and pushes its deltas to the connected browsers.
#include "actors/dashboard/dashboard.hpp"
#include "actors/dashboard/model.hpp"
#include "actors/dashboard/parts.hpp"
#include "actors/dashboard/views.hpp"

#include "runtime/logging.hpp"
#include "runtime/system_keyspace.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/cache.pb.h"
#include "troupe/edge.pb.h"
#include "troupe/kv.pb.h"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <openssl/crypto.h>

namespace troupe::dashboard {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The member view is local and cheap: read it often, so a node going down
// shows within a second. Remote state is gathered every other tick.
constexpr auto tick_interval = 500ms;
// Below the gather period, so one round ends before the next starts.
constexpr auto gather_timeout = 900ms;
constexpr std::string_view journal_prefix = "/troupe/sys/journal/";
// Entries read per journal poll, and how many of the newest to start with
// (the model keeps 500; the journal itself up to 10000).
constexpr int64_t journal_page = 500;
constexpr size_t journal_keep = 500;

struct conn_info {
  caf::actor handle;
  bool authed = false;
  int auth_failures = 0;
};

struct node_sample {
  uint64_t messages = 0;
  caf::actor_clock::time_point at;
  bool valid = false;
};

struct dashboard_state {
  node_context_ptr ctx;
  shared_view_ptr view;
  model m;
  std::map<caf::actor_addr, conn_info> conns;
  uint64_t ticks = 0;
  bool gathering = false;
  std::map<std::string, node_sample> samples;
  json point_nodes = json::object(); // the metrics point being gathered
  json point_roles = json::object(); // node -> {"cache": ..., "edge": ...}
  std::string journal_from;          // next journal key to read; "" = probe first
  bool journal_busy = false;
  size_t rotate = 0;
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "dashboard";
};

using dashboard_actor = caf::stateful_actor<dashboard_state>;

bool has_role(const v1::MemberInfo& info, std::string_view role) {
  for (auto& r : info.roles())
    if (r == role || r == "all")
      return true;
  return false;
}

// -- pushing ---------------------------------------------------------------------

void send_text(dashboard_actor* self, const caf::actor& conn, const std::string& text) {
  self->send(conn, text);
}

void send_json(dashboard_actor* self, const caf::actor& conn, const json& msg) {
  send_text(self, conn, msg.dump());
}

void send_snapshot(dashboard_actor* self, const caf::actor& conn) {
  send_text(self, conn, *self->state.m.snapshot_text());
}

void publish(dashboard_actor* self) {
  auto& st = self->state;
  auto delta = st.m.publish();
  if (!delta)
    return;
  st.view->publish(std::make_shared<const json>(st.m.state()));
  for (auto& [addr, conn] : st.conns)
    send_text(self, conn.handle, *delta);
}

// -- gathering -------------------------------------------------------------------

void refresh_nodes(dashboard_actor* self) {
  auto& st = self->state;
  std::vector<std::string> ids;
  for (auto& e : st.ctx->members.all()) {
    ids.push_back(e.info.node_id());
    st.m.set_node(e.info.node_id(), node_record(e));
    if (e.status != v1::MEMBER_STATUS_UP)
      st.m.set_actors(e.info.node_id(), json::object()); // stale once down
  }
  st.m.retain_nodes(ids);
}

// Calls `done` once every one of `n` parts has finished.
std::function<void()> countdown(size_t n, std::function<void()> done) {
  auto left = std::make_shared<size_t>(n);
  return [left, done = std::move(done)] {
    if (--*left == 0)
      done();
  };
}

void finish_round(dashboard_actor* self) {
  auto& st = self->state;
  st.gathering = false;
  for (auto& [node, roles] : st.point_roles.items())
    st.point_nodes[node].update(roles);
  st.m.add_metrics({{"t", wall_clock_ms()}, {"nodes", std::move(st.point_nodes)}});
  st.point_nodes = json::object();
  st.point_roles = json::object();
}

void on_tree(dashboard_actor* self, const std::string& node, const v1::ActorTree& tree,
             caf::actor_clock::time_point started) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (tree.roots_size() == 0)
    return;
  // Every root: the node supervisor, and placed/<node> with the actors the
  // control plane placed here.
  constexpr size_t max_actors = 20000;
  auto actors = json::object();
  uint64_t total = 0;
  for (auto& root : tree.roots()) {
    if (actors.size() >= max_actors)
      break;
    auto part = actor_records(root, max_actors - actors.size());
    actors.update(part);
    total += messages_total(root);
  }
  uint64_t mailbox = 0;
  for (auto& [name, a] : actors.items())
    mailbox += a["mailbox"].get<uint64_t>();
  auto& sample = st.samples[node];
  json rate = nullptr;
  auto dt = std::chrono::duration<double>(now - sample.at).count();
  if (sample.valid && dt > 0 && total >= sample.messages)
    rate = static_cast<double>(total - sample.messages) / dt;
  sample = {total, now, true};
  st.point_nodes[node] = {
    {"msgs_per_s", rate},
    {"rtt_ms", std::chrono::duration<double, std::milli>(now - started).count()},
    {"mailbox", mailbox},
    {"actors", actors.size()}};
  st.m.set_actors(node, actors);
}

void gather_trees(dashboard_actor* self, const std::vector<member_entry>& up,
                  std::function<void()> part_done) {
  for (auto& m : up) {
    auto node = m.info.node_id();
    auto started = self->clock().now();
    self->request(m.gateway, gather_timeout, actors_atom_v, local_atom_v)
      .then(
        [=](const envelope& env) {
          if (auto tree = unpack<v1::ActorTree>(env))
            on_tree(self, node, *tree, started);
          part_done();
        },
        [=](caf::error&) {
          self->state.samples.erase(node);
          part_done();
        });
  }
}

void gather_raft(dashboard_actor* self, const std::vector<member_entry>& up,
                 std::function<void()> part_done) {
  std::vector<const member_entry*> members;
  for (auto& m : up)
    if (has_role(m.info, "consensus"))
      members.push_back(&m);
  if (members.empty()) {
    self->state.m.set_raft(raft_record({}, wall_clock_ms()));
    part_done();
    return;
  }
  auto answers = std::make_shared<std::vector<raft_answer>>();
  auto one_done = countdown(members.size(), [=] {
    std::sort(answers->begin(), answers->end(),
              [](auto& a, auto& b) { return a.node_id < b.node_id; });
    self->state.m.set_raft(raft_record(*answers, wall_clock_ms()));
    part_done();
  });
  for (auto* m : members) {
    auto node = m->info.node_id();
    self->request(m->gateway, gather_timeout, route_atom_v, "raft/" + node,
                  pack(v1::RaftStatusRequest{}))
      .then(
        [=](const envelope& env) {
          auto status = unpack<v1::RaftStatus>(env);
          answers->push_back({node, status ? std::optional{*status} : std::nullopt,
                              status ? "" : describe(status.error())});
          one_done();
        },
        [=](caf::error& err) {
          answers->push_back({node, std::nullopt, describe(err)});
          one_done();
        });
  }
}

// -- role panels: cache and edge counters, per node ----------------------------------

json cache_point(const v1::CacheStats& s) {
  auto lookups = s.hits() + s.misses();
  return {{"address", s.resp_address()},
          {"keys", s.keys()},
          {"memory", s.used_memory_bytes()},
          {"max_memory", s.max_memory_bytes()},
          {"hits", s.hits()},
          {"misses", s.misses()},
          {"hit_ratio", lookups ? json(double(s.hits()) / double(lookups)) : json(nullptr)},
          {"commands", s.commands()},
          {"evicted", s.evicted_keys()},
          {"clients", s.connected_clients()}};
}

json edge_point(const v1::EdgeStats& s) {
  uint64_t requests = 0;
  for (auto& [status, n] : s.requests())
    requests += n;
  return {{"address", s.http_address()},
          {"requests", requests},
          {"hit_ratio", s.hit_ratio()},
          {"objects", s.cache_objects()},
          {"bytes", s.cache_bytes()},
          {"origin_errors", s.origin_errors()},
          {"origin_unavailable", s.origin_unavailable()}};
}

json origins_point(const v1::EdgeOrigins& o) {
  auto list = json::array();
  for (auto& x : o.origins())
    list.push_back({{"address", x.address()},
                    {"breaker", x.breaker()},
                    {"healthy", x.health_ok() && x.breaker() != "open"},
                    {"ewma_ms", x.ewma_latency_ms()}});
  return list;
}

// Asks `name` on `m` for `req`; `on_reply` stores what it answered into
// point_roles[node][key]. One part of the round either way.
template <class Reply, class Request>
void ask_role(dashboard_actor* self, const member_entry& m, const std::string& name,
              const std::string& key, json (*convert)(const Reply&),
              std::function<void()> one_done) {
  auto node = m.info.node_id();
  self->request(m.gateway, gather_timeout, route_atom_v, name, pack(Request{}))
    .then(
      [=](const envelope& env) {
        if (auto reply = unpack<Reply>(env))
          self->state.point_roles[node][key] = convert(*reply);
        one_done();
      },
      [=](caf::error&) { one_done(); });
}

void gather_roles(dashboard_actor* self, const std::vector<member_entry>& up,
                  std::function<void()> part_done) {
  size_t asks = 0;
  for (auto& m : up)
    asks += (has_role(m.info, "cache") ? 1 : 0) + (has_role(m.info, "edge") ? 2 : 0);
  if (asks == 0) {
    part_done();
    return;
  }
  auto one_done = countdown(asks, part_done);
  for (auto& m : up) {
    auto& id = m.info.node_id();
    if (has_role(m.info, "cache"))
      ask_role<v1::CacheStats, v1::CacheStatsRequest>(self, m, "cache/" + id, "cache",
                                                      cache_point, one_done);
    if (has_role(m.info, "edge")) {
      ask_role<v1::EdgeStats, v1::EdgeStatsRequest>(self, m, "edge/" + id, "edge", edge_point,
                                                    one_done);
      ask_role<v1::EdgeOrigins, v1::EdgeOriginsRequest>(self, m, "edge/" + id, "origins",
                                                        origins_point, one_done);
    }
  }
}

// Journal keys: the prefix and the seq as 20 zero-padded digits (HELPERS.md
// "Contracts"), so they sort by seq.
std::string journal_key(uint64_t seq) {
  auto digits = std::to_string(seq);
  return std::string{journal_prefix} + std::string(20 - std::min<size_t>(20, digits.size()), '0')
         + digits;
}

std::optional<uint64_t> journal_seq(const std::string& key) {
  if (key.size() != journal_prefix.size() + 20 || key.rfind(journal_prefix, 0) != 0)
    return std::nullopt;
  uint64_t seq = 0;
  for (auto c : key.substr(journal_prefix.size())) {
    if (c < '0' || c > '9')
      return std::nullopt;
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return seq;
}

// A range read from `from` (inclusive; the prefix itself = from the start)
// to the end of the prefix.
v1::SystemKvRequest journal_request(const std::string& from, int64_t limit) {
  v1::SystemKvRequest req;
  auto& range = *req.mutable_request()->mutable_range();
  range.set_key(from);
  auto end = std::string{journal_prefix};
  end.back() = static_cast<char>(end.back() + 1); // the prefix's range end
  range.set_range_end(end);
  range.set_limit(limit);
  range.set_serializable(true);
  return req;
}

// The first read takes one key and the count of all, to start at the last
// max_journal_entries instead of paging through a long journal; later reads
// continue after the last key read.
void on_journal(dashboard_actor* self, const v1::KvReply& reply) {
  auto& st = self->state;
  if (reply.status() != v1::KV_STATUS_OK)
    return;
  auto& range = reply.range();
  if (st.journal_from.empty()) {
    if (range.kvs_size() == 0)
      return; // still empty: probe again next time
    auto first = journal_seq(range.kvs(0).key()).value_or(0);
    auto keep = static_cast<int64_t>(journal_keep);
    auto skip = range.count() > keep ? static_cast<uint64_t>(range.count() - keep) : 0;
    st.journal_from = journal_key(first + skip);
    return;
  }
  for (auto& kv : range.kvs()) {
    st.journal_from = kv.key() + std::string(1, '\0');
    if (auto entry = journal_record(kv.value()))
      st.m.add_journal(std::move(*entry));
  }
}

// Not part of the round: a slow consensus member must not hold up the
// trees; one read at a time.
void poll_journal(dashboard_actor* self) {
  auto& st = self->state;
  if (st.journal_busy)
    return;
  auto to = pick_consensus_member(*st.ctx, st.rotate++);
  if (!to)
    return;
  st.journal_busy = true;
  auto req = st.journal_from.empty() ? journal_request(std::string{journal_prefix}, 1)
                                     : journal_request(st.journal_from, journal_page);
  self->request(to->gateway, gather_timeout, route_atom_v, "raft/" + to->node_id, pack(req))
    .then(
      [=](const envelope& env) {
        self->state.journal_busy = false;
        if (auto reply = unpack<v1::KvReply>(env))
          on_journal(self, *reply);
      },
      [=](caf::error&) { self->state.journal_busy = false; });
}

void gather(dashboard_actor* self) {
  auto& st = self->state;
  poll_journal(self);
  if (st.gathering)
    return;
  std::vector<member_entry> up;
  for (auto& m : st.ctx->members.up())
    if (m.gateway)
      up.push_back(m);
  st.gathering = true;
  auto part_done = countdown(up.size() + 2, [self] { finish_round(self); });
  gather_trees(self, up, part_done);
  gather_raft(self, up, part_done);
  gather_roles(self, up, part_done);
}

void on_tick(dashboard_actor* self) {
  auto& st = self->state;
  self->delayed_send(self, tick_interval, tick_atom_v);
  refresh_nodes(self);
  if (st.ticks++ % 2 == 0)
    gather(self);
  publish(self);
}

// -- browsers --------------------------------------------------------------------

json hello(const dashboard_state& st) {
  return {{"type", "hello"},
          {"node", st.ctx->self.node_id},
          {"actions_available", !st.view->opts().token.empty()},
          {"version", "1"}};
}

void on_open(dashboard_actor* self, const caf::actor& conn) {
  auto& st = self->state;
  self->monitor(conn);
  // Linked, so that the connections end with this actor (on shutdown, or
  // before a restart) instead of keeping the actor system alive.
  self->link_to(conn);
  st.conns[conn.address()] = conn_info{conn};
  st.view->clients = st.conns.size();
  send_json(self, conn, hello(st));
  send_snapshot(self, conn);
}

void on_resume(dashboard_actor* self, const caf::actor& conn, uint64_t rev) {
  auto deltas = self->state.m.deltas_since(rev);
  if (!deltas) {
    send_snapshot(self, conn);
    return;
  }
  for (auto& d : *deltas)
    send_text(self, conn, *d);
}

bool token_matches(const std::string& expected, const std::string& given) {
  return !expected.empty() && expected.size() == given.size()
         && CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

void on_auth(dashboard_actor* self, conn_info& conn, const std::string& token) {
  auto& opts = self->state.view->opts();
  if (opts.token.empty()) {
    send_json(self, conn.handle,
              {{"type", "auth"}, {"ok", false},
               {"message", "this node was started without --dashboard-token: the dashboard "
                           "is read-only"}});
    return;
  }
  conn.authed = token_matches(opts.token, token);
  if (!conn.authed && ++conn.auth_failures >= opts.max_auth_failures) {
    self->send(conn.handle, uint16_t{ws_close::policy_violation},
               std::string{"too many wrong dashboard tokens"});
    return;
  }
  send_json(self, conn.handle,
            {{"type", "auth"}, {"ok", conn.authed},
             {"message", conn.authed ? "actions unlocked" : "wrong token"}});
}

void on_kill(dashboard_actor* self, const conn_info& conn, const std::string& actor) {
  auto reply_to = conn.handle;
  auto answer = [=](bool ok, const std::string& message) {
    send_json(self, reply_to,
              {{"type", "action"}, {"action", "kill"}, {"actor", actor}, {"ok", ok},
               {"message", message}});
  };
  if (!conn.authed) {
    answer(false, "actions need the dashboard token (send {\"type\":\"auth\"} first)");
    return;
  }
  self->state.log->info("dashboard: kill {} requested by a browser", actor);
  self->request(self->state.ctx->gateway, 5s, kill_atom_v, actor)
    .then(
      [=](const envelope& env) {
        auto report = unpack<v1::KillReport>(env);
        answer(true, report ? "killed " + actor + " on " + report->node_id()
                                + "; its supervisor restarts it"
                            : "kill sent");
      },
      [=](caf::error& err) { answer(false, describe(err)); });
}

void on_text(dashboard_actor* self, const caf::actor& conn, const std::string& text) {
  auto i = self->state.conns.find(conn.address());
  if (i == self->state.conns.end()) {
    // Opened before this incarnation started: adopt it.
    on_open(self, conn);
    i = self->state.conns.find(conn.address());
  }
  auto msg = parse_client_message(text);
  switch (msg.kind) {
    case client_message::resume:
      on_resume(self, conn, msg.rev);
      break;
    case client_message::auth:
      on_auth(self, i->second, msg.token);
      break;
    case client_message::kill:
      on_kill(self, i->second, msg.actor);
      break;
    default:
      send_json(self, conn, {{"type", "error"}, {"message", msg.error}});
  }
}

caf::behavior dashboard(dashboard_actor* self, node_context_ptr ctx, shared_view_ptr view) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.view = std::move(view);
  st.log = logger_for("dashboard");
  st.log->info("dashboard on http://{}/", st.ctx->self.admin_address);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    st.conns.erase(dm.source);
    st.view->clients = st.conns.size();
  });
  self->send(self, tick_atom_v);
  return {
    [=](tick_atom) { on_tick(self); },
    [=](ws_open_atom, const caf::actor& conn) { on_open(self, conn); },
    [=](ws_text_atom, const caf::actor& conn, const std::string& text) {
      on_text(self, conn, text);
    },
    [=](ws_resync_atom, const caf::actor& conn) {
      if (self->state.conns.count(conn.address()))
        send_snapshot(self, conn);
      else
        on_open(self, conn);
    },
  };
}

} // namespace

std::string name_for(const std::string& node_id) {
  return "dashboard/" + node_id;
}

child_spec actor_child(node_context_ptr ctx, shared_view_ptr view) {
  child_spec spec;
  spec.name = name_for(ctx->self.node_id);
  spec.type = "dashboard";
  spec.kind = child_kind::permanent;
  spec.mailbox_capacity = 0;
  spec.start = [ctx, view](caf::local_actor* sup, const child_context&) {
    return sup->spawn(dashboard, ctx, view);
  };
  return spec;
}

} // namespace troupe::dashboard
