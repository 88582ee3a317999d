// The unit tests' main: doctest, with troupe's logs off unless
// TROUPE_TEST_LOG_LEVEL asks for them (e.g. TROUPE_TEST_LOG_LEVEL=debug).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "runtime/logging.hpp"

#include <cstdlib>
#include <string>

std::string unit_test_log_level() {
  auto* level = std::getenv("TROUPE_TEST_LOG_LEVEL");
  return level != nullptr && *level != '\0' ? level : "off";
}

int main(int argc, char** argv) {
  std::string err;
  troupe::init_logging("-", unit_test_log_level(), "text", err);
  return doctest::Context{argc, argv}.run();
}
