#include "net/websocket_handshake.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace troupe {

namespace {

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos)
    return {};
  auto e = s.find_last_not_of(" \t");
  return std::string{s.substr(b, e - b + 1)};
}

// Whether the comma-separated header value holds `token` (case-insensitive).
bool has_token(const std::string* value, std::string_view token) {
  if (!value)
    return false;
  std::string_view rest{*value};
  while (!rest.empty()) {
    auto comma = rest.find(',');
    if (lower(trim(rest.substr(0, comma))) == token)
      return true;
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 6455 4.2.1: the key is a base64-encoded 16-byte value (24 characters).
bool valid_key(const std::string& key) {
  if (key.size() != 24 || key.substr(22) != "==")
    return false;
  unsigned char decoded[18];
  auto n = EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(key.data()),
                           static_cast<int>(key.size()));
  return n == 18; // EVP_DecodeBlock counts the padding as zero bytes
}

http_response refuse(int status, std::string why) {
  http_response res;
  res.status = status;
  res.body = std::move(why) + "\n";
  return res;
}

} // namespace

std::string ws_accept_key(std::string_view client_key) {
  std::string input{client_key};
  input.append(ws_guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  auto n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string{reinterpret_cast<char*>(encoded), static_cast<size_t>(n)};
}

bool ws_same_origin_or_listed(const http_request& req, const std::string& origin,
                              const std::vector<std::string>& allowed) {
  for (auto& a : allowed)
    if (a == "*" || a == origin)
      return true;
  auto host = req.header("Host");
  return host && lower(origin) == "http://" + lower(*host);
}

http_response ws_handshake(const http_request& req, const ws_origin_policy& allow_origin) {
  if (req.method != "GET")
    return refuse(400, "a WebSocket upgrade must be a GET request");
  if (!has_token(req.header("Upgrade"), "websocket"))
    return refuse(400, "this endpoint speaks WebSocket only: send Upgrade: websocket");
  if (!has_token(req.header("Connection"), "upgrade"))
    return refuse(400, "a WebSocket upgrade needs Connection: Upgrade");
  auto version = req.header("Sec-WebSocket-Version");
  if (!version || trim(*version) != "13") {
    auto res = refuse(426, "only WebSocket version 13 (RFC 6455) is supported");
    res.headers.emplace_back("Sec-WebSocket-Version", "13");
    return res;
  }
  auto key = req.header("Sec-WebSocket-Key");
  if (!key || !valid_key(trim(*key)))
    return refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  if (auto origin = req.header("Origin"); origin && !(allow_origin && allow_origin(*origin)))
    return refuse(403, "cross-origin WebSocket from " + *origin
                         + " refused; start the node with --dashboard-allow-origin "
                         + *origin + " to allow it");
  http_response res;
  res.status = 101;
  res.content_type.clear();
  res.headers.emplace_back("Upgrade", "websocket");
  res.headers.emplace_back("Sec-WebSocket-Accept", ws_accept_key(trim(*key)));
  return res;
}

} // namespace troupe
