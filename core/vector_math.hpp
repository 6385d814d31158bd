#pragma once
// Vectorised kernels for contiguous f32 arrays, used by the hot elementwise and row ops.
//   - exp, erf, tanh: glibc's libmvec (part of libc6) at the widest width the CPU has
//     (AVX-512, AVX2 or SSE), chosen at run time, so a portable build still uses AVX-512; at most
//     a few ulp from the scalar functions. Every element, tails included, goes through the vector
//     function, so results never depend on how a parallel loop split the array.
//   - sum, dot, max: 16 partial results combined in a fixed order, which the compiler can
//     vectorise without -ffast-math and which give the same bits on every run. sum and dot
//     accumulate in f64 and return it, for f32 too: a sum of squares of any f32 values cannot
//     overflow, and a mean keeps its fraction beside a large offset (DESIGN.md, "Numerics").
#include <cstdint>

#include "dtype.hpp"

// Marks a hot kernel to be compiled for AVX-512, AVX2 and baseline x86-64, with the version the CPU
// supports picked when the program loads (GCC's function multiversioning): portable builds still
// run their inner loops at full vector width. Works on function templates too.
// Not under ThreadSanitizer: it instruments the clones' resolvers, which the loader runs before the
// TSan runtime has started (the program crashes at load). Not when built with NYX_VECTORIZE=OFF
// (NYX_NO_VECTORIZE): then nyx's kernels run baseline code, and libmvec its SSE width, as on a CPU
// without AVX.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__) && !defined(NYX_NO_VECTORIZE)
#define NYX_VECTORIZED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NYX_VECTORIZED
#endif

namespace nyx::vmath {

void exp(const float* in, float* out, std::int64_t n);   // out may equal in
void erf(const float* in, float* out, std::int64_t n);
void tanh(const float* in, float* out, std::int64_t n);
double sum(const float* x, std::int64_t n);
// bf16 conversions (round to nearest even; NaN stays NaN), vectorised: to bf16 storage, or rounded
// to bf16's precision in f32 storage (exactly the values the first gives, widened back).
void to_bf16(const float* in, bfloat16* out, std::int64_t n);
void round_to_bf16(const float* in, float* out, std::int64_t n);
double dot(const float* x, const float* y, std::int64_t n);
float max(const float* x, std::int64_t n);              // -inf for n = 0; NaN if any element is NaN

// The same for f64, as plain loops over the scalar functions (exact, in order), so that kernels
// are written once for both types.
void exp(const double* in, double* out, std::int64_t n);
void erf(const double* in, double* out, std::int64_t n);
void tanh(const double* in, double* out, std::int64_t n);
double sum(const double* x, std::int64_t n);
double dot(const double* x, const double* y, std::int64_t n);
double max(const double* x, std::int64_t n);

}  // namespace nyx::vmath
