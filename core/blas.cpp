#include "blas.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <type_traits>

#include <cblas.h>

#include "error.hpp"
#include "onednn.hpp"

namespace nyx::blas {

void use_single_thread() { openblas_set_num_threads(1); }

namespace {
// Runs before main so that no GEMM ever starts OpenBLAS's own thread pool.
const bool single_threaded_at_start = (use_single_thread(), true);

CBLAS_TRANSPOSE flag(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

// NYX_GEMM=openblas keeps f32 products on OpenBLAS; unset or "auto" lets nyx choose.
bool openblas_forced() {
    static const bool forced = [] {
        const char* value = std::getenv("NYX_GEMM");
        const std::string text = value ? value : "";
        NYX_CHECK(text.empty() || text == "auto" || text == "openblas", "NYX_GEMM must be auto or openblas, got \"", text,
                  "\"");
        return text == "openblas";
    }();
    return forced;
}

}  // namespace

std::string_view name(Backend backend) { return backend == Backend::onednn ? "oneDNN" : "OpenBLAS"; }

Backend backend_for(DType input) {
    if (input == f64 || !onednn::available()) return Backend::openblas;
    return input == f32 && openblas_forced() ? Backend::openblas : Backend::onednn;
}

bool native_bf16() { return onednn::native_bf16(); }

template <class T>
void openblas_gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    auto call = [&](auto cblas_gemm) {
        cblas_gemm(CblasRowMajor, flag(transpose_a), flag(transpose_b), static_cast<blasint>(m), static_cast<blasint>(n),
                   static_cast<blasint>(k), T{1}, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                   static_cast<blasint>(ldc));
    };
    if constexpr (std::is_same_v<T, float>) call(cblas_sgemm);
    else call(cblas_dgemm);
}

template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;  // nothing to write (oneDNN divides by these)
    if constexpr (std::is_same_v<T, float>) {
        if (backend_for(f32) == Backend::onednn)
            return onednn::gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta != 0, c, ldc);
    }
    openblas_gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const bfloat16* a,
          std::int64_t lda, const bfloat16* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    NYX_CHECK(onednn::available(), "matmul: products of bf16 tensors need oneDNN on an AVX-512 CPU, which this build or "
              "CPU lacks; under autocast nyx rounds the operands in f32 instead, and so can you (.to(nyx::f32))");
    onednn::gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta != 0, c, ldc);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t);
template void openblas_gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t,
                                   const float*, std::int64_t, float, float*, std::int64_t);
template void openblas_gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const double*, std::int64_t,
                                    const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace nyx::blas
