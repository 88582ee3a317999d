// troupe-lincheck: re-checks a recorded history for linearizability.
//
//   troupe-lincheck [--max-steps N] FILE    (FILE "-" reads stdin)
//
// FILE holds JSON lines as written by lin::write_history (the format is in
// tests/support/linearizability.hpp). Prints the verdict and, for a
// violation, which key and operations. Exit status: 0 linearizable, 1 not
// linearizable, 2 inconclusive (step limit hit) or bad input.
#include "tests/support/linearizability.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace lin = troupe::test::lin;

namespace {

constexpr int exit_linearizable = 0;
constexpr int exit_violation = 1;
constexpr int exit_unsure = 2;

int usage() {
  std::cerr << "usage: troupe-lincheck [--max-steps N] FILE\n"
               "  checks a JSON-lines history; exit 0 linearizable, 1 not, "
               "2 inconclusive or bad input\n";
  return exit_unsure;
}

bool parse_count(const std::string& text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  auto n = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-')
    return false;
  *out = n;
  return true;
}

bool load(const std::string& path, lin::history* ops, std::string* error) {
  if (path != "-")
    return lin::read_history_file(path, ops, error);
  if (lin::read_history(std::cin, ops, error))
    return true;
  *error = "stdin: " + *error;
  return false;
}

} // namespace

int main(int argc, char** argv) {
  lin::check_options opts;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--max-steps" && i + 1 < argc) {
      if (!parse_count(argv[++i], &opts.max_steps_per_key))
        return usage();
    } else if (arg == "-h" || arg == "--help" || !path.empty()) {
      return usage();
    } else {
      path = arg;
    }
  }
  if (path.empty())
    return usage();
  lin::history ops;
  std::string error;
  if (!load(path, &ops, &error)) {
    std::cerr << "troupe-lincheck: " << error << "\n";
    return exit_unsure;
  }
  auto start = std::chrono::steady_clock::now();
  auto result = lin::check(ops, opts);
  auto elapsed = std::chrono::duration<double, std::milli>(
      std::chrono::steady_clock::now() - start);
  std::printf("%s: %zu operations, %llu keys, %llu search steps, %.1f ms\n",
              lin::to_string(result.outcome), ops.size(),
              static_cast<unsigned long long>(result.keys_checked),
              static_cast<unsigned long long>(result.steps), elapsed.count());
  if (!result.explanation.empty())
    std::printf("%s\n", result.explanation.c_str());
  switch (result.outcome) {
  case lin::verdict::ok:
    return exit_linearizable;
  case lin::verdict::not_linearizable:
    return exit_violation;
  case lin::verdict::inconclusive:
    return exit_unsure;
  }
  return exit_unsure;
}
