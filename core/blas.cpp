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

// NYX_GEMM: unset or "auto" lets nyx choose; "openblas" keeps f32 products on OpenBLAS; "bf16"
// sends autocast's products to oneDNN as bf16 even where the CPU emulates it (slowly), so that the
// path of CPUs with AVX512_BF16 can be tested on any AVX-512 CPU.
std::string_view gemm_setting() {
    static const std::string setting = [] {
        const char* value = std::getenv("NYX_GEMM");
        const std::string text = value ? value : "auto";
        NYX_CHECK(text == "auto" || text == "openblas" || text == "bf16", "NYX_GEMM must be auto, openblas or bf16, got \"",
                  text.substr(0, 40), "\"");
        return text;
    }();
    return setting;
}

}  // namespace

std::string_view name(Backend backend) { return backend == Backend::onednn ? "oneDNN" : "OpenBLAS"; }

Backend backend_for(DType input) {
    if (input == f64 || !onednn::available()) return Backend::openblas;
    return input == f32 && gemm_setting() == "openblas" ? Backend::openblas : Backend::onednn;
}

bool native_bf16() { return onednn::native_bf16() || (onednn::available() && gemm_setting() == "bf16"); }

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

namespace {
// The cases no library is asked about: an empty C, and k = 0 (C = 0, or unchanged when accumulating).
// True when the product is done.
template <class T>
bool trivial(std::int64_t m, std::int64_t n, std::int64_t k, T beta, T* c, std::int64_t ldc) {
    NYX_CHECK(beta == T{0} || beta == T{1}, "blas::gemm: beta must be 0 or 1, got ", beta);
    if (m == 0 || n == 0) return true;
    if (k > 0) return false;
    if (beta == T{0})
        for (std::int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, T{0});
    return true;
}
}  // namespace

template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
    if (trivial(m, n, k, beta, c, ldc)) return;
    if constexpr (std::is_same_v<T, float>) {
        if (backend_for(f32) == Backend::onednn && onednn::gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta != 0, c, ldc))
            return;  // else oneDNN has no kernel for this layout, and OpenBLAS computes it
    }
    openblas_gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const bfloat16* a,
          std::int64_t lda, const bfloat16* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    if (trivial(m, n, k, beta, c, ldc)) return;
    const bool done = onednn::available() && onednn::gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, beta != 0, c, ldc);
    NYX_CHECK(done, "matmul: this product of bf16 tensors ([", m, ", ", k, "] x [", k, ", ", n, "]) needs oneDNN on an "
              "AVX-512 CPU, which this build or CPU lacks; under autocast nyx rounds the operands in f32 instead, and so "
              "can you (.to(nyx::f32))");
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
