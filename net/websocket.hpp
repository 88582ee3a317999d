// WebSocket (RFC 6455) framing for troupe's admin port, without any I/O: a
// streaming UTF-8 validator, an incremental frame decoder, frame encoders,
// and ws_session, the protocol logic of one server-side connection (pings
// answered, the close handshake, limits). net/websocket_handshake.hpp does
// the HTTP upgrade; net/websocket_server.hpp runs a session in a CAF broker.
// docs/websocket.md explains the decisions, limits and close codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

/// Close codes (RFC 6455 section 7.4.1) that troupe sends or checks.
namespace ws_close {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t going_away = 1001;
/// A frame broke the framing rules: unmasked client frame, reserved bits,
/// unknown opcode, bad continuation, fragmented or long control frame.
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
/// Received close frame without a code (never sent on the wire).
inline constexpr uint16_t no_status = 1005;
/// Connection lost without a close frame (never sent on the wire).
inline constexpr uint16_t abnormal = 1006;
/// A text message (or close reason) that is not UTF-8.
inline constexpr uint16_t invalid_data = 1007;
/// The peer broke an application rule, e.g. it reads too slowly.
inline constexpr uint16_t policy_violation = 1008;
/// A frame or message larger than the configured maximum.
inline constexpr uint16_t message_too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
} // namespace ws_close

/// Whether `code` may appear in a close frame on the wire (1000-1003,
/// 1007-1011, 3000-4999).
bool ws_valid_close_code(uint16_t code);

/// Bounds on what one peer can make the server hold.
struct ws_limits {
  /// Payload bytes of one data frame. Exceeding it: close 1009, detected
  /// from the frame header before any payload is buffered.
  size_t max_frame_bytes = 64 * 1024;
  /// Payload bytes of one message, summed over its fragments. Exceeding
  /// it: close 1009.
  size_t max_message_bytes = 256 * 1024;
};

enum class ws_opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// A streaming UTF-8 validator (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF). Bytes may be split anywhere.
class utf8_validator {
public:
  /// Checks the next bytes. Returns false as soon as they cannot be part of
  /// valid UTF-8; stays false afterwards.
  bool feed(std::string_view bytes);

  /// Whether the input so far ends on a character boundary (and is valid).
  bool complete() const {
    return ok_ && need_ == 0;
  }

  void reset() {
    *this = utf8_validator{};
  }

private:
  bool ok_ = true;
  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lower_ = 0x80; // bounds for the next continuation byte
  uint8_t upper_ = 0xBF;
};

/// One complete message or control frame from the peer.
struct ws_event {
  enum kind_t { text, binary, ping, pong, close };
  kind_t kind = text;
  /// The (unmasked, defragmented) payload; for close, the reason.
  std::string payload;
  /// For close: the code received, ws_close::no_status if none.
  uint16_t close_code = 0;
};

/// Why the decoder stopped: 0 while fine, else the close code to send.
struct ws_decode_status {
  uint16_t close_code = 0;
  /// One line for logs and the close frame's reason, e.g. "client frame
  /// not masked".
  std::string reason;

  bool ok() const {
    return close_code == 0;
  }
};

/// An incremental decoder of client-to-server frames. Enforces masking (if
/// required), the reserved bits and opcodes, continuation rules, control
/// frame rules, the limits, UTF-8 of text messages (checked as bytes
/// arrive, so a bad byte fails the message at once) and of close reasons.
/// The outcome does not depend on how the input is split.
class ws_decoder {
public:
  explicit ws_decoder(ws_limits limits = {}, bool require_mask = true);

  /// Consumes bytes, appending each complete message or control frame to
  /// `out`. Returns an error as soon as the input breaks a rule; events
  /// completed before it are in `out`. After an error or a close frame,
  /// further input is ignored (the status is returned again).
  ws_decode_status feed(const char* data, size_t size, std::vector<ws_event>& out);

  /// Whether a close frame was received or an error occurred.
  bool done() const {
    return done_;
  }

private:
  bool parse_header();
  void consume_payload(const char*& data, size_t& size, std::vector<ws_event>& out);
  void finish_frame(std::vector<ws_event>& out);
  void finish_control(std::vector<ws_event>& out);
  void fail(uint16_t code, std::string reason);

  ws_limits limits_;
  bool require_mask_;
  ws_decode_status status_;
  bool done_ = false;
  // The frame being read.
  std::string header_; // bytes of the current header (at most 14)
  bool in_payload_ = false;
  bool fin_ = false;
  ws_opcode opcode_ = ws_opcode::continuation;
  uint64_t remaining_ = 0;
  uint8_t mask_[4] = {0, 0, 0, 0};
  bool masked_ = false;
  size_t mask_pos_ = 0;
  std::string control_; // payload of a control frame (at most 125 bytes)
  // The message being assembled from data frames.
  bool in_message_ = false;
  ws_opcode message_opcode_ = ws_opcode::text;
  std::string message_;
  utf8_validator utf8_;
};

/// Appends one server-to-client (unmasked) frame to `out`.
void ws_encode_frame(ws_opcode op, std::string_view payload, bool fin, std::string& out);

/// Appends a close frame with `code` and `reason` (cut to fit 123 bytes on a
/// character boundary) to `out`.
void ws_encode_close(uint16_t code, std::string_view reason, std::string& out);

/// Appends one masked (client-to-server) frame to `out`; for tests and
/// clients. `reserved_bits` (0..7) set RSV1-3 to test their rejection.
void ws_encode_client_frame(ws_opcode op, std::string_view payload, bool fin,
                            uint32_t mask_key, std::string& out,
                            uint8_t reserved_bits = 0);

/// The protocol logic of one server-side WebSocket connection after the
/// handshake, without I/O. Answers pings with pongs, answers a close with a
/// close (echoing the code), closes with the decoder's code on bad input,
/// and hands complete text and binary messages to the caller.
class ws_session {
public:
  explicit ws_session(ws_limits limits = {});

  /// Consumes bytes from the peer. Appends bytes to send (pongs, close
  /// frames) to `out` and complete data messages to `messages`.
  void on_input(const char* data, size_t size, std::string& out,
                std::vector<ws_event>& messages);

  /// Appends a text message (one frame) to `out`. Ignored once closing.
  void send_text(std::string_view text, std::string& out);

  /// Appends a ping with `payload` (at most 125 bytes) to `out`.
  void send_ping(std::string_view payload, std::string& out);

  /// Starts the close handshake with `code`; ignored if already closing.
  void close(uint16_t code, std::string_view reason, std::string& out);

  /// Whether a close frame was sent: the shell flushes and then closes the
  /// TCP connection (the server closes first, as RFC 6455 7.1.1 prefers,
  /// once the peer's close arrived or a short grace passed).
  bool closing() const {
    return close_sent_ != 0;
  }

  /// Whether both sides sent close frames (or the peer broke the protocol).
  bool done() const {
    return close_sent_ != 0 && (close_received_ || !decoder_status_.ok());
  }

  /// The code of the close frame sent, 0 if none yet.
  uint16_t close_code_sent() const {
    return close_sent_;
  }

  /// What the decoder reported; !ok() when the peer broke the protocol.
  const ws_decode_status& decoder_status() const {
    return decoder_status_;
  }

  /// Pongs received, for keep-alive accounting.
  uint64_t pongs_received() const {
    return pongs_received_;
  }

private:
  ws_decoder decoder_;
  ws_decode_status decoder_status_;
  std::vector<ws_event> events_;
  uint16_t close_sent_ = 0;
  bool close_received_ = false;
  uint64_t pongs_received_ = 0;
};

} // namespace troupe
