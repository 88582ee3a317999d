// Why a hand-written parser instead of CLI::ConfigTOML: CLI11 2.1's
// from_config() drops line numbers (we must report them), strips quotes so
// that 500 and "500" look alike (we must reject wrong types), skips lines
// shorter than three characters, cuts values at '#' even inside quotes, and
// reads a bare word as `word = true`. troupe's settings are all flat scalars
// or string lists, so a strict subset is enough, and strictness is the point:
// a typo must fail loudly (caf-0.17-notes §8 lists what CAF silently ignores).
#include "runtime/config_file.hpp"

#include "net/errors.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

namespace troupe {

namespace {

// A config file is a few dozen lines; a megabyte means a wrong path.
constexpr size_t max_config_file_bytes = size_t{1} << 20;

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Parses one line left to right. Each parse_* returns the empty string on
// success, else the problem, and consumes what it read from rest_.
class line_parser {
public:
  explicit line_parser(std::string_view line) : rest_(line) {
    // nop
  }

  // Whether the line holds nothing but blanks and maybe a comment.
  bool empty() {
    skip_blanks();
    return at_end_of_value();
  }

  std::string parse_entry(std::string& key, config_value& value) {
    if (auto problem = parse_key(key); !problem.empty())
      return problem;
    skip_blanks();
    if (!consume('='))
      return "expected '=' after key '" + key + "'";
    skip_blanks();
    if (auto problem = parse_value(value); !problem.empty())
      return problem;
    skip_blanks();
    if (!at_end_of_value())
      return "unexpected text after the value: '" + std::string{rest_} + "'";
    return {};
  }

private:
  void skip_blanks() {
    while (!rest_.empty() && (rest_.front() == ' ' || rest_.front() == '\t'))
      rest_.remove_prefix(1);
  }

  bool at_end_of_value() const {
    return rest_.empty() || rest_.front() == '#';
  }

  bool consume(char c) {
    if (rest_.empty() || rest_.front() != c)
      return false;
    rest_.remove_prefix(1);
    return true;
  }

  std::string parse_key(std::string& key) {
    if (rest_.front() == '[')
      return "tables ('[...]') are not supported: all troupe keys are "
             "top-level";
    if (rest_.front() == '"' || rest_.front() == '\'')
      return "quoted keys are not supported";
    size_t n = 0;
    while (n < rest_.size() && is_key_char(rest_[n]))
      ++n;
    if (n == 0)
      return "expected 'key = value'";
    key = std::string{rest_.substr(0, n)};
    rest_.remove_prefix(n);
    if (!rest_.empty() && rest_.front() == '.')
      return "dotted keys are not supported";
    return {};
  }

  std::string parse_value(config_value& out) {
    if (rest_.empty())
      return "missing value";
    char c = rest_.front();
    if (c == '"' || c == '\'') {
      std::string str;
      auto problem = parse_string(str);
      out = std::move(str);
      return problem;
    }
    if (c == '[') {
      std::vector<std::string> items;
      auto problem = parse_array(items);
      out = std::move(items);
      return problem;
    }
    return parse_bare_value(out);
  }

  // true, false or an integer; anything else was probably meant as a string.
  std::string parse_bare_value(config_value& out) {
    size_t n = 0;
    while (n < rest_.size() && rest_[n] != ' ' && rest_[n] != '\t'
           && rest_[n] != '#')
      ++n;
    auto token = rest_.substr(0, n);
    rest_.remove_prefix(n);
    if (token == "true" || token == "false") {
      out = token == "true";
      return {};
    }
    int64_t value = 0;
    if (!parse_integer(token, value))
      return "invalid value '" + std::string{token}
             + "' (strings need quotes, e.g. key = \"text\")";
    out = value;
    return {};
  }

  // TOML integers: optional sign, no leading zeros, '_' only between digits.
  static bool parse_integer(std::string_view token, int64_t& out) {
    bool negative = !token.empty() && token.front() == '-';
    if (!token.empty() && (token.front() == '-' || token.front() == '+'))
      token.remove_prefix(1);
    if (token.empty() || (token.size() > 1 && token.front() == '0'))
      return false;
    std::string digits = negative ? "-" : "";
    for (size_t i = 0; i < token.size(); ++i) {
      if (is_digit(token[i]))
        digits += token[i];
      else if (token[i] != '_' || i == 0 || i + 1 == token.size()
               || !is_digit(token[i - 1]) || !is_digit(token[i + 1]))
        return false;
    }
    auto last = digits.data() + digits.size();
    auto [end, ec] = std::from_chars(digits.data(), last, out);
    return ec == std::errc{} && end == last;
  }

  std::string parse_string(std::string& out) {
    char quote = rest_.front();
    rest_.remove_prefix(1);
    while (!rest_.empty() && rest_.front() != quote) {
      char c = rest_.front();
      rest_.remove_prefix(1);
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
        return "control character in string";
      if (c == '\\' && quote == '"') {
        if (auto problem = parse_escape(out); !problem.empty())
          return problem;
      } else {
        out += c;
      }
    }
    if (!consume(quote))
      return "unterminated string (strings must end on the same line)";
    return {};
  }

  std::string parse_escape(std::string& out) {
    static const std::map<char, char> escapes{
      {'"', '"'}, {'\\', '\\'}, {'n', '\n'}, {'t', '\t'}, {'r', '\r'}};
    if (rest_.empty())
      return "unterminated string (strings must end on the same line)";
    auto i = escapes.find(rest_.front());
    if (i == escapes.end())
      return std::string{"unsupported escape '\\"} + rest_.front() + "'";
    out += i->second;
    rest_.remove_prefix(1);
    return {};
  }

  std::string parse_array(std::vector<std::string>& out) {
    rest_.remove_prefix(1); // '['
    for (;;) {
      skip_blanks();
      if (consume(']'))
        return {};
      if (rest_.empty())
        return "unterminated array (arrays must end on the same line)";
      if (rest_.front() != '"' && rest_.front() != '\'')
        return "arrays may only hold strings";
      std::string item;
      if (auto problem = parse_string(item); !problem.empty())
        return problem;
      out.push_back(std::move(item));
      skip_blanks();
      if (!consume(',') && (rest_.empty() || rest_.front() != ']'))
        return "expected ',' or ']' in array";
    }
  }

  std::string_view rest_;
};

caf::error line_error(std::string_view file_name, int line,
                      const std::string& problem) {
  return make_error(errc::invalid_argument, std::string{file_name} + ":"
                                              + std::to_string(line) + ": "
                                              + problem);
}

std::string_view next_line(std::string_view& text) {
  auto eol = text.find('\n');
  auto line = text.substr(0, eol);
  text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  return line;
}

} // namespace

caf::expected<std::vector<config_entry>>
parse_config_text(std::string_view text, std::string_view file_name) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") // UTF-8 byte order mark
    text.remove_prefix(3);
  std::vector<config_entry> entries;
  std::map<std::string, int> first_line;
  for (int line_no = 1; !text.empty(); ++line_no) {
    line_parser parser{next_line(text)};
    if (parser.empty())
      continue;
    config_entry entry;
    entry.line = line_no;
    if (auto problem = parser.parse_entry(entry.key, entry.value);
        !problem.empty())
      return line_error(file_name, line_no, problem);
    auto [i, added] = first_line.emplace(entry.key, line_no);
    if (!added)
      return line_error(file_name, line_no,
                        "duplicate key '" + entry.key + "' (first set on line "
                          + std::to_string(i->second) + ")");
    entries.push_back(std::move(entry));
  }
  return entries;
}

caf::expected<std::string> read_config_file(const std::string& path) {
  auto fail = [&path](const std::string& why) {
    return make_error(errc::invalid_argument,
                      "cannot read config file '" + path + "': " + why);
  };
  // fopen rather than ifstream: only the C API promises a meaningful errno.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{
    std::fopen(path.c_str(), "rb"), &std::fclose};
  if (!file)
    return fail(std::strerror(errno));
  std::string text;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof(buf), file.get())) {
    text.append(buf, n);
    if (text.size() > max_config_file_bytes)
      return fail("file is larger than 1 MiB");
  }
  if (std::ferror(file.get()))
    return fail(std::strerror(errno));
  return text;
}

std::string_view type_name(const config_value& x) {
  switch (x.index()) {
    case 0: return "a string";
    case 1: return "an integer";
    case 2: return "a boolean";
    default: return "an array";
  }
}

std::string toml_quote(std::string_view x) {
  std::string out = "\"";
  for (char c : x) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

} // namespace troupe
