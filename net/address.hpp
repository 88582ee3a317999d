// Network endpoints as users type them: `HOST:PORT`, `HOST`, `[v6]:PORT`.
#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// A host name or IP literal plus a TCP port. `host` never carries the
/// brackets of an IPv6 literal; `to_string` adds them back.
struct host_port {
  std::string host;
  uint16_t port = 0;

  /// Renders `host:port`, or `[host]:port` when host is an IPv6 literal.
  /// The result parses back to an equal value.
  std::string to_string() const;

  friend bool operator==(const host_port&, const host_port&) = default;
};

/// Whether an address may name port 0 ("any free port").
enum class port_zero { reject, allow };

/// Parses `HOST:PORT`, `HOST` (then the port is `default_port`),
/// `[v6]:PORT` or `[v6]`. Hosts are names or IPv4 literals made of
/// [A-Za-z0-9._-], or IPv6 literals in brackets. Ports are decimal, 1-65535;
/// port 0 is rejected unless `zero` is port_zero::allow, because a peer can
/// never connect to it. Surrounding whitespace is ignored. Does no DNS lookup.
/// Errors: errc::invalid_argument, e.g.
/// "bad address 'x:99999': port must be 1-65535".
caf::expected<host_port> parse_host_port(std::string_view text,
                                         uint16_t default_port,
                                         port_zero zero = port_zero::reject);

/// Parses a comma-separated list of addresses with `parse_host_port`.
/// An empty or all-blank string is the empty list; an empty item such as in
/// "a:1,,b:2" is an error. Order is kept and duplicates are not removed.
caf::expected<std::vector<host_port>>
parse_host_port_list(std::string_view comma_list, uint16_t default_port,
                     port_zero zero = port_zero::reject);

/// Whether `host` is a wildcard bind address (0.0.0.0 or ::), which peers
/// cannot connect to.
bool is_wildcard_host(std::string_view host);

} // namespace troupe
