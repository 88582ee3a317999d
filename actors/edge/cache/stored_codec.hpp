// A byte encoding of stored_response, for handing objects to a second tier
// (the cluster's cache shards, L2) and back. Format (docs/edge-caching.md):
// little-endian, length-prefixed; the decoder checks every length against
// the limits and the input size and rejects trailing bytes. Fuzzed by
// tests/fuzz/edge_cache_parse_fuzz.cpp.
#pragma once

#include "actors/edge/cache/cache.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace troupe::edge::cache {

/// Encodes `s` (the `invalidated` flag included).
std::string encode_stored(const stored_response& s);

/// Decodes what encode_stored made; nullptr if malformed, if any field
/// breaks `cfg`'s limits (max_object_bytes, max_surrogate_keys, header and
/// Vary counts), or if there are trailing bytes.
std::shared_ptr<const stored_response> decode_stored(std::string_view bytes,
                                                     const config& cfg);

} // namespace troupe::edge::cache
