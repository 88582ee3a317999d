#include "cli/command.hpp"

namespace troupe::cli {

int fail(const failure& f) {
  std::string line;
  for (char c : f.message) {
    bool space = c == '\n' || c == '\r' || c == '\t';
    if (space && (line.empty() || line.back() == ' '))
      continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ')
    line.pop_back();
  std::fprintf(stderr, "troupectl: %s\n", line.c_str());
  return f.code;
}

outcome<std::string> to_json_line(const envelope& env) {
  auto json = envelope_to_json(env);
  if (!json)
    return failure{exit_failed, describe(json.error())};
  return std::move(*json);
}

int print_json(const envelope& env) {
  auto json = to_json_line(env);
  if (!json)
    return fail(json.error());
  std::printf("%s\n", json->c_str());
  return exit_ok;
}

} // namespace troupe::cli
