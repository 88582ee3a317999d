// Why the parser re-scans nothing: a multibulk command that arrives in many
// reads resumes at the element it stopped in (pos_, spans_), so a command
// with a million arguments trickling in costs O(bytes), not O(reads x args).
// The buffer is compacted only between commands, so spans stay offsets.
//
// Why the trailing CRLF of a bulk is not checked: Redis skips those two
// bytes without looking at them (networking.c, processMultibulkBuffer), and
// a client that works against Redis must work here.
#include "net/resp.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace troupe::resp {

namespace {

// Redis's string2ll: optional '-', digits, no leading '+', no spaces, no
// leading zeros except "0" itself, fits in int64.
bool parse_ll(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  if (s.size() > 1 && s[0] == '0')
    return false;
  if (s.size() >= 2 && s[0] == '-' && s[1] == '0')
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && s != "-";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v'
         || c == '\f';
}

char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
}

// One "double quoted" argument starting after the quote at `i`.
bool split_double_quoted(std::string_view line, size_t& i, std::string& cur) {
  while (i < line.size()) {
    char c = line[i];
    if (c == '\\' && i + 3 < line.size() && line[i + 1] == 'x'
        && hex_value(line[i + 2]) >= 0 && hex_value(line[i + 3]) >= 0) {
      cur += static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
      i += 4;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += unescape(line[i + 1]);
      i += 2;
    } else if (c == '"') {
      ++i;
      return i >= line.size() || is_space(line[i]);
    } else {
      cur += c;
      ++i;
    }
  }
  return false; // unterminated
}

bool split_single_quoted(std::string_view line, size_t& i, std::string& cur) {
  while (i < line.size()) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
      cur += '\'';
      i += 2;
    } else if (c == '\'') {
      ++i;
      return i >= line.size() || is_space(line[i]);
    } else {
      cur += c;
      ++i;
    }
  }
  return false;
}

} // namespace

bool split_inline(std::string_view line, std::vector<std::string>& out) {
  out.clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_space(line[i]))
      ++i;
    if (i >= line.size())
      return true;
    std::string cur;
    while (i < line.size() && !is_space(line[i])) {
      char c = line[i];
      bool ok = true;
      if (c == '"') {
        ++i;
        ok = split_double_quoted(line, i, cur);
        if (ok)
          break;
      } else if (c == '\'') {
        ++i;
        ok = split_single_quoted(line, i, cur);
        if (ok)
          break;
      } else {
        cur += c;
        ++i;
        continue;
      }
      if (!ok) {
        out.clear();
        return false;
      }
    }
    out.push_back(std::move(cur));
  }
}

// -- request_parser ----------------------------------------------------------

request_parser::request_parser(limits lim) : limits_(lim) {}

char* request_parser::prepare(size_t n) {
  compact();
  if (cap_ - size_ < n) {
    size_t cap = std::max<size_t>(cap_ * 2, size_ + n);
    cap = std::max<size_t>(cap, 4096);
    auto fresh = std::make_unique<char[]>(cap);
    if (size_ > 0)
      std::memcpy(fresh.get(), buf_.get(), size_);
    buf_ = std::move(fresh);
    cap_ = cap;
  }
  return buf_.get() + size_;
}

void request_parser::commit(size_t n) {
  size_ += n;
}

void request_parser::append(std::string_view bytes) {
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

// Moves the unconsumed bytes to the front. Only start_ is subtracted:
// spans_ are relative to start_, pos_ is absolute.
void request_parser::compact() {
  if (start_ == 0)
    return;
  auto rest = size_ - start_;
  if (rest > 0)
    std::memmove(buf_.get(), buf_.get() + start_, rest);
  pos_ -= start_;
  size_ = rest;
  start_ = 0;
  // A large idle buffer is returned once a client's big request is done.
  if (size_ == 0 && cap_ > (size_t{1} << 20)) {
    buf_.reset();
    cap_ = 0;
  }
}

parse_status request_parser::fail(std::string_view what) {
  failed_ = true;
  error_ = "ERR Protocol error: ";
  error_ += what;
  return parse_status::error;
}

parse_status request_parser::next(std::vector<std::string_view>& args) {
  args.clear();
  if (failed_)
    return parse_status::error;
  if (overflowed_)
    return parse_status::overflow;
  while (start_ < size_) {
    parse_status st = expected_ >= 0 || buf_[start_] == '*'
                        ? parse_multibulk(args)
                        : parse_inline(args);
    if (st == parse_status::command && args.empty())
      continue; // an empty command: skipped, as Redis does
    if (st == parse_status::need_more && buffered() > limits_.max_query_buffer) {
      overflowed_ = true;
      return parse_status::overflow;
    }
    return st;
  }
  return parse_status::need_more;
}

parse_status request_parser::parse_inline(std::vector<std::string_view>& args) {
  std::string_view rest{buf_.get() + start_, size_ - start_};
  // The limit applies to the line whether or not its newline has arrived
  // (Redis checks only a buffer without one), so the outcome does not
  // depend on how the stream was split into reads.
  auto nl = rest.find('\n');
  if (nl == std::string_view::npos ? rest.size() > limits_.max_inline_len
                                   : nl > limits_.max_inline_len)
    return fail("too big inline request");
  if (nl == std::string_view::npos)
    return parse_status::need_more;
  auto line = rest.substr(0, nl);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  start_ += nl + 1;
  pos_ = start_;
  if (!split_inline(line, inline_args_))
    return fail("unbalanced quotes in request");
  for (auto& a : inline_args_)
    args.emplace_back(a);
  return parse_status::command;
}

// Reads a "<prefix><number>\r\n" line at pos_. done=false: need more bytes.
bool request_parser::read_header_line(char prefix, int64_t& value, bool& done,
                                      parse_status& failed) {
  done = false;
  std::string_view rest{buf_.get() + pos_, size_ - pos_};
  auto cr = rest.find('\r');
  bool mbulk = prefix == '*';
  // The prefix first, as soon as one byte is here: then the verdict does not
  // depend on how the bytes were split into reads (Redis checks it once the
  // line is complete, with the same error text).
  if (!mbulk && !rest.empty() && rest[0] != '$') {
    std::string what = "expected '$', got '";
    what += rest[0];
    what += "'";
    failed = fail(what);
    return false;
  }
  // The line's length is judged where it ends, at its '\r', whether or not
  // the '\n' after it has arrived yet.
  auto line_len = cr == std::string_view::npos ? rest.size() : cr;
  if (line_len > limits_.max_inline_len) {
    failed = fail(mbulk ? "too big mbulk count string" : "too big bulk count string");
    return false;
  }
  if (cr == std::string_view::npos || cr + 1 >= rest.size())
    return true;
  int64_t n = 0;
  bool ok = parse_ll(rest.substr(1, cr - 1), n);
  if (mbulk && (!ok || n > limits_.max_multibulk_len)) {
    failed = fail("invalid multibulk length");
    return false;
  }
  if (!mbulk && (!ok || n < 0 || n > limits_.max_bulk_len)) {
    failed = fail("invalid bulk length");
    return false;
  }
  value = n;
  pos_ += cr + 2;
  done = true;
  return true;
}

parse_status request_parser::parse_multibulk(std::vector<std::string_view>& args) {
  bool done = false;
  parse_status failed = parse_status::error;
  if (expected_ < 0) {
    pos_ = start_;
    int64_t n = 0;
    if (!read_header_line('*', n, done, failed))
      return failed;
    if (!done)
      return parse_status::need_more;
    if (n <= 0) {
      start_ = pos_;
      return parse_status::command; // empty: skipped by next()
    }
    expected_ = n;
    spans_.clear();
    // Reserve modestly: the count is the client's claim, not data received.
    spans_.reserve(static_cast<size_t>(std::min<int64_t>(n, 1024)));
  }
  while (expected_ > 0) {
    if (bulk_len_ < 0) {
      int64_t n = 0;
      if (!read_header_line('$', n, done, failed))
        return failed;
      if (!done)
        return parse_status::need_more;
      bulk_len_ = n;
    }
    if (size_ - pos_ < static_cast<size_t>(bulk_len_) + 2)
      return parse_status::need_more;
    spans_.emplace_back(pos_ - start_, static_cast<size_t>(bulk_len_));
    pos_ += static_cast<size_t>(bulk_len_) + 2;
    bulk_len_ = -1;
    --expected_;
  }
  expected_ = -1;
  for (auto& [off, len] : spans_)
    args.emplace_back(buf_.get() + start_ + off, len);
  start_ = pos_;
  return parse_status::command;
}

// -- reply_writer -------------------------------------------------------------

void reply_writer::header(char c, int64_t n) {
  char tmp[24];
  tmp[0] = c;
  auto [end, ec] = std::to_chars(tmp + 1, tmp + sizeof(tmp), n);
  (void) ec;
  out_->append(tmp, static_cast<size_t>(end - tmp));
  out_->append("\r\n", 2);
}

void reply_writer::simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n", 2);
}

void reply_writer::error(std::string_view s) {
  out_->push_back('-');
  // Newlines would break the framing; Redis replaces them with spaces.
  for (char c : s)
    out_->push_back(c == '\r' || c == '\n' ? ' ' : c);
  out_->append("\r\n", 2);
}

void reply_writer::integer(int64_t v) {
  header(':', v);
}

void reply_writer::bulk(std::string_view s) {
  header('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n", 2);
}

void reply_writer::null() {
  if (protocol_ >= 3)
    out_->append("_\r\n", 3);
  else
    out_->append("$-1\r\n", 5);
}

void reply_writer::null_array() {
  if (protocol_ >= 3)
    out_->append("_\r\n", 3);
  else
    out_->append("*-1\r\n", 5);
}

void reply_writer::array(size_t n) {
  header('*', static_cast<int64_t>(n));
}

void reply_writer::map(size_t pairs) {
  if (protocol_ >= 3)
    header('%', static_cast<int64_t>(pairs));
  else
    header('*', static_cast<int64_t>(pairs * 2));
}

void reply_writer::set(size_t n) {
  header(protocol_ >= 3 ? '~' : '*', static_cast<int64_t>(n));
}

void reply_writer::boolean(bool v) {
  if (protocol_ >= 3)
    out_->append(v ? "#t\r\n" : "#f\r\n", 4);
  else
    integer(v ? 1 : 0);
}

void reply_writer::dbl(double v) {
  auto text = format_double(v);
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n", 2);
  } else {
    bulk(text);
  }
}

void reply_writer::verbatim(std::string_view s) {
  if (protocol_ < 3) {
    bulk(s);
    return;
  }
  header('=', static_cast<int64_t>(s.size() + 4));
  out_->append("txt:", 4);
  out_->append(s);
  out_->append("\r\n", 2);
}

std::string format_double(double v) {
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  char tmp[64];
  // Integral values in the exactly representable range print without a
  // fraction, as Redis's d2string does.
  if (v == std::floor(v) && std::fabs(v) < 1e17) {
    std::snprintf(tmp, sizeof(tmp), "%lld", static_cast<long long>(v));
    return tmp;
  }
  std::snprintf(tmp, sizeof(tmp), "%.17g", v);
  return tmp;
}

} // namespace troupe::resp
