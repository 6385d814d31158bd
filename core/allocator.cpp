#include "allocator.hpp"

#include <bit>
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

struct Pool {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_blocks;  // by size class
    Stats stats;

    void free_all_cached() { evict_until(0); }

    // Returns cached blocks to the system until at most `limit` bytes stay cached.
    void evict_until(std::size_t limit) {
        while (stats.cached_bytes > limit) {
            auto it = free_blocks.begin();
            if (it->second.empty()) {  // a size class whose blocks are all in use
                free_blocks.erase(it);
                continue;
            }
            std::free(it->second.back());
            it->second.pop_back();
            stats.cached_bytes -= it->first;
            if (it->second.empty()) free_blocks.erase(it);
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
    void* block = nullptr;
    if (auto it = p.free_blocks.find(size); it != p.free_blocks.end() && !it->second.empty()) {
        block = it->second.back();
        it->second.pop_back();
        p.stats.cached_bytes -= size;
    } else {
        // Live and cached bytes together never pass the most ever live at once: a miss first returns
        // cached blocks of other sizes to the system, so shapes that vary from step to step
        // (sequences of varying length) cannot grow the cache without bound.
        p.stats.high_water_bytes = std::max(p.stats.high_water_bytes, p.stats.live_bytes + size);
        p.evict_until(p.stats.high_water_bytes - p.stats.live_bytes - size);
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
    p.free_blocks[size].push_back(block);
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
