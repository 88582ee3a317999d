// Reading troupe's config file: a small, strict subset of TOML.
//
// Accepted, one per line:
//   # comment                    blank lines
//   key = "basic string"         escapes \" \\ \n \t \r
//   key = 'literal string'       no escapes
//   key = 1_000                  decimal integer: optional sign, '_' only
//                                between digits
//   key = true                   or false
//   key = ["a", 'b',]            array of strings on one line
// followed by an optional `# comment`. Keys are bare ([A-Za-z0-9_-]+).
// Rejected with the line number: tables ([x]), dotted or quoted keys,
// multi-line values, floats, dates, duplicate keys, anything else.
#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace troupe {

/// A value from the config file, typed as TOML typed it.
using config_value
  = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

/// One `key = value` line.
struct config_entry {
  std::string key;
  config_value value;
  int line = 0; // 1-based
};

/// Parses `text`. Errors (errc::invalid_argument) read
/// "<file_name>:<line>: <problem>".
caf::expected<std::vector<config_entry>>
parse_config_text(std::string_view text, std::string_view file_name);

/// Reads a whole config file of at most 1 MiB. Errors
/// (errc::invalid_argument): "cannot read config file '<path>': <reason>".
caf::expected<std::string> read_config_file(const std::string& path);

/// Names the type of `x` for messages: "a string", "an integer",
/// "a boolean", "an array".
std::string_view type_name(const config_value& x);

/// Renders `x` as a TOML basic string that parse_config_text reads back.
/// Precondition: `x` has no control characters other than \n, \t and \r.
std::string toml_quote(std::string_view x);

} // namespace troupe
