#pragma once
// Seeded, counter-based random numbers (Philox-4x32-10, Salmon et al., SC 2011). Element i of a
// tensor draws from counter (offset + i), so its value depends only on the seed and on how many
// numbers the generator has handed out before: never on the thread count or on the order in which
// threads run.
#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "tensor.hpp"

namespace nyx {

class Generator {
  public:
    explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
    // A generator at a given point of seed's stream: replays the numbers drawn from there.
    Generator(std::uint64_t seed, std::uint64_t offset) : seed_(seed), offset_(offset) {}
    Generator(const Generator& other) : seed_(other.seed_), offset_(other.offset_.load()) {}
    Generator& operator=(const Generator& other);

    void manual_seed(std::uint64_t seed);  // restarts the stream
    std::uint64_t seed() const { return seed_; }
    std::uint64_t offset() const { return offset_.load(); }
    // Reserves `count` counters and returns the first; thread-safe.
    std::uint64_t advance(std::uint64_t count) { return offset_.fetch_add(count); }

  private:
    std::uint64_t seed_;
    std::atomic<std::uint64_t> offset_{0};
};

Generator& default_generator();
void manual_seed(std::uint64_t seed);  // seeds the default generator

// The seed of stream `stream` derived from `seed` (splitmix64's finaliser over the two), for
// generators that must draw independently from one seed: nyx-train's data, model and loader, and
// each rank of a data-parallel job.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream);

// Four independent 32-bit words for one counter under one key.
std::array<std::uint32_t, 4> philox(std::uint64_t counter, std::uint64_t key);

// philox for the 16 counters first … first + 15 at once (SIMD where the CPU has SSE2):
// words[j][l] is word j of counter first + l. Bulk draws use it.
inline constexpr int philox_block_size = 16;
using PhiloxBlock = std::array<std::array<std::uint32_t, philox_block_size>, 4>;
PhiloxBlock philox_block(std::uint64_t first, std::uint64_t key);

Tensor rand(Shape shape, DType dtype = f32, Generator& generator = default_generator());   // uniform [0, 1)
Tensor randn(Shape shape, DType dtype = f32, Generator& generator = default_generator());  // standard normal
// Uniform integers in [low, high), i64.
Tensor randint(std::int64_t low, std::int64_t high, Shape shape, Generator& generator = default_generator());

// Scalars for host-side sampling (data generation, shuffling); each call takes one counter.
double random_uniform(Generator& generator);                     // [0, 1)
std::int64_t random_below(std::int64_t n, Generator& generator);  // uniform in [0, n) (bias below n / 2^64); n ≥ 1
// A uniformly random permutation of 0..n-1 (Fisher–Yates).
std::vector<std::int64_t> randperm(std::int64_t n, Generator& generator);

}  // namespace nyx
