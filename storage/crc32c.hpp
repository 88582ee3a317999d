// CRC32C (Castagnoli), the checksum of every stored Raft record.
//
// Why CRC32C: it detects every burst error up to 32 bits and all odd-bit
// errors, is the storage industry's usual choice (ext4 metadata, iSCSI,
// LevelDB, RocksDB), and has CPU instructions (SSE4.2, ARMv8) to switch to
// if it ever shows in a profile. OpenSSL has no CRC32C, and it is too short
// to justify a dependency, so it is written here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace troupe::storage {

/// CRC32C of `size` bytes at `data` (check value: "123456789" -> 0xE3069283).
uint32_t crc32c(const void* data, size_t size) noexcept;

} // namespace troupe::storage
