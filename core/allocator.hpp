#pragma once
// The caching allocator that serves all tensor storage: 64-byte-aligned blocks, rounded up to size
// classes and kept on free lists when released, so a training step reuses the previous step's
// blocks instead of going back to the system. A request takes the smallest cached block within
// twice its size, so steps of varying sequence length share blocks. The blocks held, live and
// cached, never exceed twice the most the tensors have needed at once (high_water_bytes); on a
// miss the least recently used sizes go back to the system first. Thread-safe.
#include <cstddef>

namespace nyx::memory {

inline constexpr std::size_t alignment = 64;

void* allocate(std::size_t nbytes);              // nbytes > 0; throws nyx::Error when out of memory
void release(void* block, std::size_t nbytes);  // the same nbytes that were asked for

// Live figures count what the tensors asked for (rounded to size classes), not the possibly larger
// cached blocks that serve them, so they do not depend on what happened to be cached.
struct Stats {
    std::size_t live_bytes = 0;        // asked for by blocks handed out and not yet released
    std::size_t peak_live_bytes = 0;   // the most live_bytes has been since the last reset_peak()
    std::size_t cached_bytes = 0;      // in released blocks kept for reuse
    std::size_t high_water_bytes = 0;  // the most live_bytes has ever been
    std::size_t misses = 0;            // allocations the cache could not serve (system allocations)
};
Stats stats();
void reset_peak();
void empty_cache();  // returns every cached block to the system

}  // namespace nyx::memory
