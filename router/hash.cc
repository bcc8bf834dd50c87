#include "router/hash.h"

// XXH_INLINE_ALL is set by the build: the whole of XXH3 is compiled here, so
// short keys avoid a call into libxxhash (about 1.7x faster on 16 bytes).
#include <xxhash.h>

namespace libshard::router {

uint64_t HashId(std::string_view id, uint64_t seed) {
  return XXH3_64bits_withSeed(id.data(), id.size(), seed);
}

}  // namespace libshard::router
