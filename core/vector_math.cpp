#include "vector_math.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <immintrin.h>

// libmvec's vector variants (the x86-64 vector function ABI): b = SSE (4 lanes), d = AVX2 (8),
// e = AVX-512 (16).
extern "C" {
__m128 _ZGVbN4v_expf(__m128);
__m256 _ZGVdN8v_expf(__m256);
__m512 _ZGVeN16v_expf(__m512);
__m128 _ZGVbN4v_erff(__m128);
__m256 _ZGVdN8v_erff(__m256);
__m512 _ZGVeN16v_erff(__m512);
__m128 _ZGVbN4v_tanhf(__m128);
__m256 _ZGVdN8v_tanhf(__m256);
__m512 _ZGVeN16v_tanhf(__m512);
}

namespace nyx::vmath {
namespace {

enum class Width { sse, avx2, avx512 };

Width widest() {
    static const Width width = [] {
#ifdef NYX_NO_VECTORIZE
        return Width::sse;
#endif
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) return Width::avx512;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Width::avx2;
        return Width::sse;
    }();
    return width;
}

// Applies a libmvec function to an array, the tail too: it goes through the same vector function
// in a zero-padded buffer. So an element's result depends only on its value, never on where a
// parallel loop happened to cut the array (libmvec and the scalar functions differ by a few ulp).
__attribute__((target("avx512f"))) void map512(__m512 (*f)(__m512), const float* in, float* out, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, f(_mm512_loadu_ps(in + i)));
    if (i == n) return;
    alignas(64) float tail[16] = {};
    std::copy(in + i, in + n, tail);
    _mm512_store_ps(tail, f(_mm512_load_ps(tail)));
    std::copy(tail, tail + (n - i), out + i);
}

__attribute__((target("avx2,fma"))) void map256(__m256 (*f)(__m256), const float* in, float* out, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)));
    if (i == n) return;
    alignas(32) float tail[8] = {};
    std::copy(in + i, in + n, tail);
    _mm256_store_ps(tail, f(_mm256_load_ps(tail)));
    std::copy(tail, tail + (n - i), out + i);
}

void map128(__m128 (*f)(__m128), const float* in, float* out, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, f(_mm_loadu_ps(in + i)));
    if (i == n) return;
    alignas(16) float tail[4] = {};
    std::copy(in + i, in + n, tail);
    _mm_store_ps(tail, f(_mm_load_ps(tail)));
    std::copy(tail, tail + (n - i), out + i);
}

void apply(__m128 (*f4)(__m128), __m256 (*f8)(__m256), __m512 (*f16)(__m512), const float* in, float* out, std::int64_t n) {
    switch (widest()) {
        case Width::avx512: return map512(f16, in, out, n);
        case Width::avx2: return map256(f8, in, out, n);
        case Width::sse: return map128(f4, in, out, n);
    }
}

constexpr int lanes = 16;  // partial results per reduction

}  // namespace

void exp(const float* in, float* out, std::int64_t n) { apply(_ZGVbN4v_expf, _ZGVdN8v_expf, _ZGVeN16v_expf, in, out, n); }
void erf(const float* in, float* out, std::int64_t n) { apply(_ZGVbN4v_erff, _ZGVdN8v_erff, _ZGVeN16v_erff, in, out, n); }
void tanh(const float* in, float* out, std::int64_t n) { apply(_ZGVbN4v_tanhf, _ZGVdN8v_tanhf, _ZGVeN16v_tanhf, in, out, n); }

// The 16 partial sums added pairwise, halves onto halves: a fixed order, done in vector registers
// (adding them one by one reloads each from memory, which stalls a short row's reduction).
inline double combine(double (&partial)[lanes]) {
    for (int width = lanes / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; ++k) partial[k] += partial[k + width];
    return partial[0];
}

// Sums of f32 accumulate in f64: 16 partial sums, combined in a fixed order. A sum of squares of
// values up to f32's largest (3.4e38) does not overflow, and a mean of values near 1e8 keeps its
// fraction.
NYX_VECTORIZED double sum(const float* x, std::int64_t n) {
    double partial[lanes] = {};
    std::int64_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (int k = 0; k < lanes; ++k) partial[k] += x[i + k];
    double total = combine(partial);
    for (; i < n; ++i) total += x[i];
    return total;
}

NYX_VECTORIZED void to_bf16(const float* in, bfloat16* out, std::int64_t n) {
    auto* bits = reinterpret_cast<std::uint16_t*>(out);
    for (std::int64_t i = 0; i < n; ++i) bits[i] = bfloat16::round(in[i]);
}

NYX_VECTORIZED void round_to_bf16(const float* in, float* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(bfloat16::round(in[i])) << 16);
}

NYX_VECTORIZED double dot(const float* x, const float* y, std::int64_t n) {
    double partial[lanes] = {};
    std::int64_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (int k = 0; k < lanes; ++k) partial[k] += static_cast<double>(x[i + k]) * y[i + k];
    double total = combine(partial);
    for (; i < n; ++i) total += static_cast<double>(x[i]) * y[i];
    return total;
}

NYX_VECTORIZED float max(const float* x, std::int64_t n) {
    float partial[lanes];
    for (int k = 0; k < lanes; ++k) partial[k] = -INFINITY;
    bool nan = false;
    std::int64_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (int k = 0; k < lanes; ++k) {
            partial[k] = partial[k] > x[i + k] ? partial[k] : x[i + k];
            nan |= x[i + k] != x[i + k];
        }
    float best = -INFINITY;
    for (int k = 0; k < lanes; ++k) best = best > partial[k] ? best : partial[k];
    for (; i < n; ++i) {
        best = best > x[i] ? best : x[i];
        nan |= x[i] != x[i];
    }
    return nan ? NAN : best;
}

void exp(const double* in, double* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(in[i]);
}

void erf(const double* in, double* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::erf(in[i]);
}

void tanh(const double* in, double* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
}

double sum(const double* x, std::int64_t n) {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += x[i];
    return total;
}

double dot(const double* x, const double* y, std::int64_t n) {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += x[i] * y[i];
    return total;
}

double max(const double* x, std::int64_t n) {
    double best = -INFINITY;
    for (std::int64_t i = 0; i < n; ++i) {
        if (x[i] != x[i]) return NAN;
        best = best > x[i] ? best : x[i];
    }
    return best;
}

}  // namespace nyx::vmath
