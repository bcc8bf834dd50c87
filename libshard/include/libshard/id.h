// Record IDs are byte strings. Routing hashes exactly these bytes, so the
// same logical ID must always be encoded the same way: use these helpers
// rather than ad-hoc formatting (a u64 is 8 big-endian bytes, never its
// decimal text; a UUID is its 16 raw bytes).
//
// Thread-safety: all functions are thread-safe. NewUuidV7 is monotonic
// within a process, across threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "libshard/status.h"

namespace libshard {

using Id = std::string;

// Longest ID accepted by the store (fits an indexed VARBINARY on MariaDB).
inline constexpr std::size_t kMaxIdBytes = 255;

namespace ids {

// UTF-8 or any other text: the bytes as they are.
inline Id FromString(std::string_view s) { return Id(s); }

// 8 bytes, big-endian, so byte order equals numeric order.
Id FromU64(uint64_t v);
// Inverse of FromU64; InvalidArgument unless `id` is exactly 8 bytes.
Result<uint64_t> ToU64(std::string_view id);

using Uuid = std::array<uint8_t, 16>;
Id FromUuid(const Uuid& uuid);
// Parses "0190a0c2-7b1e-7c3d-8e4f-0123456789ab" (hyphens optional, any
// case) into its 16 raw bytes.
Result<Id> ParseUuid(std::string_view text);
// Canonical lower-case 8-4-4-4-12 form; InvalidArgument unless 16 bytes.
Result<std::string> FormatUuid(std::string_view id);

// A new RFC 9562 UUIDv7: 48-bit Unix milliseconds, then randomness, with a
// counter that keeps IDs strictly increasing within this process. Needs no
// worker id, so two processes never have to coordinate.
Id NewUuidV7();

// Lower-case hex of arbitrary bytes, for display and logs.
std::string ToHex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);

}  // namespace ids
}  // namespace libshard
