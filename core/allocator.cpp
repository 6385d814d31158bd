#include "allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "error.hpp"

namespace nyx::memory {
namespace {

// Blocks up to 4 KiB round up to 64 bytes; larger ones to an eighth of their power of two, so at
// most 12.5% is wasted and a step's varying sizes fall into few classes.
std::size_t size_class(std::size_t nbytes) {
    if (nbytes <= 4096) return (nbytes + alignment - 1) / alignment * alignment;
    const std::size_t step = std::bit_ceil(nbytes) / 8;
    return (nbytes + step - 1) / step * step;
}

// The cache keeps at most this much; beyond it released blocks go back to the system.
constexpr std::size_t cache_limit = std::size_t{4} << 30;

struct SizeClass {
    std::vector<void*> blocks;  // cached, free
    std::uint64_t last_used = 0;  // the pool's clock when a block of this size last came or went
};

struct Pool {
    std::mutex mutex;
    std::unordered_map<std::size_t, SizeClass> classes;  // by size
    std::uint64_t clock = 0;
    Stats stats;

    void free_all_cached() { evict_until(0); }

    // Returns cached blocks to the system, least recently used size first, until at most `limit`
    // bytes stay cached. The sizes a training step still uses are the last to go.
    void evict_until(std::size_t limit) {
        while (stats.cached_bytes > limit) {
            auto oldest = classes.end();
            for (auto it = classes.begin(); it != classes.end(); ++it)
                if (!it->second.blocks.empty() && (oldest == classes.end() || it->second.last_used < oldest->second.last_used))
                    oldest = it;
            std::free(oldest->second.blocks.back());
            oldest->second.blocks.pop_back();
            stats.cached_bytes -= oldest->first;
        }
    }
};

Pool& pool() {
    static Pool* instance = new Pool;  // never destroyed: tensors may outlive static destruction
    return *instance;
}

}  // namespace

void* allocate(std::size_t nbytes) {
    const std::size_t size = size_class(nbytes);
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    SizeClass& cls = p.classes[size];
    cls.last_used = ++p.clock;
    void* block = nullptr;
    if (!cls.blocks.empty()) {
        block = cls.blocks.back();
        cls.blocks.pop_back();
        p.stats.cached_bytes -= size;
    } else {
        // Live and cached bytes together stay within twice the most ever live at once: a miss first
        // returns the least recently used cached blocks to the system, so sizes that vary from step
        // to step (sequences of varying length) cannot grow the cache without bound, while a step
        // whose sizes repeat (its blocks of every size, at their most, need more than its peak of
        // live bytes) is served from the cache alone.
        ++p.stats.misses;
        p.stats.high_water_bytes = std::max(p.stats.high_water_bytes, p.stats.live_bytes + size);
        const std::size_t bound = 2 * p.stats.high_water_bytes;
        p.evict_until(bound - std::min(bound, p.stats.live_bytes + size));
        block = std::aligned_alloc(alignment, size);
        if (!block && p.stats.cached_bytes > 0) {
            p.free_all_cached();
            block = std::aligned_alloc(alignment, size);
        }
        NYX_CHECK(block, "out of memory: cannot allocate ", nbytes, " bytes for a tensor (", p.stats.live_bytes,
                  " bytes already live)");
    }
    p.stats.live_bytes += size;
    p.stats.peak_live_bytes = std::max(p.stats.peak_live_bytes, p.stats.live_bytes);
    return block;
}

void release(void* block, std::size_t nbytes) {
    if (!block) return;
    const std::size_t size = size_class(nbytes);
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    p.stats.live_bytes -= size;
    if (p.stats.cached_bytes + size > cache_limit) {
        std::free(block);
        return;
    }
    SizeClass& cls = p.classes[size];
    cls.blocks.push_back(block);
    cls.last_used = ++p.clock;
    p.stats.cached_bytes += size;
}

Stats stats() {
    std::lock_guard lock(pool().mutex);
    return pool().stats;
}

void reset_peak() {
    std::lock_guard lock(pool().mutex);
    pool().stats.peak_live_bytes = pool().stats.live_bytes;
}

void empty_cache() {
    std::lock_guard lock(pool().mutex);
    pool().free_all_cached();
}

}  // namespace nyx::memory
