#include "storage/crc32c.hpp"

#include <array>

namespace troupe::storage {

namespace {

// Reflected Castagnoli polynomial 0x1EDC6F41.
constexpr uint32_t polynomial = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1u) != 0 ? (crc >> 1) ^ polynomial : crc >> 1;
    table[i] = crc;
  }
  return table;
}

// Computed at compile time: one byte per step is fast enough for log
// records, whose fsync costs orders of magnitude more.
constexpr auto table = make_table();

} // namespace

uint32_t crc32c(const void* data, size_t size) noexcept {
  auto bytes = static_cast<const unsigned char*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

} // namespace troupe::storage
