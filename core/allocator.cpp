#include "allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "error.hpp"

// Under AddressSanitizer the pool poisons what no tensor may touch: every cached block, and the
// bytes of a live block past the request it serves. ASan then reports a use after free or an
// overflow inside the pool as it would for malloc's own blocks.
#if defined(__SANITIZE_ADDRESS__)
#define NYX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NYX_ASAN 1
#endif
#endif
#ifdef NYX_ASAN
#include <sanitizer/asan_interface.h>
#define NYX_POISON(block, bytes) ASAN_POISON_MEMORY_REGION(block, bytes)
#define NYX_UNPOISON(block, bytes) ASAN_UNPOISON_MEMORY_REGION(block, bytes)
#else
#define NYX_POISON(block, bytes) ((void)(block), (void)(bytes))
#define NYX_UNPOISON(block, bytes) ((void)(block), (void)(bytes))
#endif

namespace nyx::memory {
namespace {

// Returns a block to the system.
void free_block(void* block, std::size_t size) {
    NYX_UNPOISON(block, size);
    std::free(block);
}

// Blocks up to 4 KiB round up to 64 bytes; larger ones to an eighth of their power of two, so at
// most 12.5% is wasted and a step's varying sizes fall into few classes.
std::size_t size_class(std::size_t nbytes) {
    if (nbytes <= 4096) return (nbytes + alignment - 1) / alignment * alignment;
    const std::size_t step = std::bit_ceil(nbytes) / 8;
    return (nbytes + step - 1) / step * step;
}

struct SizeClass {
    std::vector<void*> blocks;    // cached, free
    std::uint64_t last_used = 0;  // the pool's clock when a block of this size last came or went
};

struct Block {
    std::size_t size;       // the block's own size class
    std::size_t requested;  // the size class of the request it serves (at most `size`)
};

struct Pool {
    std::mutex mutex;
    std::map<std::size_t, SizeClass> classes;  // cached blocks by size
    std::unordered_map<void*, Block> live;     // the blocks handed out
    std::size_t held_live_bytes = 0;           // the sizes of the live blocks (≥ stats.live_bytes)
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
            free_block(oldest->second.blocks.back(), oldest->first);  // cached_bytes > 0, so some class has a block
            oldest->second.blocks.pop_back();
            stats.cached_bytes -= oldest->first;
        }
    }

    // A block of at least `size` bytes from the system, after returning cached blocks so that the
    // bytes held (live and cached) stay within twice `high_water`.
    void* system_block(std::size_t size, std::size_t high_water) {
        const std::size_t bound = high_water > SIZE_MAX / 2 ? SIZE_MAX : 2 * high_water;
        const std::size_t needed = held_live_bytes + size;
        evict_until(bound - std::min(bound, needed));
        void* block = std::aligned_alloc(alignment, size);
        if (!block && stats.cached_bytes > 0) {
            free_all_cached();
            block = std::aligned_alloc(alignment, size);
        }
        return block;
    }

    // Puts a block on its size's free list; returns it to the system if even that fails.
    void cache(void* block, std::size_t size) noexcept {
        try {
            SizeClass& cls = classes[size];
            cls.blocks.push_back(block);
            cls.last_used = ++clock;
            stats.cached_bytes += size;
            NYX_POISON(block, size);
        } catch (...) {  // no memory for the list itself
            free_block(block, size);
        }
    }
};

Pool& pool() {
    static Pool* instance = new Pool;  // never destroyed: tensors may outlive static destruction
    return *instance;
}

}  // namespace

void* allocate(std::size_t nbytes) {
    const std::size_t requested = size_class(nbytes);
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    // The smallest cached block of at least `requested` and at most twice it: sequences whose
    // length varies from step to step reuse the longer steps' blocks instead of going to the system.
    auto fit = p.classes.lower_bound(requested);
    while (fit != p.classes.end() && fit->first / 2 <= requested && fit->second.blocks.empty()) ++fit;
    void* block = nullptr;
    std::size_t size = requested;
    const std::size_t live_after = p.stats.live_bytes + requested;
    if (fit != p.classes.end() && fit->first / 2 <= requested) {
        size = fit->first;
        block = fit->second.blocks.back();
        fit->second.blocks.pop_back();
        p.stats.cached_bytes -= size;
    } else {
        // Held bytes (live and cached blocks) stay within twice the most the tensors ever needed at
        // once: a miss first returns the least recently used cached blocks to the system, so sizes
        // that vary from step to step cannot grow the cache without bound, while a step whose sizes
        // repeat (its blocks of every size, at their most, need more than its peak) is served from
        // the cache alone.
        ++p.stats.misses;
        block = p.system_block(requested, std::max(p.stats.high_water_bytes, live_after));
        NYX_CHECK(block, "out of memory: cannot allocate ", nbytes, " bytes for a tensor (", p.stats.live_bytes,
                  " bytes already live)");
    }
    try {
        p.classes[size].last_used = ++p.clock;
        p.live.emplace(block, Block{size, requested});
    } catch (...) {
        p.cache(block, size);
        throw;
    }
    p.held_live_bytes += size;
    p.stats.live_bytes = live_after;
    p.stats.peak_live_bytes = std::max(p.stats.peak_live_bytes, live_after);
    p.stats.high_water_bytes = std::max(p.stats.high_water_bytes, live_after);
    NYX_POISON(block, size);
    NYX_UNPOISON(block, nbytes);
    return block;
}

void release(void* block, std::size_t /*nbytes*/) {
    if (!block) return;
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    const auto it = p.live.find(block);
    if (it == p.live.end()) {  // a broken invariant, like a double free: stop before memory is corrupted
        std::fprintf(stderr, "nyx::memory::release: %p was not handed out by this allocator, or was released twice\n", block);
        std::abort();
    }
    const Block b = it->second;
    p.live.erase(it);
    p.held_live_bytes -= b.size;
    p.stats.live_bytes -= b.requested;
    p.cache(block, b.size);
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
