#include "cli/control_commands.hpp"

#include "cli/kv_command_support.hpp"
#include "cli/member_target.hpp"
#include "cli/table.hpp"
#include "runtime/journal.hpp"
#include "runtime/member_status.hpp"
#include "runtime/system_keyspace.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/control.pb.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <thread>

namespace troupe::cli {

using namespace std::chrono_literals;

// -- the controller on the Raft leader ----------------------------------------

namespace {

// The leader hint in a controller's answer, "" if it answered as leader.
std::string redirect_of(const envelope& env) {
  if (auto r = unpack<v1::ControlReply>(env); r && !r->ok() && !r->leader_node().empty())
    return r->leader_node();
  if (auto s = unpack<v1::ControlStatus>(env); s && !s->leader())
    return s->leader_node();
  if (auto a = unpack<v1::HeartbeatAck>(env); a && !a.value().accepted())
    return a->leader_node();
  return {};
}

} // namespace

outcome<envelope> ask_controller(client& c, const caf::actor& gw, const options& opts,
                                 const envelope& msg) {
  auto target = reach_members(c, gw, opts);
  if (!target)
    return target.error();
  std::vector<std::string> nodes{target->endpoint_node};
  if (auto list = c.ask(gw, members_atom_v))
    if (auto members = unpack<v1::MemberList>(*list))
      for (auto& m : members->members())
        if (hosts_consensus(m.info()) && m.info().node_id() != target->endpoint_node)
          nodes.push_back(m.info().node_id());
  auto deadline = std::chrono::steady_clock::now() + target->policy.timeout;
  std::string last = "no consensus member answered";
  for (std::size_t i = 0, hops = 0; i < nodes.size() && hops < 16; ++hops) {
    if (std::chrono::steady_clock::now() >= deadline)
      break;
    auto reply = target->env.ask("control/" + nodes[i], msg, 2s);
    if (!reply) {
      last = "control/" + nodes[i] + ": " + describe(reply.error());
      ++i;
      continue;
    }
    auto leader = redirect_of(*reply);
    if (leader.empty()) {
      if (auto s = unpack<v1::ControlStatus>(*reply); s && !s->leader()) {
        last = "no Raft leader known yet";
        std::this_thread::sleep_for(200ms);
        continue;
      }
      return *reply;
    }
    if (leader == nodes[i]) {
      std::this_thread::sleep_for(100ms); // it leads but has not loaded yet
      continue;
    }
    nodes.insert(nodes.begin() + static_cast<std::ptrdiff_t>(i) + 1, leader);
    ++i;
  }
  return failure{exit_failed, "cannot reach the controller on the Raft leader: " + last};
}

namespace {

using namespace std::chrono_literals;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// -- troupectl place / placements ----------------------------------------------

struct place_args {
  std::string name, type, role;
  std::vector<std::string> apart_from;
  bool remove = false;
};

int run_place(client& c, const caf::actor& gw, const options& opts, const place_args& a) {
  v1::PlaceRequest req;
  req.mutable_spec()->set_name(a.name);
  req.mutable_spec()->set_type(a.type);
  req.mutable_spec()->set_role(a.role);
  for (auto& partner : a.apart_from)
    req.mutable_spec()->add_apart_from(partner);
  req.set_remove(a.remove);
  auto reply = ask_controller(c, gw, opts, pack(req));
  if (!reply)
    return fail(reply.error());
  auto r = unpack<v1::ControlReply>(*reply);
  if (!r)
    return fail({exit_failed, "unexpected reply: " + describe(r.error())});
  if (!r->ok())
    return fail({exit_failed, r->error()});
  if (opts.json())
    return print_json(*reply);
  std::printf("OK: %s %s (troupectl placements shows where it runs)\n", a.name.c_str(),
              a.remove ? "removed" : "placed");
  return exit_ok;
}

std::string render_placements(const v1::ControlStatus& s) {
  std::vector<table_row> members{{"NODE", "STATUS", "INCARNATION", "REASON"}};
  for (auto& m : s.members())
    members.push_back({m.info().node_id(), member_status_name(m.status()),
                       std::to_string(m.info().incarnation()), m.reason()});
  std::vector<table_row> placed{{"NAME", "TYPE", "NODE", "EPOCH", "REASON"}};
  for (auto& p : s.placements())
    placed.push_back({p.spec().name(), p.spec().type(),
                      p.node_id().empty() ? "-" : p.node_id(), std::to_string(p.epoch()),
                      p.reason()});
  return "controller: control/" + s.leader_node() + "\n\n" + render_table(members) + "\n"
         + render_table(placed);
}

int run_placements(client& c, const caf::actor& gw, const options& opts) {
  auto reply = ask_controller(c, gw, opts, pack(v1::ControlStatusRequest{}));
  if (!reply)
    return fail(reply.error());
  return print_reply<v1::ControlStatus>(*reply, opts, render_placements);
}

// -- troupectl events -----------------------------------------------------------

struct events_args {
  std::string since;
  bool follow = false;
  std::uint32_t limit = 1000;
};

// Prints the entries from `seq` on (and at or after since_ms); returns the
// next seq to read, or a failure.
outcome<std::uint64_t> print_events(client& c, const caf::actor& gw, const options& opts,
                                    std::uint64_t seq, std::int64_t since_ms,
                                    std::uint32_t limit) {
  v1::KvRequest req;
  auto* range = req.mutable_range();
  range->set_key(journal::key_for(seq));
  std::string end{journal::prefix};
  end.back() = static_cast<char>(end.back() + 1);
  range->set_range_end(end);
  range->set_limit(limit);
  auto reply = execute_kv(c, gw, opts, req);
  if (!reply)
    return reply.error();
  for (auto& kv : reply->range().kvs()) {
    auto e = journal::from_json(kv.value());
    if (!e)
      continue;
    seq = e->seq + 1;
    if (e->time_ms < since_ms)
      continue;
    std::printf("%s\n", opts.json() ? kv.value().c_str() : journal::render(*e).c_str());
  }
  std::fflush(stdout);
  return seq;
}

int run_events(client& c, const caf::actor& gw, const options& opts, const events_args& a) {
  std::uint64_t seq = 0;
  std::int64_t since_ms = 0;
  if (!a.since.empty() && !parse_since(a.since, now_ms(), seq, since_ms))
    return fail({exit_usage, "--since " + a.since
                               + ": expected a journal seq (#12) or a duration (30s, 10m, 2h)"});
  for (;;) {
    auto next = print_events(c, gw, opts, seq, since_ms, a.limit);
    if (!next)
      return fail(next.error());
    if (!a.follow)
      return exit_ok;
    seq = *next;
    std::this_thread::sleep_for(500ms);
  }
}

} // namespace

bool parse_since(const std::string& text, std::int64_t now, std::uint64_t& seq,
                 std::int64_t& since_ms) {
  if (text.empty())
    return false;
  auto digits = text[0] == '#' ? text.substr(1) : text;
  std::size_t used = 0;
  std::uint64_t n = 0;
  try {
    n = std::stoull(digits, &used);
  } catch (const std::exception&) {
    return false;
  }
  auto unit = digits.substr(used);
  if (unit.empty()) {
    seq = n;
    return true;
  }
  if (text[0] == '#')
    return false;
  std::int64_t scale = unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
  if (scale == 0 || n > 100'000'000)
    return false;
  since_ms = now - static_cast<std::int64_t>(n) * scale;
  return true;
}

void add_control_commands(CLI::App& app, chosen_command& chosen) {
  auto ev = std::make_shared<events_args>();
  auto* events = app.add_subcommand(
    "events", "the decision journal: suspicions, downings, rejoins, placements, "
              "restarts, escalations, faults, with reasons");
  events->add_option("--since", ev->since, "from journal seq #N, or the last 30s/10m/2h");
  events->add_flag("-f,--follow", ev->follow, "keep printing new entries (Ctrl-C stops)");
  events->add_option("--limit", ev->limit, "entries per read (default 1000)")
    ->check(CLI::Range(1u, 10000u));
  events->callback([&chosen, ev] {
    chosen.online = [ev](client& c, const caf::actor& gw, const options& o) {
      return run_events(c, gw, o, *ev);
    };
  });
  auto pa = std::make_shared<place_args>();
  auto* place = app.add_subcommand(
    "place", "keep one live copy of actor NAME in the cluster (a singleton), placed and "
             "failed over by the control plane");
  place->add_option("NAME", pa->name, "its logical name, e.g. singleton/ticker")->required();
  place->add_option("--type", pa->type, "a placeable type (built in: probe)");
  place->add_option("--role", pa->role, "only on nodes with this role");
  place->add_option("--apart-from", pa->apart_from,
                    "never on the node of this placement, and in another zone while one "
                    "can host it (repeatable, at most 8)");
  place->add_flag("--remove", pa->remove, "stop it and forget the placement");
  place->callback([&chosen, pa] {
    if (!pa->remove && pa->type.empty())
      throw CLI::ValidationError("--type", "required unless --remove");
    chosen.online = [pa](client& c, const caf::actor& gw, const options& o) {
      return run_place(c, gw, o, *pa);
    };
  });
  app.add_subcommand("placements", "the committed members and placements, from the "
                                   "controller on the Raft leader")
    ->callback([&chosen] { chosen.online = run_placements; });
}

} // namespace troupe::cli
