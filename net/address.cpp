#include "net/address.hpp"

#include "net/errors.hpp"

#include <algorithm>
#include <charconv>

namespace troupe {

namespace {

// RFC 1035 caps a full domain name at 253 characters; IPv6 literals with a
// zone id are shorter still, so one limit covers both.
constexpr size_t max_host_length = 253;

std::string_view trim(std::string_view x) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!x.empty() && blank(x.front()))
    x.remove_prefix(1);
  while (!x.empty() && blank(x.back()))
    x.remove_suffix(1);
  return x;
}

caf::error bad_address(std::string_view text, std::string_view why) {
  std::string msg = "bad address '";
  msg.append(text).append("': ").append(why);
  return make_error(errc::invalid_argument, std::move(msg));
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool is_v6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// Names and IPv4 literals. We do not check label syntax further: the
// resolver gives a clearer answer than we could, and at connect time.
bool valid_name_host(std::string_view host) {
  return std::all_of(host.begin(), host.end(), is_name_char);
}

// An IPv6 literal, optionally with a zone id ("fe80::1%eth0").
bool valid_v6_host(std::string_view host) {
  auto zone = host.find('%');
  auto addr = host.substr(0, zone);
  if (addr.find(':') == std::string_view::npos
      || !std::all_of(addr.begin(), addr.end(), is_v6_char))
    return false;
  if (zone == std::string_view::npos)
    return true;
  auto id = host.substr(zone + 1);
  return !id.empty() && valid_name_host(id);
}

// Returns an empty string on success, else the reason.
std::string parse_port(std::string_view text, port_zero zero, uint16_t& out) {
  if (text.empty())
    return "missing port after ':'";
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return "port '" + std::string{text} + "' is not a number";
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value);
  auto lowest = zero == port_zero::allow ? 0ul : 1ul;
  if (ec != std::errc{} || value < lowest || value > 65535)
    return zero == port_zero::allow ? "port must be 0-65535"
                                    : "port must be 1-65535";
  out = static_cast<uint16_t>(value);
  return {};
}

struct split_address {
  std::string_view host;
  std::string_view port; // empty when no ':' was given
  bool has_port = false;
  bool bracketed = false;
  std::string problem;
};

split_address split_bracketed(std::string_view text) {
  split_address out;
  out.bracketed = true;
  auto close = text.find(']');
  if (close == std::string_view::npos) {
    out.problem = "missing ']' after IPv6 address";
    return out;
  }
  out.host = text.substr(1, close - 1);
  auto rest = text.substr(close + 1);
  if (rest.empty())
    return out;
  if (rest.front() != ':') {
    out.problem = "expected ':' after ']'";
    return out;
  }
  out.has_port = true;
  out.port = rest.substr(1);
  return out;
}

split_address split(std::string_view text) {
  if (!text.empty() && text.front() == '[')
    return split_bracketed(text);
  split_address out;
  auto colons = std::count(text.begin(), text.end(), ':');
  if (colons > 1) {
    out.problem = "IPv6 addresses need brackets, e.g. '[::1]:7400'";
    return out;
  }
  auto colon = text.find(':');
  out.host = text.substr(0, colon);
  if (colon != std::string_view::npos) {
    out.has_port = true;
    out.port = text.substr(colon + 1);
  }
  return out;
}

std::string check_host(const split_address& parts) {
  if (parts.host.empty())
    return "missing host";
  if (parts.host.size() > max_host_length)
    return "host is longer than 253 characters";
  if (parts.bracketed ? !valid_v6_host(parts.host)
                      : !valid_name_host(parts.host))
    return parts.bracketed ? "not an IPv6 address inside '[...]'"
                           : "host may only contain letters, digits, '.', "
                             "'-' and '_'";
  return {};
}

} // namespace

std::string host_port::to_string() const {
  auto port_text = std::to_string(port);
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

caf::expected<host_port> parse_host_port(std::string_view text,
                                         uint16_t default_port,
                                         port_zero zero) {
  auto trimmed = trim(text);
  auto parts = split(trimmed);
  if (parts.problem.empty())
    parts.problem = check_host(parts);
  if (!parts.problem.empty())
    return bad_address(trimmed, parts.problem);
  host_port result{std::string{parts.host}, default_port};
  if (parts.has_port) {
    if (auto why = parse_port(parts.port, zero, result.port); !why.empty())
      return bad_address(trimmed, why);
  } else if (default_port == 0 && zero == port_zero::reject) {
    return bad_address(trimmed, "missing port (expected HOST:PORT)");
  }
  return result;
}

caf::expected<std::vector<host_port>>
parse_host_port_list(std::string_view comma_list, uint16_t default_port,
                     port_zero zero) {
  std::vector<host_port> result;
  if (trim(comma_list).empty())
    return result;
  auto rest = comma_list;
  for (;;) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    if (item.empty())
      return make_error(errc::invalid_argument,
                        "bad address list '" + std::string{comma_list}
                          + "': empty item");
    auto parsed = parse_host_port(item, default_port, zero);
    if (!parsed)
      return std::move(parsed.error());
    result.push_back(std::move(*parsed));
    if (comma == std::string_view::npos)
      return result;
    rest.remove_prefix(comma + 1);
  }
}

bool is_wildcard_host(std::string_view host) {
  return host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0";
}

} // namespace troupe
