// libFuzzer target for the hand-written parsers of user input that are not
// HTTP: the config file subset of TOML and HOST:PORT addresses.
// Property: any input yields a value or an error, never a crash, and a
// parsed address renders to text that parses back to the same address.
#include "net/address.hpp"
#include "runtime/config_file.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  (void) troupe::parse_config_text(text, "fuzz.toml");
  if (auto addr = troupe::parse_host_port(text, 7400)) {
    auto again = troupe::parse_host_port(addr->to_string(), 1);
    if (!again || !(*again == *addr))
      std::abort();
  }
  (void) troupe::parse_host_port_list(text, 7400);
  return 0;
}
