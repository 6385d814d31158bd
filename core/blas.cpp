#include "blas.hpp"

#include <cblas.h>

namespace nyx::blas {

void use_single_thread() { openblas_set_num_threads(1); }

namespace {
// Runs before main so that no GEMM ever starts OpenBLAS's own thread pool.
const bool single_threaded_at_start = (use_single_thread(), true);

CBLAS_TRANSPOSE flag(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }
}  // namespace

template <>
void gemm<float>(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
    cblas_sgemm(CblasRowMajor, flag(transpose_a), flag(transpose_b), static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

template <>
void gemm<double>(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                  std::int64_t ldc) {
    cblas_dgemm(CblasRowMajor, flag(transpose_a), flag(transpose_b), static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace nyx::blas
