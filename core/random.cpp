#include "random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "loops.hpp"

namespace nyx {

Generator& Generator::operator=(const Generator& other) {
    seed_ = other.seed_;
    offset_.store(other.offset_.load());
    return *this;
}

void Generator::manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_.store(0);
}

Generator& default_generator() {
    static Generator generator(0);
    return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::array<std::uint32_t, 4> philox(std::uint64_t counter, std::uint64_t key) {
    std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
    std::uint32_t c2 = 0, c3 = 0;
    std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t p0 = std::uint64_t{0xD2511F53} * c0;
        const std::uint64_t p1 = std::uint64_t{0xCD9E8D57} * c2;
        const std::uint32_t next0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
        const std::uint32_t next2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c1 = static_cast<std::uint32_t>(p1);
        c3 = static_cast<std::uint32_t>(p0);
        c0 = next0;
        c2 = next2;
        k0 += 0x9E3779B9;
        k1 += 0xBB67AE85;
    }
    return {c0, c1, c2, c3};
}

#if defined(__SSE2__)
namespace {
// hi and lo halves of the 32×32-bit products a · m, four lanes at once: SSE2 multiplies the even
// lanes (0, 2), so the odd ones are shifted down, multiplied, and the halves put back in place.
void mul_hi_lo(__m128i a, __m128i m, __m128i& hi, __m128i& lo) {
    const __m128i low_words = _mm_set_epi32(0, -1, 0, -1);
    const __m128i even = _mm_mul_epu32(a, m), odd = _mm_mul_epu32(_mm_srli_epi64(a, 32), m);
    hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low_words, odd));
    lo = _mm_or_si128(_mm_and_si128(even, low_words), _mm_slli_epi64(odd, 32));
}
}  // namespace

namespace {
// GCC 12's AVX-512 intrinsics use _mm512_undefined_epi32() for their pass-through operand, which it
// then reports as uninitialized (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// hi and lo halves of the 32×32-bit products a · m, 16 lanes: the even lanes, then the odd ones shifted down.
__attribute__((target("avx512f"))) inline void mul_hi_lo_512(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
    const __m512i low_words = _mm512_set1_epi64(0xffffffffLL);
    const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    hi = _mm512_or_si512(_mm512_srli_epi64(even, 32), _mm512_andnot_si512(low_words, odd));
    lo = _mm512_or_si512(_mm512_and_si512(even, low_words), _mm512_slli_epi64(odd, 32));
}

// The rounds of philox above, on all 16 counters in one AVX-512 register.
__attribute__((target("avx512f"))) PhiloxBlock philox_block_avx512(std::uint64_t first, std::uint64_t key) {
    static_assert(philox_block_size == 16);
    const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i base = _mm512_set1_epi64(static_cast<long long>(first));
    const __m512i counters_low = _mm512_add_epi64(base, lanes);
    const __m512i counters_high = _mm512_add_epi64(base, _mm512_add_epi64(lanes, _mm512_set1_epi64(8)));
    // Lanes 0-15 of the low and high 32-bit halves of the 16 counters.
    const __m512i order = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __m512i c0 = _mm512_permutex2var_epi32(counters_low, order, counters_high);
    __m512i c1 = _mm512_permutex2var_epi32(counters_low, _mm512_add_epi32(order, _mm512_set1_epi32(1)), counters_high);
    __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
    const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
    std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        __m512i hi0, lo0, hi1, lo1;
        mul_hi_lo_512(c0, m0, hi0, lo0);
        mul_hi_lo_512(c2, m1, hi1, lo1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(k0)));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(k1)));
        c1 = lo1;
        c3 = lo0;
        k0 += 0x9E3779B9;
        k1 += 0xBB67AE85;
    }
    PhiloxBlock words;
    _mm512_storeu_si512(words[0].data(), c0);
    _mm512_storeu_si512(words[1].data(), c1);
    _mm512_storeu_si512(words[2].data(), c2);
    _mm512_storeu_si512(words[3].data(), c3);
    return words;
}
#pragma GCC diagnostic pop

bool use_avx512() {
#if defined(NYX_NO_VECTORIZE) || defined(__SANITIZE_THREAD__)
    return false;
#else
    static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("avx512f"));
    return yes;
#endif
}
}  // namespace

// The rounds of philox above, on four counters per SSE2 register (all 16 at once with AVX-512).
PhiloxBlock philox_block(std::uint64_t first, std::uint64_t key) {
    if (use_avx512()) return philox_block_avx512(first, key);
    constexpr int groups = philox_block_size / 4;
    PhiloxBlock words;
    __m128i c[4][groups];
    for (int g = 0; g < groups; ++g) {
        alignas(16) std::uint32_t low[4], high[4];
        for (int l = 0; l < 4; ++l) {
            const std::uint64_t counter = first + static_cast<std::uint64_t>(4 * g + l);
            low[l] = static_cast<std::uint32_t>(counter);
            high[l] = static_cast<std::uint32_t>(counter >> 32);
        }
        c[0][g] = _mm_load_si128(reinterpret_cast<const __m128i*>(low));
        c[1][g] = _mm_load_si128(reinterpret_cast<const __m128i*>(high));
        c[2][g] = c[3][g] = _mm_setzero_si128();
    }
    const __m128i m0 = _mm_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm_set1_epi32(static_cast<int>(0xCD9E8D57u));
    std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        const __m128i key0 = _mm_set1_epi32(static_cast<int>(k0)), key1 = _mm_set1_epi32(static_cast<int>(k1));
        for (int g = 0; g < groups; ++g) {
            __m128i hi0, lo0, hi1, lo1;
            mul_hi_lo(c[0][g], m0, hi0, lo0);
            mul_hi_lo(c[2][g], m1, hi1, lo1);
            c[0][g] = _mm_xor_si128(_mm_xor_si128(hi1, c[1][g]), key0);
            c[2][g] = _mm_xor_si128(_mm_xor_si128(hi0, c[3][g]), key1);
            c[1][g] = lo1;
            c[3][g] = lo0;
        }
        k0 += 0x9E3779B9;
        k1 += 0xBB67AE85;
    }
    for (int j = 0; j < 4; ++j)
        for (int g = 0; g < groups; ++g) _mm_storeu_si128(reinterpret_cast<__m128i*>(&words[j][4 * g]), c[j][g]);
    return words;
}
#else
PhiloxBlock philox_block(std::uint64_t first, std::uint64_t key) {
    PhiloxBlock words;
    for (int l = 0; l < philox_block_size; ++l) {
        const auto w = philox(first + static_cast<std::uint64_t>(l), key);
        for (int j = 0; j < 4; ++j) words[j][l] = w[j];
    }
    return words;
}
#endif

namespace {

// A double in [0, 1) from 53 random bits.
double unit(std::uint32_t high, std::uint32_t low) {
    return static_cast<double>(((std::uint64_t{high} << 32) | low) >> 11) * 0x1.0p-53;
}

// Fills a new tensor with value(words of element i's counter), in parallel.
template <class F>
Tensor generate(Shape shape, DType dtype, Generator& generator, F value) {
    Tensor t = empty(std::move(shape), dtype);
    const std::int64_t n = t.numel();
    const std::uint64_t first = generator.advance(static_cast<std::uint64_t>(n));
    const std::uint64_t key = generator.seed();
    dispatch(dtype, [&]<class T>() {
        T* out = t.data<T>();
        constexpr std::int64_t L = philox_block_size;
        parallel_for(0, (n + L - 1) / L, loops::grain / (4 * L), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t block = b; block < e; ++block) {
                const std::int64_t i0 = block * L;
                const PhiloxBlock w = philox_block(first + static_cast<std::uint64_t>(i0), key);
                for (std::int64_t l = 0; l < std::min(L, n - i0); ++l)
                    out[i0 + l] = static_cast<T>(value(std::array<std::uint32_t, 4>{w[0][l], w[1][l], w[2][l], w[3][l]}));
            }
        });
    });
    return t;
}

}  // namespace

Tensor rand(Shape shape, DType dtype, Generator& generator) {
    NYX_CHECK(is_floating(dtype), "rand: dtype must be f32 or f64, got ", dtype, "; use randint for integers");
    return generate(std::move(shape), dtype, generator, [dtype](const std::array<std::uint32_t, 4>& w) {
        // f32 takes 24 bits so that rounding never yields 1.0.
        return dtype == f32 ? static_cast<double>(w[0] >> 8) * 0x1.0p-24 : unit(w[0], w[1]);
    });
}

Tensor randn(Shape shape, DType dtype, Generator& generator) {
    NYX_CHECK(is_floating(dtype), "randn: dtype must be f32 or f64, got ", dtype);
    return generate(std::move(shape), dtype, generator, [](const std::array<std::uint32_t, 4>& w) {
        // Box-Muller on two 53-bit uniforms; 1 - u keeps the logarithm's argument in (0, 1].
        const double radius = std::sqrt(-2.0 * std::log(1.0 - unit(w[0], w[1])));
        return radius * std::cos(2.0 * std::numbers::pi * unit(w[2], w[3]));
    });
}

Tensor randint(std::int64_t low, std::int64_t high, Shape shape, Generator& generator) {
    NYX_CHECK(low < high, "randint: the range [", low, ", ", high, ") is empty; need low < high");
    const auto range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
    return generate(std::move(shape), i64, generator, [=](const std::array<std::uint32_t, 4>& w) {
        // 64 random bits modulo the range: the bias is below range / 2^64.
        const std::uint64_t bits = (std::uint64_t{w[0]} << 32) | w[1];
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + bits % range);
    });
}

double random_uniform(Generator& generator) {
    const auto w = philox(generator.advance(1), generator.seed());
    return unit(w[0], w[1]);
}

std::int64_t random_below(std::int64_t n, Generator& generator) {
    NYX_CHECK(n >= 1, "random_below: n must be at least 1, got ", n);
    const auto w = philox(generator.advance(1), generator.seed());
    return static_cast<std::int64_t>(((std::uint64_t{w[0]} << 32) | w[1]) % static_cast<std::uint64_t>(n));
}

std::vector<std::int64_t> randperm(std::int64_t n, Generator& generator) {
    NYX_CHECK(n >= 0, "randperm: n must not be negative, got ", n);
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    for (std::int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(random_below(i + 1, generator))]);
    return order;
}

}  // namespace nyx
