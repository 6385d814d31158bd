#pragma once
// The door to matrix products (core/blas.cpp is the only file that includes cblas.h, and the one
// that chooses between OpenBLAS and core/onednn.hpp; nyx-bench and the tests also call each library
// directly, to compare them). Row-major GEMM, C = op(A) · op(B) + beta · C with beta 0 or 1, on the
// calling thread, with transposes passed as flags rather than copied. ops/matmul.cpp runs these
// inside oneTBB's tasks.
//
// Which library computes a product (DESIGN.md, "Performance rules", has the measurements):
//   f64:          OpenBLAS.
//   f32:          oneDNN where its AVX-512 kernels run (onednn::available()), else OpenBLAS.
//   bf16 inputs:  oneDNN (f32 result and accumulation). It is fast only where the CPU has
//                 AVX512_BF16 (native_bf16()); elsewhere it emulates bf16 several times slower than
//                 f32, so autocast then multiplies f32 operands rounded to bf16 instead: the same
//                 products, summed in another order (ops/matmul.cpp).
// NYX_GEMM=openblas in the environment sends f32 products to OpenBLAS too (for comparisons), and
// NYX_GEMM=bf16 makes native_bf16() true on any CPU where oneDNN runs (slowly where it emulates
// bf16), to test that path.
#include <cstdint>
#include <string_view>

#include "dtype.hpp"

namespace nyx::blas {

void use_single_thread();  // OpenBLAS runs one thread per call; TBB supplies the parallelism

enum class Backend { openblas, onednn };
std::string_view name(Backend backend);

// The library gemm() uses for products with `input` operands (f32, f64 or bf16).
Backend backend_for(DType input);

// Whether autocast hands bf16 operands to oneDNN: where bf16 products run at bf16 speed (a CPU with
// AVX512_BF16 or AMX), or when NYX_GEMM=bf16.
bool native_bf16();

// beta must be 0 or 1 (an nyx::Error otherwise); k may be 0.
template <class T>  // float or double
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// bf16 operands, f32 result and accumulation. Needs oneDNN (onednn::available()): an nyx::Error
// otherwise.
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const bfloat16* a,
          std::int64_t lda, const bfloat16* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

// OpenBLAS itself, whatever gemm() would choose (nyx-bench gemm compares the libraries with it).
template <class T>
void openblas_gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

}  // namespace nyx::blas
