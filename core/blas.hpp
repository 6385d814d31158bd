#pragma once
// The only door to BLAS (core/blas.cpp is the only file that includes cblas.h). Row-major GEMM,
// C = alpha * op(A) * op(B) + beta * C, with transposes passed as flags rather than copied.
#include <cstdint>

namespace nyx::blas {

void use_single_thread();  // OpenBLAS runs one thread per call; TBB supplies the parallelism

template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

}  // namespace nyx::blas
