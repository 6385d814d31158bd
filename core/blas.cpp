#include "blas.hpp"

#include <type_traits>

#include <cblas.h>

namespace nyx::blas {

void use_single_thread() { openblas_set_num_threads(1); }

namespace {
// Runs before main so that no GEMM ever starts OpenBLAS's own thread pool.
const bool single_threaded_at_start = (use_single_thread(), true);

CBLAS_TRANSPOSE flag(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }
}  // namespace

template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    auto call = [&](auto cblas_gemm) {
        cblas_gemm(CblasRowMajor, flag(transpose_a), flag(transpose_b), static_cast<blasint>(m), static_cast<blasint>(n),
                   static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                   static_cast<blasint>(ldc));
    };
    if constexpr (std::is_same_v<T, float>) call(cblas_sgemm);
    else call(cblas_dgemm);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace nyx::blas
