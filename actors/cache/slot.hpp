// Redis Cluster's key to hash slot mapping: CRC16/XMODEM of the key, or of
// its hash tag (the bytes between the first '{' and the next '}', when that
// is not empty), modulo 16384. Identical to Redis's keyHashSlot(), so that
// cluster-aware clients compute the same slot.
#pragma once

#include <cstdint>
#include <string_view>

namespace troupe::cache {

constexpr uint16_t slot_count = 16384;

/// CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection).
uint16_t crc16(std::string_view bytes);

/// The hash slot of `key`, 0..16383.
uint16_t key_slot(std::string_view key);

} // namespace troupe::cache
