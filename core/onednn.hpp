#pragma once
// The door to oneDNN (core/onednn.cpp is the only file that includes dnnl.hpp): its matmul
// primitive, for row-major products C = op(A) · op(B) (+ C) with f32 or bf16 inputs and an f32
// result accumulated in f32. core/blas.cpp decides which products come here (DESIGN.md,
// "Performance rules"); nyx-bench and the tests call it directly to compare the libraries.
//
// Each call runs on the calling thread only: nyx's parallelism is oneTBB's, and Debian builds
// oneDNN on OpenMP, so each call sets the calling thread's OpenMP team size to 1 and restores it
// after (an application's own OpenMP code keeps its setting). Primitives are made once per
// distinct shape, layout and dtype (the JIT costs 0.05-8 ms) and kept in a cache that any thread
// can run concurrently, with a scratchpad of the calling thread's own.
#include <cstdint>

#include "dtype.hpp"

namespace nyx::onednn {

// Built with oneDNN (the CMake option NYX_DNNL) and running on a CPU where its AVX-512 kernels
// run (the ISA oneDNN detects, which ONEDNN_MAX_CPU_ISA can lower).
bool available();

// available(), and the CPU has AVX512_BF16 (or AMX): bf16 products run at bf16 speed. Without it
// oneDNN emulates bf16 several times slower than f32, so core/blas.cpp widens bf16 to f32 instead.
bool native_bf16();

// oneDNN's name for the ISA it runs, for reports ("avx512_core_vnni", "avx512_core_bf16", ...);
// "none" when nyx was built without oneDNN.
const char* isa_name();

// C = op(A) · op(B), or C += op(A) · op(B) when accumulate, on the calling thread. op(A) is m×k:
// A read row-major with leading dimension lda, or transposed; likewise op(B), k×n; C is m×n with
// leading dimension ldc. In is float or bfloat16. Needs available(). Returns false, having written
// nothing, when oneDNN has no kernel for this layout (the caller then uses another library);
// throws nyx::Error when a kernel fails.
template <class In>
bool gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, const In* a,
          std::int64_t lda, const In* b, std::int64_t ldb, bool accumulate, float* c, std::int64_t ldc);

}  // namespace nyx::onednn
