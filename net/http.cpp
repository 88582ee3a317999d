#include "net/http.hpp"

#include <http_parser.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace troupe {

namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return ascii_lower(x) == ascii_lower(y);
            });
}

// RFC 9110 token characters. A method made of them that libhttp-parser does
// not know is an unknown method (501); anything else is garbage (400).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9'))
    return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string_view trim(std::string_view x) {
  auto first = x.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  auto last = x.find_last_not_of(" \t");
  return x.substr(first, last - first + 1);
}

bool is_supported_method(unsigned method) {
  switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_OPTIONS:
    case HTTP_PATCH:
      return true;
    default:
      return false;
  }
}

// Splits origin-form ("/p?q"), absolute-form ("http://h/p?q") and
// asterisk-form ("*") targets. Fragments are not sent by conforming clients;
// they are cut off rather than rejected.
void split_target(http_request& req) {
  std::string_view rest = req.target;
  if (!rest.empty() && rest.front() != '/' && rest != "*") {
    auto authority = rest.find("://");
    auto start = authority == std::string_view::npos
                   ? std::string_view::npos
                   : rest.find_first_of("/?#", authority + 3);
    rest = start == std::string_view::npos ? std::string_view{}
                                           : rest.substr(start);
  }
  rest = rest.substr(0, rest.find('#'));
  auto question = rest.find('?');
  auto path = rest.substr(0, question);
  // An empty path means "/". (Assigning a literal to req.path after the fact
  // trips a false -Wstringop-overflow in GCC 12 at -O3.)
  req.path = path.empty() ? std::string(1, '/') : std::string{path};
  if (question != std::string_view::npos)
    req.query = std::string{rest.substr(question + 1)};
}

void trim_header_values(http_request& req) {
  for (auto& field : req.headers)
    field.second = std::string{trim(field.second)};
}

size_t count_headers(const http_request& req, std::string_view name) {
  return static_cast<size_t>(std::count_if(
    req.headers.begin(), req.headers.end(),
    [&](const auto& field) { return iequals(field.first, name); }));
}

} // namespace

const std::string* http_request::header(std::string_view name) const {
  for (auto& field : headers)
    if (iequals(field.first, name))
      return &field.second;
  return nullptr;
}

// -- response rendering -------------------------------------------------------

namespace {

std::string_view reason_phrase(int status) {
  std::string_view text = http_status_str(static_cast<http_status>(status));
  // libhttp-parser answers "<unknown>"; an empty reason phrase is valid.
  return text == "<unknown>" ? std::string_view{} : text;
}

bool has_no_body(int status) {
  return status < 200 || status == 204 || status == 304;
}

bool is_renderer_owned(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "content-type")
         || iequals(name, "connection") || iequals(name, "transfer-encoding");
}

bool is_safe_field(std::string_view name, std::string_view value) {
  return !name.empty() && std::all_of(name.begin(), name.end(), is_tchar)
         && value.find_first_of(std::string_view{"\r\n\0", 3})
              == std::string_view::npos;
}

void append_field(std::string& out, std::string_view name,
                  std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

} // namespace

std::string render_response(const http_response& res, bool keep_alive,
                            bool head_request) {
  auto status = res.status >= 100 && res.status <= 999 ? res.status : 500;
  auto bodyless = has_no_body(status);
  std::string out;
  out.reserve(160 + (bodyless || head_request ? 0 : res.body.size()));
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out.append(reason_phrase(status)).append("\r\n");
  if (!bodyless && !res.content_type.empty()
      && is_safe_field("Content-Type", res.content_type))
    append_field(out, "Content-Type", res.content_type);
  if (!bodyless)
    append_field(out, "Content-Length", std::to_string(res.body.size()));
  for (auto& [name, value] : res.headers)
    if (!is_renderer_owned(name) && is_safe_field(name, value))
      append_field(out, name, value);
  append_field(out, "Connection",
               status == 101 ? "Upgrade" : keep_alive ? "keep-alive" : "close");
  out.append("\r\n");
  if (!bodyless && !head_request)
    out.append(res.body);
  return out;
}

// -- request parsing ----------------------------------------------------------

// Why the parser feeds libhttp-parser line by line while in the head of a
// request: libhttp-parser has no per-limit hooks (its only bound is a
// process-wide 80 KiB header size), and its data callbacks fire at positions
// that depend on how the input was split. Cutting the head at each LF lets
// us (1) charge every byte to the request line or the header section before
// libhttp-parser sees it, executing only the bytes that still fit, and
// (2) check the version, the method and the header count at fixed stream
// positions. Together this makes the outcome independent of the split, which
// the fuzz target checks. Bodies go through in bulk, under a wire budget.
struct http_request_parser::state {
  enum class phase { request_line, header_lines, body, done };

  explicit state(http_limits lim) : limits(lim) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
  }

  http_limits limits;
  http_parser parser;
  phase current = phase::request_line;
  http_parse_status status;

  // The request being parsed, and what it has spent of its budgets.
  struct progress {
    http_request request;
    bool begun = false;      // libhttp-parser saw the method's first byte
    bool field_open = false; // the last callback was a header name
    bool at_line_start = true;
    char line_first_byte = 0;
    size_t request_line_bytes = 0;
    size_t header_bytes = 0;
    size_t header_lines = 0;
    size_t body_wire_bytes = 0;
  };
  progress msg;

  bool fail(int code, std::string reason) {
    if (status.ok())
      status = http_parse_status{code, std::move(reason)};
    current = phase::done;
    return false;
  }

  // Runs libhttp-parser over [data, data + size); returns bytes consumed.
  // A completed request pauses the parser and is moved to `out`.
  size_t execute(const char* data, size_t size, std::vector<http_request>& out);
  void fail_from_errno(http_errno err, const char* at, const char* end);
  void complete_request(std::vector<http_request>& out);

  size_t feed_head_line(const char* data, size_t size,
                        std::vector<http_request>& out);
  void end_head_line();
  bool check_request_line();
  size_t feed_body(const char* data, size_t size,
                   std::vector<http_request>& out);

  // Checks run when libhttp-parser has seen the whole header section.
  bool check_headers();
  bool body_fits(uint64_t more);

  static state& of(http_parser* p);
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t len);
  static int on_header_field(http_parser* p, const char* at, size_t len);
  static int on_header_value(http_parser* p, const char* at, size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_chunk_header(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  static const http_parser_settings& settings();
};

size_t http_request_parser::state::execute(const char* data, size_t size,
                                           std::vector<http_request>& out) {
  auto consumed = http_parser_execute(&parser, &settings(), data, size);
  auto err = HTTP_PARSER_ERRNO(&parser);
  if (err == HPE_PAUSED) {
    http_parser_pause(&parser, 0);
    complete_request(out);
  } else if (err != HPE_OK) {
    fail_from_errno(err, data + consumed, data + size);
  }
  return consumed;
}

void http_request_parser::state::fail_from_errno(http_errno err, const char* at,
                                                 const char* end) {
  switch (err) {
    case HPE_INVALID_METHOD:
      // libhttp-parser stops at the first byte that leaves its method table.
      if (at < end && is_tchar(*at))
        fail(501, "unknown method; supported: GET HEAD POST PUT DELETE "
                  "OPTIONS PATCH");
      else
        fail(400, "malformed request line");
      return;
    case HPE_HEADER_OVERFLOW:
      fail(431, "header section too large");
      return;
    case HPE_INVALID_TRANSFER_ENCODING:
      fail(501, "unsupported transfer coding; send Content-Length or "
                "Transfer-Encoding: chunked");
      return;
    default:
      // A callback that failed has already set the status; fail() keeps it.
      fail(400,
           std::string{"malformed request: "} + http_errno_description(err));
  }
}

void http_request_parser::state::complete_request(
  std::vector<http_request>& out) {
  msg.request.keep_alive = http_should_keep_alive(&parser) != 0
                           && !parser.upgrade;
  auto last = !msg.request.keep_alive;
  out.push_back(std::move(msg.request));
  msg = progress{};
  current = last ? phase::done : phase::request_line;
}

size_t
http_request_parser::state::feed_head_line(const char* data, size_t size,
                                           std::vector<http_request>& out) {
  auto lf = static_cast<const char*>(std::memchr(data, '\n', size));
  auto line_part = lf ? static_cast<size_t>(lf - data) + 1 : size;
  auto before = current;
  auto& used = before == phase::request_line ? msg.request_line_bytes
                                             : msg.header_bytes;
  auto limit = before == phase::request_line ? limits.max_request_line
                                             : limits.max_header_bytes;
  auto fits = std::min(line_part, limit - used);
  size_t consumed = 0;
  if (fits > 0) {
    if (msg.at_line_start)
      msg.line_first_byte = data[0];
    msg.at_line_start = false;
    used += fits;
    consumed = execute(data, fits, out);
  }
  if (current != before) // failed, reached the body, or completed a request
    return consumed;
  if (fits < line_part) {
    if (before == phase::request_line)
      fail(414, "request line longer than "
                  + std::to_string(limits.max_request_line) + " bytes");
    else
      fail(431, "header section longer than "
                  + std::to_string(limits.max_header_bytes) + " bytes");
    return size;
  }
  if (lf)
    end_head_line();
  return consumed;
}

void http_request_parser::state::end_head_line() {
  msg.at_line_start = true;
  if (current == phase::request_line) {
    // Empty lines before a request are allowed (RFC 9112 2.2) and charged to
    // the request line; libhttp-parser skips them without starting a message.
    if (msg.begun) {
      current = phase::header_lines;
      check_request_line();
    }
    return;
  }
  auto continues_field = msg.line_first_byte == ' '
                         || msg.line_first_byte == '\t';
  if (!continues_field && ++msg.header_lines > limits.max_headers)
    fail(431,
         "more than " + std::to_string(limits.max_headers) + " header fields");
}

bool http_request_parser::state::check_request_line() {
  msg.request.version_major = parser.http_major;
  msg.request.version_minor = parser.http_minor;
  msg.request.method = http_method_str(static_cast<http_method>(parser.method));
  if (parser.http_major != 1)
    return fail(505, "HTTP version " + std::to_string(parser.http_major) + "."
                       + std::to_string(parser.http_minor)
                       + " not supported; use HTTP/1.1");
  if (!is_supported_method(parser.method)
      && !(limits.allow_purge && parser.method == HTTP_PURGE))
    return fail(501, "method " + msg.request.method
                       + " not supported; supported: GET HEAD POST PUT "
                         "DELETE OPTIONS PATCH");
  return true;
}

bool http_request_parser::state::check_headers() {
  trim_header_values(msg.request);
  split_target(msg.request);
  if (msg.request.version_minor >= 1 && count_headers(msg.request, "host") != 1)
    return fail(400, "an HTTP/1.1 request needs exactly one Host header");
  auto coding = msg.request.header("transfer-encoding");
  if (coding
      && (count_headers(msg.request, "transfer-encoding") > 1
          || !iequals(*coding, "chunked")))
    return fail(501, "transfer coding \"" + *coding
                       + "\" not supported; send Content-Length or "
                         "Transfer-Encoding: chunked");
  if (parser.content_length != ULLONG_MAX
      && parser.content_length > limits.max_body_bytes)
    return fail(413, "body larger than " + std::to_string(limits.max_body_bytes)
                       + " bytes");
  current = phase::body;
  return true;
}

size_t http_request_parser::state::feed_body(const char* data, size_t size,
                                             std::vector<http_request>& out) {
  // The wire budget bounds what the body phase can cost even when nothing is
  // stored: chunk extensions, tiny chunks and trailers.
  auto budget = std::max(limits.max_body_bytes,
                         limits.max_body_bytes + limits.max_header_bytes);
  auto fits = std::min(size, budget - msg.body_wire_bytes);
  auto consumed = fits > 0 ? execute(data, fits, out) : 0;
  if (current != phase::body)
    return consumed;
  msg.body_wire_bytes += consumed;
  if (fits < size) {
    fail(413, "body larger than " + std::to_string(limits.max_body_bytes)
                + " bytes (or too much chunk framing)");
    return size;
  }
  return consumed;
}

// -- libhttp-parser callbacks: each returns 0 to go on, non-zero to fail ------

http_request_parser::state& http_request_parser::state::of(http_parser* p) {
  return *static_cast<state*>(p->data);
}

int http_request_parser::state::on_message_begin(http_parser* p) {
  of(p).msg.begun = true;
  return 0;
}

int http_request_parser::state::on_url(http_parser* p, const char* at,
                                       size_t len) {
  of(p).msg.request.target.append(at, len);
  return 0;
}

int http_request_parser::state::on_header_field(http_parser* p, const char* at,
                                                size_t len) {
  auto& msg = of(p).msg;
  if (of(p).current == phase::body) // a trailer field: dropped
    return 0;
  if (!msg.field_open)
    msg.request.headers.emplace_back();
  msg.field_open = true;
  msg.request.headers.back().first.append(at, len);
  return 0;
}

int http_request_parser::state::on_header_value(http_parser* p, const char* at,
                                                size_t len) {
  auto& msg = of(p).msg;
  if (of(p).current == phase::body || msg.request.headers.empty())
    return 0;
  msg.field_open = false;
  msg.request.headers.back().second.append(at, len);
  return 0;
}

// Returning 1 here would tell libhttp-parser "no body"; -1 is an error.
int http_request_parser::state::on_headers_complete(http_parser* p) {
  return of(p).check_headers() ? 0 : -1;
}

bool http_request_parser::state::body_fits(uint64_t more) {
  if (more <= limits.max_body_bytes - msg.request.body.size())
    return true;
  return fail(413, "body larger than " + std::to_string(limits.max_body_bytes)
                     + " bytes");
}

// Checking the announced chunk size, at the end of its line, rejects an
// oversized body at a position that does not depend on the input's split.
int http_request_parser::state::on_chunk_header(http_parser* p) {
  return of(p).body_fits(p->content_length) ? 0 : -1;
}

int http_request_parser::state::on_body(http_parser* p, const char* at,
                                        size_t len) {
  auto& st = of(p);
  if (!st.body_fits(len)) // already ruled out by the checks above
    return -1;
  st.msg.request.body.append(at, len);
  return 0;
}

// Pausing hands control back to execute() at the exact end of the request,
// so that the next request's bytes are charged to a fresh budget.
int http_request_parser::state::on_message_complete(http_parser* p) {
  http_parser_pause(p, 1);
  return 0;
}

const http_parser_settings& http_request_parser::state::settings() {
  static const http_parser_settings instance = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_message_begin;
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_chunk_header = on_chunk_header;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return instance;
}

http_request_parser::http_request_parser(http_limits limits)
  : state_(std::make_unique<state>(limits)) {
  // nop
}

http_request_parser::~http_request_parser() = default;

http_request_parser::http_request_parser(
  http_request_parser&&) noexcept = default;

http_request_parser&
http_request_parser::operator=(http_request_parser&&) noexcept = default;

http_parse_status http_request_parser::feed(const char* data, size_t size,
                                            std::vector<http_request>& out) {
  auto& st = *state_;
  size_t pos = 0;
  while (pos < size && st.current != state::phase::done) {
    auto rest = size - pos;
    auto step = st.current == state::phase::body
                  ? st.feed_body(data + pos, rest, out)
                  : st.feed_head_line(data + pos, rest, out);
    if (step == 0 && st.current != state::phase::done)
      st.fail(400, "malformed request: the parser made no progress");
    pos += step;
  }
  return st.status;
}

bool http_request_parser::done() const {
  return state_->current == state::phase::done;
}

// -- session ------------------------------------------------------------------

http_session::http_session(http_limits limits, http_handler handler)
  : limits_(limits), handler_(std::move(handler)), parser_(limits) {
  // nop
}

void http_session::on_input(const char* data, size_t size,
                            std::vector<char>& out) {
  if (closing_)
    return;
  auto status = parser_.feed(data, size, waiting_);
  if (!status.ok())
    error_ = std::move(status);
  answer_waiting(out);
}

void http_session::on_output_pending(size_t unsent_bytes,
                                     std::vector<char>& out) {
  unsent_bytes_ = unsent_bytes;
  answer_waiting(out);
}

bool http_session::wants_input() const {
  return !closing_ && waiting_.empty()
         && unsent_bytes_ < limits_.max_output_bytes;
}

bool http_session::done() const {
  return closing_;
}

void http_session::answer_waiting(std::vector<char>& out) {
  size_t answered = 0;
  while (answered < waiting_.size()
         && unsent_bytes_ < limits_.max_output_bytes) {
    auto& req = waiting_[answered++];
    auto res = handler_(req);
    // 101 only answers an upgrade request (the last one the parser reads);
    // after it the stream belongs to the new protocol.
    if (res.status == 101 && (req.keep_alive || !req.header("Upgrade"))) {
      res = http_response{};
      res.status = 500;
      res.body = "handler answered 101 to a request that asked for no upgrade\n";
    }
    write(render_response(res, req.keep_alive, req.method == "HEAD"), out);
    ++requests_answered_;
    if (res.status == 101) {
      upgraded_ = std::make_unique<http_request>(std::move(req));
      closing_ = true;
      waiting_.clear();
      return;
    }
  }
  waiting_.erase(waiting_.begin(),
                 waiting_.begin() + static_cast<std::ptrdiff_t>(answered));
  if (closing_ || !waiting_.empty())
    return;
  if (!error_.ok()) {
    // The error comes after the answers to the requests that preceded it.
    http_response res;
    res.status = error_.code;
    res.body = error_.reason + "\n";
    write(render_response(res, false, false), out);
    closing_ = true;
  } else if (parser_.done()) {
    closing_ = true;
  }
}

void http_session::write(const std::string& bytes, std::vector<char>& out) {
  out.insert(out.end(), bytes.begin(), bytes.end());
  unsent_bytes_ += bytes.size();
}

} // namespace troupe
