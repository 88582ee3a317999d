// What every troupectl command shares: the global options, the command
// signature, and printing replies and failures.
#pragma once

#include "cli/client.hpp"
#include "cli/outcome.hpp"
#include "net/envelope.hpp"

#include <caf/actor.hpp>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace troupe::cli {

/// The options that apply to every command.
struct options {
  std::string endpoint;
  std::string output = "table";
  uint32_t timeout_ms = 0;
  // Transport (docs/security.md): all three TLS files, or insecure.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool insecure = false;

  bool json() const noexcept {
    return output == "json";
  }
};

/// A command runs once the endpoint's gateway is connected and returns the
/// exit code. Subcommand callbacks build one after validating arguments, so
/// bad input never reaches a node.
using command
    = std::function<int(client&, const caf::actor& gateway, const options&)>;

/// The subcommand the user chose: `online` needs the endpoint, `offline`
/// (troupectl types) runs without connecting.
struct chosen_command {
  command online;
  std::function<int()> offline;
};

/// Prints `f.message` to stderr as exactly one line (embedded line breaks
/// are folded into spaces) and returns `f.code`.
int fail(const failure& f);

/// Renders `env` as one line of protobuf JSON.
outcome<std::string> to_json_line(const envelope& env);

/// Prints `env` as one line of protobuf JSON on stdout.
int print_json(const envelope& env);

/// Prints a reply in the requested format; `table` renders the message.
template <class T>
int print_reply(const caf::expected<envelope>& reply, const options& opts,
                const std::function<std::string(const T&)>& table) {
  if (!reply)
    return fail({exit_failed, describe(reply.error())});
  if (opts.json())
    return print_json(*reply);
  auto msg = unpack<T>(*reply);
  if (!msg)
    return fail({exit_failed, "unexpected reply: " + describe(msg.error())});
  std::fputs(table(*msg).c_str(), stdout);
  return exit_ok;
}

} // namespace troupe::cli
