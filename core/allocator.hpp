#pragma once
// The caching allocator that serves all tensor storage: 64-byte-aligned blocks, rounded up to size
// classes and kept on free lists when released, so a training step reuses the previous step's
// blocks instead of going back to the system. A request takes the smallest cached block that fits
// within twice its size, so steps of varying sequence length share blocks. Live and cached blocks together never exceed twice
// the most the process has had live at once; the least recently used sizes are returned to the
// system first. Thread-safe.
#include <cstddef>

namespace nyx::memory {

inline constexpr std::size_t alignment = 64;

void* allocate(std::size_t nbytes);              // nbytes > 0; throws nyx::Error when out of memory
void release(void* block, std::size_t nbytes);  // the same nbytes that were asked for

struct Stats {
    std::size_t live_bytes = 0;       // in blocks handed out and not yet released (size classes)
    std::size_t peak_live_bytes = 0;  // the most live_bytes has been since the last reset_peak()
    std::size_t cached_bytes = 0;     // in released blocks kept for reuse
    std::size_t high_water_bytes = 0; // the most ever live at once; live + cached stays within twice it
    std::size_t misses = 0;            // allocations the cache could not serve (system allocations)
};
Stats stats();
void reset_peak();
void empty_cache();  // returns every cached block to the system

}  // namespace nyx::memory
