// The dashboard's admin-port routes. Handlers run on the middleman's I/O
// thread: they read the shared view and never ask the actor.
#include "actors/dashboard/dashboard.hpp"
#include "actors/dashboard/parts.hpp"

#include "net/websocket_handshake.hpp"
#include "runtime/type_ids.hpp"

#include <caf/send.hpp>

namespace troupe::dashboard {

namespace {

using nlohmann::json;

http_response json_response(const json& body, int status = 200) {
  http_response res;
  res.status = status;
  res.content_type = "application/json";
  res.body = body.dump() + "\n";
  res.headers.emplace_back("Cache-Control", "no-store");
  return res;
}

http_response not_found(const std::string& what) {
  return json_response({{"error", what + " not found"},
                        {"endpoints",
                         {"/api/cluster", "/api/nodes/<id>", "/api/actors", "/api/actors/<node>",
                          "/api/raft", "/api/journal", "/api/metrics", "/api/snapshot"}}},
                       404);
}

json section(const json& state, const char* key) {
  auto i = state.find(key);
  return i == state.end() ? json::object() : *i;
}

http_response api(const shared_view& view, const http_request& req) {
  auto state = view.state();
  auto& s = *state;
  auto rest = std::string_view{req.path}.substr(5); // after "/api/"
  auto rev = s.value("rev", uint64_t{0});
  if (rest == "cluster")
    return json_response({{"rev", rev},
                          {"node", view.opts().node_id},
                          {"nodes", section(s, "nodes")},
                          {"raft_leader", section(s, "raft").value("leader", std::string{})}});
  if (rest == "actors")
    return json_response({{"rev", rev}, {"actors", section(s, "actors")}});
  if (rest == "raft" || rest == "journal" || rest == "metrics")
    return json_response({{"rev", rev}, {std::string{rest}, section(s, std::string{rest}.c_str())}});
  if (rest == "snapshot")
    return json_response(s);
  for (auto prefix : {std::string_view{"nodes/"}, std::string_view{"actors/"}}) {
    if (rest.rfind(prefix, 0) != 0)
      continue;
    auto id = std::string{rest.substr(prefix.size())};
    auto nodes = section(s, "nodes");
    if (!nodes.contains(id))
      return not_found("node '" + id + "'");
    auto actors = section(s, "actors");
    json body = {{"rev", rev}, {"actors", actors.contains(id) ? actors[id] : json::object()}};
    if (prefix == "nodes/")
      body["node"] = nodes[id];
    return json_response(body);
  }
  return not_found("endpoint " + req.path);
}

http_response serve_asset(std::string_view name) {
  auto a = find_asset(name);
  http_response res;
  if (a.content.empty()) {
    res.status = 404;
    res.body = "no such dashboard asset: " + std::string{name} + "\n";
    return res;
  }
  res.content_type = std::string{a.content_type};
  res.body = std::string{a.content};
  // The page is built into the binary: nothing to fetch from elsewhere.
  // Inline style attributes (indentation, legend colours) are allowed;
  // inline script is not.
  res.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                           "style-src 'self' 'unsafe-inline'");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return res;
}

bool read_only_method(const http_request& req) {
  return req.method == "GET" || req.method == "HEAD";
}

http_response method_not_allowed() {
  http_response res;
  res.status = 405;
  res.body = "the dashboard's HTTP endpoints are read-only: use GET\n";
  res.headers.emplace_back("Allow", "GET, HEAD");
  return res;
}

// The actor's current incarnation, looked up on every event.
caf::actor current_actor(const node_context& ctx) {
  auto entry = ctx.table->find(name_for(ctx.self.node_id));
  return entry ? entry->handle : caf::actor{};
}

ws_callbacks callbacks(node_context_ptr ctx, shared_view_ptr view) {
  ws_callbacks cb;
  cb.on_open = [ctx](const caf::actor& conn, const http_request&) {
    if (auto a = current_actor(*ctx))
      caf::anon_send(a, ws_open_atom_v, conn);
    else
      caf::anon_send(conn, uint16_t{ws_close::internal_error},
                     std::string{"the dashboard actor is restarting; reconnect"});
  };
  cb.on_text = [ctx](const caf::actor& conn, std::string text) {
    if (auto a = current_actor(*ctx))
      caf::anon_send(a, ws_text_atom_v, conn, std::move(text));
  };
  cb.on_resync = [ctx](const caf::actor& conn) {
    if (auto a = current_actor(*ctx))
      caf::anon_send(a, ws_resync_atom_v, conn);
  };
  cb.on_close = [](const caf::actor&, uint16_t) {};
  (void) view;
  return cb;
}

http_response handshake(const shared_view& view, const http_request& req) {
  if (view.clients >= view.opts().max_clients) {
    http_response res;
    res.status = 503;
    res.body = "too many dashboard connections (" + std::to_string(view.opts().max_clients)
               + "); close another tab\n";
    return res;
  }
  auto allowed = view.opts().allow_origins;
  return ws_handshake(req, [&req, allowed](const std::string& origin) {
    return ws_same_origin_or_listed(req, origin, allowed);
  });
}

} // namespace

std::vector<admin_route> routes(node_context_ptr ctx, shared_view_ptr view) {
  std::vector<admin_route> out;
  out.push_back({"/ws", [view](const http_request& req) { return handshake(*view, req); },
                 ws_upgrade_handler(view->opts().ws, callbacks(ctx, view), view->ws_stats)});
  out.push_back({"/api/", [view](const http_request& req) {
                   return read_only_method(req) ? api(*view, req) : method_not_allowed();
                 },
                 nullptr});
  out.push_back({"/assets/", [](const http_request& req) {
                   return read_only_method(req) ? serve_asset(req.path.substr(8))
                                                : method_not_allowed();
                 },
                 nullptr});
  out.push_back({"/", [](const http_request& req) {
                   return read_only_method(req) ? serve_asset("index.html") : method_not_allowed();
                 },
                 nullptr});
  return out;
}

} // namespace troupe::dashboard
