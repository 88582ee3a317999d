#include "cli/edge_commands.hpp"

#include "cli/table.hpp"
#include "runtime/type_ids.hpp"

#include "troupe/cluster.pb.h"
#include "troupe/edge.pb.h"

#include <CLI/CLI.hpp>

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <memory>

namespace troupe::cli {

namespace {

struct edge_args {
  std::string node; // only this edge
  std::string url;
  std::string key;
  bool soft = false;
};

// Edge nodes asked at most; a bigger cluster is listed as not asked.
constexpr size_t max_edges = 256;

bool runs_edge(const v1::Member& m) {
  for (auto& r : m.info().roles())
    if (r == "edge" || r == "all")
      return true;
  return false;
}

// The edges to ask, or a failure when the member list is unavailable.
outcome<std::vector<std::string>> edge_nodes(client& c, const caf::actor& gw,
                                             const std::string& only) {
  auto reply = c.ask(gw, members_atom_v);
  if (!reply)
    return failure{exit_failed, "cannot list members: " + describe(reply.error())};
  auto list = unpack<v1::MemberList>(*reply);
  if (!list)
    return failure{exit_failed, "unexpected reply: " + describe(list.error())};
  std::vector<std::string> out;
  for (auto& m : list->members())
    if (runs_edge(m) && m.status() == v1::MEMBER_STATUS_UP
        && (only.empty() || m.info().node_id() == only) && out.size() < max_edges)
      out.push_back(m.info().node_id());
  if (out.empty())
    return failure{exit_failed, only.empty() ? "no edge node is up in the cluster"
                                             : "node " + only + " is not an edge node that is up"};
  return out;
}

struct edge_reply {
  std::string node;
  caf::expected<envelope> reply{caf::error{}};
};

std::vector<edge_reply> ask_edges(client& c, const caf::actor& gw,
                                  const std::vector<std::string>& nodes,
                                  const envelope& msg) {
  std::vector<edge_reply> out;
  for (auto& n : nodes)
    out.push_back({n, c.ask(gw, send_atom_v, "edge/" + n, msg)});
  return out;
}

std::string json_of(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s)
    out += (c == '"' || c == '\\') ? std::string{'\\', c} : std::string{c};
  return out + "\"";
}

// Prints the replies: one JSON line {"edges":[...],"errors":[...]} or a
// table built by `row`. Returns exit_failed if any edge failed.
template <class T, class Row>
int print_edges(const std::vector<edge_reply>& replies, const options& opts,
                std::vector<table_row> header, Row row) {
  std::string json_ok, json_err;
  auto rows = std::move(header);
  int code = exit_ok;
  for (auto& r : replies) {
    caf::expected<T> msg = r.reply ? unpack<T>(*r.reply) : caf::expected<T>{r.reply.error()};
    if (!msg) {
      code = exit_failed;
      auto why = describe(msg.error());
      json_err += (json_err.empty() ? "" : ",") + std::string{"{\"node_id\":"} + quote(r.node)
                  + ",\"error\":" + quote(why) + "}";
      std::fprintf(stderr, "troupectl: edge %s: %s\n", r.node.c_str(), why.c_str());
      continue;
    }
    json_ok += (json_ok.empty() ? "" : ",") + json_of(*msg);
    row(*msg, rows);
  }
  if (opts.json())
    std::printf("{\"edges\":[%s],\"errors\":[%s]}\n", json_ok.c_str(), json_err.c_str());
  else
    std::fputs(render_table(rows).c_str(), stdout);
  return code;
}

std::string fixed(double x, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

uint64_t req(const v1::EdgeStats& s, const char* k) {
  auto i = s.requests().find(k);
  return i == s.requests().end() ? 0 : i->second;
}

int cmd_stats(client& c, const caf::actor& gw, const options& opts, const edge_args& a) {
  auto nodes = edge_nodes(c, gw, a.node);
  if (!nodes)
    return fail(nodes.error());
  auto replies = ask_edges(c, gw, *nodes, *pack_message(v1::EdgeStatsRequest{}));
  return print_edges<v1::EdgeStats>(
    replies, opts,
    {{"NODE", "HTTP", "HIT", "STALE", "COLLAPSED", "MISS", "REVAL", "PASS", "SYNTH", "HIT%",
      "OBJECTS", "BYTES", "BODY_OUT", "429", "EVENTS_DROPPED"}},
    [](const v1::EdgeStats& s, std::vector<table_row>& rows) {
      rows.push_back({s.node_id(), s.http_address(), std::to_string(req(s, "hit")),
                      std::to_string(req(s, "stale")), std::to_string(req(s, "collapsed")),
                      std::to_string(req(s, "miss")), std::to_string(req(s, "revalidated")),
                      std::to_string(req(s, "pass")), std::to_string(req(s, "synthetic")),
                      fixed(100 * s.hit_ratio(), 1), std::to_string(s.cache_objects()),
                      std::to_string(s.cache_bytes()), std::to_string(s.response_body_bytes()),
                      std::to_string(s.rate_limited()), std::to_string(s.events_dropped())});
    });
}

int cmd_origins(client& c, const caf::actor& gw, const options& opts, const edge_args& a) {
  auto nodes = edge_nodes(c, gw, a.node);
  if (!nodes)
    return fail(nodes.error());
  auto replies = ask_edges(c, gw, *nodes, *pack_message(v1::EdgeOriginsRequest{}));
  return print_edges<v1::EdgeOrigins>(
    replies, opts,
    {{"NODE", "ORIGIN", "BREAKER", "EWMA_MS", "IN_FLIGHT", "REQUESTS", "FAILURES", "OPENED",
      "HEALTH"}},
    [](const v1::EdgeOrigins& s, std::vector<table_row>& rows) {
      if (s.origins().empty())
        rows.push_back({s.node_id(), "-", "-", "-", "-", "-", "-", "-", "no origin configured"});
      for (auto& o : s.origins())
        rows.push_back({s.node_id(), o.address(), o.breaker(), fixed(o.ewma_latency_ms(), 2),
                        std::to_string(o.in_flight()), std::to_string(o.requests()),
                        std::to_string(o.failures()), std::to_string(o.times_opened()),
                        o.health_ok() ? "ok" : "failing: " + o.health_error()});
    });
}

int cmd_purge(client& c, const caf::actor& gw, const options& opts, const edge_args& a) {
  auto nodes = edge_nodes(c, gw, a.node);
  if (!nodes)
    return fail(nodes.error());
  v1::EdgePurgeRequest msg;
  msg.set_url(a.url);
  msg.set_key(a.key);
  msg.set_soft(a.soft);
  auto replies = ask_edges(c, gw, *nodes, *pack_message(msg));
  return print_edges<v1::EdgePurgeReport>(
    replies, opts, {{"NODE", a.soft ? "MARKED_STALE" : "REMOVED"}},
    [](const v1::EdgePurgeReport& r, std::vector<table_row>& rows) {
      rows.push_back({r.node_id(), std::to_string(r.removed())});
    });
}

using edge_fn = int (*)(client&, const caf::actor&, const options&, const edge_args&);

void bind_edge_command(CLI::App* sub, chosen_command& chosen, const std::shared_ptr<edge_args>& args,
          edge_fn fn) {
  sub->add_option("--node", args->node, "only this edge node");
  sub->callback([&chosen, args, fn] {
    chosen.online = [args, fn](client& c, const caf::actor& gw, const options& opts) {
      return fn(c, gw, opts, *args);
    };
  });
}

} // namespace

void add_edge_commands(CLI::App& app, chosen_command& chosen) {
  auto args = std::make_shared<edge_args>();
  auto* edge = app.add_subcommand("edge", "the edge (HTTP cache) nodes");
  edge->require_subcommand(1);
  bind_edge_command(edge->add_subcommand("stats", "requests by cache status, hit ratio, L1 size"), chosen,
       args, cmd_stats);
  bind_edge_command(edge->add_subcommand("origins", "each edge's origins: breaker, latency, health"), chosen,
       args, cmd_origins);
  auto* purge = edge->add_subcommand("purge", "remove cached objects on every edge");
  auto* url = purge->add_option("--url", args->url, "every variant of http://HOST/PATH?QUERY "
                                                    "(HOST as clients send it)");
  auto* key = purge->add_option("--key", args->key, "every object tagged with this "
                                                    "Surrogate-Key");
  url->excludes(key);
  purge->add_flag("--soft", args->soft, "mark stale instead of removing (stale-if-error "
                                        "still serves them)");
  purge->final_callback([args] {
    if (args->url.empty() && args->key.empty())
      throw CLI::ValidationError("edge purge needs --url URL or --key KEY");
    if (!args->url.empty() && args->url.find("://") == std::string::npos)
      throw CLI::ValidationError("--url must look like http://HOST/PATH");
  });
  bind_edge_command(purge, chosen, args, cmd_purge);
}

} // namespace troupe::cli
