// troupectl's exit codes, and outcome<T>: a value or a failure to report.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace troupe::cli {

/// Exit codes of troupectl.
enum exit_code : int {
  exit_ok = 0,
  exit_failed = 1,      // the command reached a node and failed
  exit_usage = 2,       // bad flags or arguments
  exit_unreachable = 3, // no node reachable at the endpoint
};

/// A failure to report: one line for stderr and the exit code.
struct failure {
  int code = exit_failed;
  std::string message;
};

/// Makes a usage failure (exit 2).
inline failure usage(std::string message) {
  return {exit_usage, std::move(message)};
}

/// Either a T or the failure that prevented it. troupectl's commands turn
/// the failure into one stderr line and an exit code.
template <class T>
class outcome {
public:
  outcome(T value) : value_(std::move(value)) {}

  outcome(failure f) : failure_(std::move(f)) {}

  explicit operator bool() const noexcept {
    return value_.has_value();
  }

  T& operator*() {
    assert(value_);
    return *value_;
  }

  const T& operator*() const {
    assert(value_);
    return *value_;
  }

  T* operator->() {
    return &**this;
  }
  const T* operator->() const {
    return &**this;
  }

  /// The failure; only meaningful when the outcome holds no value.
  const failure& error() const noexcept {
    return failure_;
  }

private:
  std::optional<T> value_;
  failure failure_;
};

} // namespace troupe::cli
