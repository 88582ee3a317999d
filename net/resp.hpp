// RESP, the Redis serialization protocol, without any I/O: an incremental
// request parser (multibulk RESP2 arrays and inline commands) and a reply
// writer that renders RESP2 or, after HELLO 3, RESP3. docs/cache.md lists
// the limits and the errors, which follow Redis 7.0's networking.c: a
// protocol error is answered with "-ERR Protocol error: ..." and the
// connection is closed after that reply, as Redis does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::resp {

/// Bounds on what one client can make the server hold.
struct limits {
  /// Largest bulk string argument (Redis proto-max-bulk-len, 512 MB).
  int64_t max_bulk_len = int64_t{512} << 20;
  /// Largest multibulk element count (Redis rejects counts above INT_MAX;
  /// troupe lowers it so one header cannot reserve unbounded memory).
  int64_t max_multibulk_len = 1024 * 1024;
  /// Longest inline command line, and longest "*N"/"$N" header line
  /// (Redis PROTO_INLINE_MAX_SIZE, 64 KB).
  size_t max_inline_len = 64 * 1024;
  /// Unparsed bytes a client may have buffered (Redis
  /// client-query-buffer-limit, 1 GB). Exceeding it closes the connection
  /// without a reply, as Redis does.
  size_t max_query_buffer = size_t{1} << 30;
};

/// What next() found.
enum class parse_status {
  need_more, // no complete command buffered; read more and call again
  command,   // `args` holds one command (at least one argument)
  error,     // protocol error: reply error_reply(), then close
  overflow,  // query buffer limit: close without a reply
};

/// Parses a stream of client requests. The parser owns its buffer: read
/// into prepare()/commit(), then call next() until it returns need_more.
/// Argument views stay valid until the next call to next() or prepare().
class request_parser {
public:
  explicit request_parser(limits lim = {});

  /// Returns space for at least `n` more bytes at the end of the buffer.
  char* prepare(size_t n);
  /// Marks `n` bytes written into the space prepare() returned.
  void commit(size_t n);
  /// Copies bytes in (prepare + memcpy + commit).
  void append(std::string_view bytes);

  /// Extracts the next command. Empty inline lines and multibulk counts
  /// <= 0 are skipped, as Redis does. After error or overflow the parser
  /// stays in that state.
  parse_status next(std::vector<std::string_view>& args);

  /// After parse_status::error: the error line without '-' and CRLF, e.g.
  /// "ERR Protocol error: invalid bulk length".
  const std::string& error_reply() const noexcept {
    return error_;
  }

  /// Bytes received but not yet consumed by a returned command.
  size_t buffered() const noexcept {
    return size_ - start_;
  }

private:
  parse_status parse_inline(std::vector<std::string_view>& args);
  parse_status parse_multibulk(std::vector<std::string_view>& args);
  parse_status fail(std::string_view what);
  bool read_header_line(char prefix_expected, int64_t& value, bool& done,
                        parse_status& failed);
  void compact();

  limits limits_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t size_ = 0;
  size_t start_ = 0;  // first byte of the command being parsed
  size_t pos_ = 0;    // where parsing resumes
  int64_t expected_ = -1; // multibulk elements still to read; -1: no header
  int64_t bulk_len_ = -1; // length of the bulk being read; -1: no header
  std::vector<std::pair<size_t, size_t>> spans_; // (offset from start_, len)
  std::vector<std::string> inline_args_;
  std::string error_;
  bool failed_ = false;
  bool overflowed_ = false;
};

/// Splits an inline command line as Redis's sdssplitargs does: spaces
/// separate arguments; "double quotes" take \n \r \t \b \a \\ \" \xHH
/// escapes; 'single quotes' take \'. Returns false on unbalanced quotes (or
/// a closing quote not followed by a space).
bool split_inline(std::string_view line, std::vector<std::string>& out);

/// Renders replies into a string. RESP3 types degrade to their RESP2 forms
/// when protocol() == 2 (map -> flat array, null -> $-1 or *-1, double ->
/// bulk string, set -> array, verbatim -> bulk string), as Redis does.
class reply_writer {
public:
  explicit reply_writer(std::string& out, int protocol = 2) :
    out_(&out), protocol_(protocol) {}

  int protocol() const noexcept {
    return protocol_;
  }
  void set_protocol(int p) noexcept {
    protocol_ = p;
  }
  std::string& buffer() noexcept {
    return *out_;
  }

  void simple(std::string_view s);          // +s
  void error(std::string_view s);           // -s (s starts with the code)
  void integer(int64_t v);                  // :v
  void bulk(std::string_view s);            // $len s
  void null();                              // $-1 / _
  void null_array();                        // *-1 / _
  void array(size_t n);                     // *n
  void map(size_t pairs);                   // %n / *2n
  void set(size_t n);                       // ~n / *n
  void boolean(bool v);                     // #t / :1
  void dbl(double v);                       // ,v / bulk
  void verbatim(std::string_view s);        // =len txt:s / bulk
  void ok() {
    simple("OK");
  }

private:
  void header(char c, int64_t n);
  std::string* out_;
  int protocol_;
};

/// Formats a double as Redis does in replies (%.17g, "inf", "-inf").
std::string format_double(double v);

} // namespace troupe::resp
