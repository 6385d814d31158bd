// matmul and linear: batched GEMM through core/blas.hpp (oneDNN or OpenBLAS, single-threaded per
// call), parallel over the batch with TBB, or over row blocks of one large product. Transposed
// operands are passed to the library as flags. Under autocast (autograd/autocast.hpp) both take
// bf16 copies of f32 operands, forward and backward, and return f32.
#include <algorithm>
#include <optional>
#include <type_traits>

#include <nyx/autograd/autocast.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/blas.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>
#include <nyx/core/parallel.hpp>
#include <nyx/core/vector_math.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

// How BLAS reads a rows×cols matrix with the given strides: row-major with leading dimension ld,
// or transposed (column-major) with leading dimension ld. Strides of size-1 axes do not matter.
struct Layout {
    bool transposed;
    std::int64_t ld;
};

std::optional<Layout> blas_layout(std::int64_t rows, std::int64_t cols, std::int64_t row_stride, std::int64_t col_stride) {
    const std::int64_t rs = rows == 1 ? std::max<std::int64_t>(cols, 1) : row_stride;
    const std::int64_t cs = cols == 1 ? 1 : col_stride;
    if (cs == 1 && rs >= std::max<std::int64_t>(cols, 1)) return Layout{false, rs};
    const std::int64_t rt = rows == 1 ? 1 : row_stride;
    const std::int64_t ct = cols == 1 ? std::max<std::int64_t>(rows, 1) : col_stride;
    if (rt == 1 && ct >= std::max<std::int64_t>(rows, 1)) return Layout{true, ct};
    return std::nullopt;
}

// An operand whose matrices BLAS can read in place (copied to contiguous when no layout fits).
struct Operand {
    Tensor tensor;
    Layout layout;
    Shape batch_strides;  // broadcast to the output's batch shape
};

Operand prepare(const Tensor& x, const Shape& batch) {
    const std::int64_t r = x.dim();
    auto layout = blas_layout(x.size(-2), x.size(-1), x.strides()[r - 2], x.strides()[r - 1]);
    Tensor t = x;
    if (!layout) {
        t = kernels::contiguous_copy(x);
        layout = Layout{false, std::max<std::int64_t>(x.size(-1), 1)};
    }
    const Shape own_batch(t.shape().begin(), t.shape().end() - 2);
    const Shape own_strides(t.strides().begin(), t.strides().end() - 2);
    return {t, *layout, broadcast_strides(own_batch, own_strides, batch)};
}

// out[b] = a[b] · b[b] (+ out[b] when accumulating) for every batch index b of out: [batch..., m, n],
// contiguous. The operands are In (float, double or bfloat16); out is In, or float for bfloat16.
template <class In>
void batched_gemm(const Operand& a, const Operand& b, const Tensor& out, std::int64_t m, std::int64_t n, std::int64_t k,
                  bool accumulate) {
    using T = std::conditional_t<std::is_same_v<In, bfloat16>, float, In>;
    const Shape batch(out.shape().begin(), out.shape().end() - 2);
    const std::int64_t count = numel(batch);
    T* c = out.data<T>();  // k = 0 is blas::gemm's to handle: C = 0, or unchanged when accumulating
    const T beta = accumulate ? T{1} : T{0};
    const In* pa = a.tensor.data<In>();
    const In* pb = b.tensor.data<In>();
    auto offset_of = [&](std::int64_t item, const Shape& strides) {
        std::int64_t offset = 0;
        for (auto axis = batch.size(); axis-- > 0;) {
            offset += (item % batch[axis]) * strides[axis];
            item /= batch[axis];
        }
        return offset;
    };
    // Rows [first, last) of one product.
    auto gemm_rows = [&](std::int64_t item, std::int64_t first, std::int64_t last) {
        const In* a_rows = pa + offset_of(item, a.batch_strides) + first * (a.layout.transposed ? 1 : a.layout.ld);
        blas::gemm(a.layout.transposed, b.layout.transposed, last - first, n, k, a_rows, a.layout.ld,
                   pb + offset_of(item, b.batch_strides), b.layout.ld, beta, c + item * m * n + first * n,
                   std::max<std::int64_t>(n, 1));
    };
    const std::int64_t flops = 2 * m * n * k;
    constexpr std::int64_t flops_per_task = std::int64_t{1} << 20;  // below this a task costs more than it saves
    if (count > 1) {
        parallel_for(0, count, std::max<std::int64_t>(1, flops_per_task / std::max<std::int64_t>(flops, 1)),
                     [&](std::int64_t first, std::int64_t last) {
                         for (std::int64_t item = first; item < last; ++item) gemm_rows(item, 0, m);
                     });
    } else if (count == 1) {
        // One large product: split its rows into one block per thread.
        const std::int64_t blocks = flops >= 8 * flops_per_task ? num_threads() : 1;
        parallel_for(0, m, std::max<std::int64_t>(1, (m + blocks - 1) / blocks),
                     [&](std::int64_t first, std::int64_t last) { gemm_rows(0, first, last); });
    }
}

// out = A · B (+ out when accumulating) for operands of rank >= 2; out is contiguous, of the result's
// shape, and f32 when the operands are bf16.
void gemm_into(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
    const Shape batch(out.shape().begin(), out.shape().end() - 2);
    const Operand pa = prepare(a, batch), pb = prepare(b, batch);
    auto run = [&]<class In>() { batched_gemm<In>(pa, pb, out, a.size(-2), b.size(-1), a.size(-1), accumulate); };
    if (a.dtype() == bf16) run.template operator()<bfloat16>();
    else dispatch_floating(a.dtype(), "matmul", run);
}

// C = A · B for operands of rank >= 2.
Tensor matmul_batched(const Tensor& a, const Tensor& b) {
    Shape out_shape = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                       Shape(b.shape().begin(), b.shape().end() - 2), "matmul (batch axes)");
    out_shape.push_back(a.size(-2));
    out_shape.push_back(b.size(-1));
    Tensor out = empty(out_shape, a.dtype() == bf16 ? f32 : a.dtype());
    gemm_into(a, b, out, false);
    return out;
}

// What a product reads of an operand: x itself, or under autocast x rounded to bf16: a bf16 copy
// where the CPU multiplies bf16 at bf16 speed, else an f32 copy holding the same rounded values,
// which f32 products multiply exactly as bf16 ones would (core/blas.hpp).
Tensor operand(const Tensor& x, bool low) {
    if (!low) return x;
    const Tensor d = x.detach();
    // A transposed view (Kᵀ in Q·Kᵀ) is rounded in its own layout, which the product reads with a flag.
    if (d.dim() >= 2 && !d.is_contiguous() && d.transpose(-1, -2).is_contiguous())
        return operand(d.transpose(-1, -2), low).transpose(-1, -2);
    if (blas::native_bf16()) return d.to(bf16);
    const Tensor source = kernels::contiguous(d);
    Tensor rounded = empty(x.shape(), f32);
    const float* in = source.data<float>();
    float* out = rounded.data<float>();
    parallel_for(0, rounded.numel(), loops::grain,
                 [&](std::int64_t b, std::int64_t e) { vmath::round_to_bf16(in + b, out + b, e - b); });
    return rounded;
}

// Whether autocast runs this product in bf16 (autograd/autocast.hpp): f32 operands only.
bool in_bf16(const Tensor& x) { return is_autocast_enabled() && x.dtype() == f32; }

}  // namespace

// C = A · B
Tensor matmul(const Tensor& a, const Tensor& b) {
    NYX_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: operands need rank >= 1, got shapes ", to_string(a.shape()),
              " and ", to_string(b.shape()), "; multiply by a scalar with * instead");
    NYX_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), "matmul: expected floating tensors (f32 or f64), got ",
              a.dtype(), " and ", b.dtype(), "; convert with .to(nyx::f32) (autocast makes bf16 copies of f32 operands itself)");
    NYX_CHECK(a.dtype() == b.dtype(), "matmul: dtypes differ (", a.dtype(), " and ", b.dtype(),
              "); convert one operand with .to(nyx::", a.dtype(), ")");
    const std::int64_t k = a.size(-1), k_b = b.size(b.dim() == 1 ? 0 : -2);
    if (k != k_b) {
        const bool second = b.dim() >= 2 && k == b.size(-1), first = a.dim() >= 2 && b.dim() >= 2 && a.size(-2) == k_b;
        throw Error(detail::cat("matmul: inner dimensions differ: ", to_string(a.shape()), " @ ", to_string(b.shape()),
                                " (", k, " != ", k_b, ")",
                                second  ? "; did you mean to transpose the second operand?"
                                : first ? "; did you mean to transpose the first operand?"
                                        : ""));
    }
    const Shape batch_a(a.shape().begin(), a.shape().end() - std::min<std::int64_t>(a.dim(), 2));
    const Shape batch_b(b.shape().begin(), b.shape().end() - std::min<std::int64_t>(b.dim(), 2));
    NYX_CHECK(broadcastable(batch_a, batch_b), "matmul: the batch axes of ", to_string(a.shape()), " and ",
              to_string(b.shape()), " (", to_string(batch_a), " and ", to_string(batch_b), ") do not broadcast");
    // A 1-D operand is a matrix with a unit axis added, which the result then drops.
    if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2 + (b.dim() == 1));
    if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
    const bool low = in_bf16(a);
    const Tensor a_read = operand(a, low), b_read = operand(b, low);
    Tensor c = matmul_batched(a_read, b_read);
    // dA = dC · Bᵀ, dB = Aᵀ · dC (in the broadcast batch shape; the engine sums over broadcast axes),
    // in bf16 when the forward was. Each operand is kept only when the other one's gradient needs it.
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    autograd::record("matmul", {a, b}, {c},
                     [a = need_b ? autograd::saved(a_read, a, /*converted=*/low) : autograd::Saved(),
                      b = need_a ? autograd::saved(b_read, b, /*converted=*/low) : autograd::Saved(), need_a, need_b, low](const autograd::Gradients& g) {
                         if (autograd::recording_backward())  // the same products, recorded
                             return autograd::Gradients{need_a ? matmul(g[0], transpose(b, -1, -2)) : Tensor(),
                                                        need_b ? matmul(transpose(a, -1, -2), g[0]) : Tensor()};
                         const Tensor dc = operand(g[0], low);
                         return autograd::Gradients{need_a ? matmul_batched(dc, transpose(b, -1, -2)) : Tensor(),
                                                    need_b ? matmul_batched(transpose(a, -1, -2), dc) : Tensor()};
                     });
    return c;
}

// y = x · Wᵀ + b over the last axis of x
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    NYX_CHECK(weight.dim() == 2, "linear: the weight must be [out, in], got shape ", to_string(weight.shape()));
    NYX_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: the input's last axis must match the weight's in = ",
              weight.size(1), " (weight [out, in] = ", to_string(weight.shape()), "), but the input has shape ",
              to_string(x.shape()));
    NYX_CHECK(!bias.defined() || bias.shape() == Shape{weight.size(0)}, "linear: the bias must be [", weight.size(0),
              "], got shape ", to_string(bias.shape()));
    NYX_CHECK(x.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), "linear: dtypes differ (input ",
              x.dtype(), ", weight ", weight.dtype(), bias.defined() ? detail::cat(", bias ", bias.dtype()) : "", ")");
    NYX_CHECK(is_floating(x.dtype()), "linear: expected f32 or f64 tensors, got ", x.dtype());
    const std::int64_t in = weight.size(1), out = weight.size(0);
    const std::int64_t rows = numel(Shape(x.shape().begin(), x.shape().end() - 1));
    const bool low = in_bf16(x);
    Tensor x2 = x.detach();  // [rows, in]: a view whenever x's strides allow (always for contiguous x)
    if (x.dim() != 2) x2 = reshape(x2, {rows, in});
    x2 = operand(x2, low);
    const Tensor w = operand(weight.detach(), low);
    Shape shape = x.shape();
    shape.back() = out;
    Tensor y = empty(shape, x.dtype());
    const Tensor y2 = y.as_strided({x2.size(0), out}, {out, 1}, 0);
    if (bias.defined()) kernels::copy(y2, bias);  // then one GEMM adds x·Wᵀ onto the bias rows
    gemm_into(x2, w.as_strided({in, out}, {w.strides()[1], w.strides()[0]}, w.offset()), y2, bias.defined());
    // dx = dy · W,  dW = dyᵀ · x,  db = Σ_rows dy   (dy and x seen as [N, out] and [N, in]); the
    // products in bf16 when the forward's were, the bias's sum in f32.
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad(), need_b = bias.defined() && bias.requires_grad();
    autograd::record("linear", {x, weight, bias}, {y},
                     [x = need_w ? (low ? autograd::saved(x2, x, /*converted=*/true) : autograd::saved(x)) : autograd::Saved(),
                      w = need_x ? autograd::saved(w, weight, /*converted=*/low) : autograd::Saved(), need_x, need_w, need_b, x_shape = x.shape(), rows,
                      in, out, low](const autograd::Gradients& g) {
                         const Tensor g2 = reshape(g[0], {rows, out});
                         const Tensor xv = x, x2 = xv.defined() && xv.dim() != 2 ? reshape(xv, {rows, in}) : xv;
                         if (autograd::recording_backward())  // the same products, recorded
                             return autograd::Gradients{need_x ? matmul(g[0], w) : Tensor(),
                                                        need_w ? matmul(transpose(g2, 0, 1), x2) : Tensor(),
                                                        need_b ? sum(g2, {0}) : Tensor()};
                         const Tensor dy = operand(g2, low);
                         return autograd::Gradients{need_x ? reshape(matmul_batched(dy, w), x_shape) : Tensor(),
                                                    need_w ? matmul_batched(transpose(dy, 0, 1), x2) : Tensor(),
                                                    need_b ? kernels::sum(g2, {0}, false) : Tensor()};
                     });
    return y;
}

}  // namespace nyx::ops
