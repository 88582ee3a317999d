#include "actors/edge/http_wire.hpp"

#include <algorithm>
#include <array>

namespace troupe::edge {

namespace {

constexpr std::array<std::string_view, 8> hop_by_hop{
  "connection", "keep-alive",        "proxy-connection", "te",
  "trailer",    "transfer-encoding", "upgrade",          "content-length"};

bool is_hop_by_hop(std::string_view name) {
  return std::any_of(hop_by_hop.begin(), hop_by_hop.end(),
                     [&](std::string_view h) { return cache::iequals(h, name); });
}

// The field names listed in every Connection field (RFC 9110 7.6.1).
std::vector<std::string> connection_options(const cache::header_list& headers) {
  std::vector<std::string> out;
  for (const auto& [name, value] : headers) {
    if (!cache::iequals(name, "connection"))
      continue;
    std::string_view rest = value;
    while (!rest.empty() && out.size() < 64) {
      auto comma = std::min(rest.find(','), rest.size());
      auto item = rest.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
        item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
        item.remove_suffix(1);
      if (!item.empty())
        out.emplace_back(item);
      rest = comma < rest.size() ? rest.substr(comma + 1) : std::string_view{};
    }
  }
  return out;
}

bool safe_value(std::string_view text) {
  return text.find_first_of(std::string_view{"\r\n\0", 3})
         == std::string_view::npos;
}

void append_field(std::string& out, std::string_view name,
                  std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

// The authority of an absolute-form target "http://host:port/path".
std::string authority_of(std::string_view target) {
  auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos)
    return {};
  auto rest = target.substr(scheme_end + 3);
  return std::string{rest.substr(0, rest.find_first_of("/?#"))};
}

} // namespace

void strip_hop_by_hop(cache::header_list& headers) {
  auto named = connection_options(headers);
  std::erase_if(headers, [&](const auto& field) {
    if (is_hop_by_hop(field.first))
      return true;
    return std::any_of(named.begin(), named.end(), [&](const std::string& n) {
      return cache::iequals(n, field.first);
    });
  });
}

cache::request to_cache_request(const http_request& req) {
  cache::request out;
  out.method = req.method;
  auto authority = authority_of(req.target);
  if (const auto* host = req.header("host"); authority.empty() && host)
    out.host = *host;
  else
    out.host = std::move(authority);
  out.target = req.query.empty() ? req.path : req.path + "?" + req.query;
  out.headers = req.headers;
  strip_hop_by_hop(out.headers);
  return out;
}

void add_forwarding(cache::header_list& headers, std::string_view client_ip,
                    std::string_view via_name) {
  auto via = std::string{"1.1 "} + std::string{via_name};
  if (auto old = cache::joined_header(headers, "via"))
    via = *old + ", " + via;
  cache::set_header(headers, "Via", via);
  std::string xff{client_ip};
  if (auto old = cache::joined_header(headers, "x-forwarded-for"))
    xff = *old + ", " + xff;
  cache::set_header(headers, "X-Forwarded-For", xff);
}

std::string render_origin_request(const cache::request& req,
                                  std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  if (!cache::has_header(req.headers, "host"))
    append_field(out, "Host", req.host);
  for (const auto& [name, value] : req.headers)
    if (!is_hop_by_hop(name) && safe_value(name) && safe_value(value))
      append_field(out, name, value);
  bool carries_body = !body.empty() || req.method == "POST"
                      || req.method == "PUT" || req.method == "PATCH";
  if (carries_body)
    append_field(out, "Content-Length", std::to_string(body.size()));
  out.append("Connection: keep-alive\r\n\r\n");
  out.append(body);
  return out;
}

bool bodyless_status(int status) {
  return status < 200 || status == 204 || status == 304;
}

std::string render_client_head(const cache::response& res, size_t body_size,
                               bool keep_alive, std::string_view via_name,
                               bool keep_content_length) {
  auto status = res.status >= 100 && res.status <= 999 ? res.status : 502;
  std::string out;
  out.reserve(320);
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out.append(reason_phrase(status)).append("\r\n");
  bool length_done = false;
  for (const auto& [name, value] : res.headers) {
    if (cache::iequals(name, "content-length")) {
      if (keep_content_length && !length_done && safe_value(value)) {
        append_field(out, "Content-Length", value);
        length_done = true;
      }
      continue;
    }
    if (cache::iequals(name, "transfer-encoding")
        || cache::iequals(name, "connection") || !safe_value(name)
        || !safe_value(value))
      continue;
    append_field(out, name, value);
  }
  if (!bodyless_status(status) && !length_done)
    append_field(out, "Content-Length", std::to_string(body_size));
  append_field(out, "Via", std::string{"1.1 "} + std::string{via_name});
  append_field(out, "Connection", keep_alive ? "keep-alive" : "close");
  out.append("\r\n");
  return out;
}

bool idempotent_method(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS"
         || method == "PUT" || method == "DELETE" || method == "TRACE";
}

cache::response simple_response(int status, std::string_view text) {
  cache::response res;
  res.status = status;
  res.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  res.body = std::make_shared<const std::string>(std::string{text} + "\n");
  return res;
}

} // namespace troupe::edge
