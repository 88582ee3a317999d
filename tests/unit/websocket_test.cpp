// Tests for net/websocket (codec and session) and net/websocket_handshake.
#include "net/websocket.hpp"
#include "net/websocket_handshake.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace troupe;

namespace {

struct decoded {
  std::vector<ws_event> events;
  ws_decode_status status;
};

// Decodes `input` in pieces of `piece` bytes (0: at once).
decoded decode(const std::string& input, size_t piece = 0, ws_limits limits = {}) {
  ws_decoder dec{limits};
  decoded d;
  if (piece == 0)
    piece = std::max<size_t>(input.size(), 1);
  for (size_t pos = 0; pos < input.size() && d.status.ok(); pos += piece)
    d.status = dec.feed(input.data() + pos, std::min(piece, input.size() - pos), d.events);
  return d;
}

// The close code for `input`, which must not depend on the split.
uint16_t code_of(const std::string& input, ws_limits limits = {}) {
  auto whole = decode(input, 0, limits);
  auto trickled = decode(input, 1, limits);
  CHECK(whole.status.close_code == trickled.status.close_code);
  CHECK(whole.events.size() == trickled.events.size());
  return whole.status.close_code;
}

std::string frame(ws_opcode op, std::string_view payload, bool fin = true, uint8_t rsv = 0) {
  std::string out;
  ws_encode_client_frame(op, payload, fin, 0x12345678u, out, rsv);
  return out;
}

std::string bytes(std::initializer_list<int> xs) {
  std::string out;
  for (auto x : xs)
    out.push_back(static_cast<char>(x));
  return out;
}

http_request upgrade_request(std::string key = "dGhlIHNhbXBsZSBub25jZQ==") {
  http_request req;
  req.method = "GET";
  req.target = req.path = "/ws";
  req.keep_alive = false;
  req.headers = {{"Host", "127.0.0.1:7480"},
                 {"Upgrade", "websocket"},
                 {"Connection", "keep-alive, Upgrade"},
                 {"Sec-WebSocket-Key", key},
                 {"Sec-WebSocket-Version", "13"}};
  return req;
}

} // namespace

TEST_CASE("websocket: accept key matches RFC 6455's example") {
  CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket: RFC 6455 5.7 examples decode") {
  // A single-frame masked text message "Hello".
  auto masked = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  auto d = decode(masked, 1);
  REQUIRE(d.status.ok());
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].kind == ws_event::text);
  CHECK(d.events[0].payload == "Hello");
  // The same message unmasked is refused from a client.
  CHECK(code_of(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) == ws_close::protocol_error);
  CHECK(decode(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})).status.reason
        == "client frame not masked");
}

TEST_CASE("websocket: fragments with an interleaved ping make one message") {
  auto input = frame(ws_opcode::text, "Hel", false) + frame(ws_opcode::ping, "p")
               + frame(ws_opcode::continuation, "lo", false)
               + frame(ws_opcode::continuation, " world", true);
  for (size_t piece : {0, 1, 3, 7}) {
    auto d = decode(input, piece);
    REQUIRE(d.status.ok());
    REQUIRE(d.events.size() == 2);
    CHECK(d.events[0].kind == ws_event::ping);
    CHECK(d.events[1].payload == "Hello world");
  }
}

TEST_CASE("websocket: framing violations close with 1002") {
  CHECK(code_of(frame(ws_opcode::text, "x", true, 4)) == ws_close::protocol_error);
  CHECK(code_of(bytes({0x83, 0x80, 0, 0, 0, 0})) == ws_close::protocol_error); // opcode 3
  CHECK(code_of(frame(ws_opcode::continuation, "x")) == ws_close::protocol_error);
  CHECK(code_of(frame(ws_opcode::text, "a", false) + frame(ws_opcode::text, "b"))
        == ws_close::protocol_error);
  CHECK(code_of(frame(ws_opcode::ping, "x", false)) == ws_close::protocol_error);
  CHECK(code_of(frame(ws_opcode::ping, std::string(126, 'x'))) == ws_close::protocol_error);
  CHECK(code_of(frame(ws_opcode::close, "x")) == ws_close::protocol_error); // 1-byte close
  CHECK(code_of(frame(ws_opcode::close, bytes({0x03, 0xEC}))) == ws_close::protocol_error); // 1004
  // A 64-bit length with the top bit set.
  CHECK(code_of(bytes({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}))
        == ws_close::protocol_error);
}

TEST_CASE("websocket: size limits close with 1009 before buffering") {
  ws_limits limits;
  limits.max_frame_bytes = 100;
  limits.max_message_bytes = 150;
  // Only the header of a too-large frame is needed to refuse it.
  std::string header = frame(ws_opcode::binary, std::string(101, 'x')).substr(0, 8);
  CHECK(code_of(header, limits) == ws_close::message_too_big);
  CHECK(code_of(frame(ws_opcode::binary, std::string(100, 'x')), limits) == 0);
  auto two = frame(ws_opcode::text, std::string(100, 'a'), false)
             + frame(ws_opcode::continuation, std::string(51, 'a'));
  CHECK(code_of(two, limits) == ws_close::message_too_big);
  // A huge declared length is refused without allocating it.
  CHECK(code_of(bytes({0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}))
        == ws_close::message_too_big);
}

TEST_CASE("websocket: text must be UTF-8, checked across fragments") {
  CHECK(code_of(frame(ws_opcode::text, "caf\xc3\xa9")) == 0);
  CHECK(code_of(frame(ws_opcode::text, "\xc3")) == ws_close::invalid_data);
  CHECK(code_of(frame(ws_opcode::text, "\xed\xa0\x80")) == ws_close::invalid_data); // surrogate
  CHECK(code_of(frame(ws_opcode::text, "\xc0\xaf")) == ws_close::invalid_data);     // overlong
  CHECK(code_of(frame(ws_opcode::text, "\xf4\x90\x80\x80")) == ws_close::invalid_data);
  // A character split between two fragments is fine; a bad byte in the
  // first fragment fails before the message ends.
  CHECK(code_of(frame(ws_opcode::text, "\xe2\x82", false)
                + frame(ws_opcode::continuation, "\xac"))
        == 0);
  auto d = decode(frame(ws_opcode::text, "ok\xff", false));
  CHECK(d.status.close_code == ws_close::invalid_data);
  // Binary messages are not checked.
  CHECK(code_of(frame(ws_opcode::binary, "\xff")) == 0);
  // Close reasons are.
  CHECK(code_of(frame(ws_opcode::close, bytes({0x03, 0xE8, 0xff}))) == ws_close::invalid_data);
}

TEST_CASE("websocket: the session answers pings and echoes close") {
  ws_session s;
  std::string out;
  std::vector<ws_event> msgs;
  auto in = frame(ws_opcode::ping, "hi") + frame(ws_opcode::text, "{}");
  s.on_input(in.data(), in.size(), out, msgs);
  REQUIRE(msgs.size() == 1);
  CHECK(out == bytes({0x8A, 0x02, 'h', 'i'}));
  out.clear();
  auto close = frame(ws_opcode::close, bytes({0x0B, 0xB9})); // 3001
  s.on_input(close.data(), close.size(), out, msgs);
  CHECK(out == bytes({0x88, 0x02, 0x0B, 0xB9}));
  CHECK(s.done());
  CHECK(s.close_code_sent() == 3001);
  // After closing nothing more is sent.
  out.clear();
  s.send_text("late", out);
  CHECK(out.empty());
}

TEST_CASE("websocket: the session closes with the decoder's code") {
  ws_session s;
  std::string out;
  std::vector<ws_event> msgs;
  auto in = bytes({0x81, 0x01, 'x'}); // unmasked
  s.on_input(in.data(), in.size(), out, msgs);
  CHECK(s.done());
  CHECK(s.close_code_sent() == ws_close::protocol_error);
  REQUIRE(out.size() > 4);
  CHECK(static_cast<unsigned char>(out[0]) == 0x88);
  CHECK(out.substr(4) == "client frame not masked");
}

TEST_CASE("websocket: close reasons are cut on a character boundary") {
  std::string reason(121, 'a');
  reason += "\xc3\xa9\xc3\xa9"; // 125 bytes
  std::string out;
  ws_encode_close(1000, reason, out);
  CHECK(out.size() == 2 + 2 + 123);
  utf8_validator v;
  CHECK(v.feed(out.substr(6)));
  CHECK(v.complete());
}

TEST_CASE("websocket: encoder uses 16- and 64-bit lengths") {
  std::string out;
  ws_encode_frame(ws_opcode::text, std::string(300, 'x'), true, out);
  CHECK(out.substr(0, 4) == bytes({0x81, 126, 0x01, 0x2C}));
  out.clear();
  ws_encode_frame(ws_opcode::binary, std::string(70000, 'x'), true, out);
  CHECK(out.substr(0, 10) == bytes({0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70}));
}

TEST_CASE("websocket: handshake answers") {
  auto ok = ws_handshake(upgrade_request(), nullptr);
  CHECK(ok.status == 101);
  auto render = render_response(ok, false, false);
  CHECK(render.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(render.find("Connection: Upgrade\r\n") != std::string::npos);
  CHECK(render.find("Content-Length") == std::string::npos);

  auto bad_key = upgrade_request("c2hvcnQ=");
  CHECK(ws_handshake(bad_key, nullptr).status == 400);
  auto v8 = upgrade_request();
  v8.headers[4].second = "8";
  auto res = ws_handshake(v8, nullptr);
  CHECK(res.status == 426);
  auto no_upgrade = upgrade_request();
  no_upgrade.headers[1].second = "h2c";
  CHECK(ws_handshake(no_upgrade, nullptr).status == 400);
}

TEST_CASE("websocket: cross-origin upgrades are refused unless allowed") {
  auto req = upgrade_request();
  req.headers.emplace_back("Origin", "http://evil.example");
  auto same_or_listed = [&](std::vector<std::string> allowed) {
    return [&req, allowed](const std::string& origin) {
      return ws_same_origin_or_listed(req, origin, allowed);
    };
  };
  CHECK(ws_handshake(req, same_or_listed({})).status == 403);
  CHECK(ws_handshake(req, same_or_listed({"http://evil.example"})).status == 101);
  CHECK(ws_handshake(req, same_or_listed({"*"})).status == 101);
  req.headers.back().second = "http://127.0.0.1:7480";
  CHECK(ws_handshake(req, same_or_listed({})).status == 101);
}

TEST_CASE("http: a 101 answer hands the connection over") {
  http_session session{http_limits{}, [](const http_request& req) {
                         return ws_handshake(req, nullptr);
                       }};
  std::string in = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n";
  std::vector<char> out;
  session.on_input(in.data(), in.size(), out);
  CHECK(session.done());
  REQUIRE(session.upgraded() != nullptr);
  CHECK(session.upgraded()->path == "/ws");
  CHECK(std::string(out.begin(), out.end()).rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  // A handler that answers 101 to a plain request gets a 500 instead.
  http_session wrong{http_limits{}, [](const http_request&) {
                       http_response r;
                       r.status = 101;
                       return r;
                     }};
  std::string plain = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  out.clear();
  wrong.on_input(plain.data(), plain.size(), out);
  CHECK(wrong.upgraded() == nullptr);
  CHECK(std::string(out.begin(), out.end()).rfind("HTTP/1.1 500", 0) == 0);
}
