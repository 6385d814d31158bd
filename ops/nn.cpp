// Neural-network ops with fused kernels: softmax, log_softmax, layer_norm, cross_entropy (each one
// pass forward and one backward over its rows), embedding, dropout, the depthwise convolution of
// the Nyström skip connection, and segment means (the Nyström landmarks). The composite forms of
// the fused ones are in ops/reference.cpp; the tests hold the two together to 1e-10 in f64.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>
#include <nyx/core/vector_math.hpp>

#include "ops.hpp"
#include "reference.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::record;
using autograd::saved;

// A contiguous tensor seen as lanes along one axis: [outer, length, inner].
struct Lanes {
    std::int64_t outer = 1, length = 1, inner = 1;
    Lanes(const Shape& shape, std::int64_t axis) {
        for (std::int64_t a = 0; a < static_cast<std::int64_t>(shape.size()); ++a)
            (a < axis ? outer : a == axis ? length : inner) *= shape[a];
    }
};

// t with `axis` swapped to the end, contiguous: the row kernels below read rows of one contiguous
// piece. For the usual case (the last axis of a contiguous tensor) nothing is copied. Swapping
// twice puts a result back.
Tensor with_axis_last(const Tensor& t, std::int64_t axis) {
    if (t.dim() == 0 || axis == t.dim() - 1) return kernels::contiguous(t);
    return kernels::contiguous_copy(transpose(t.detach(), axis, -1));
}

// Calls row(first_row, last_row) in parallel for rows of `length` elements (rows that exponentiate).
template <class Row>
void for_rows(std::int64_t rows, std::int64_t length, const Row& row) {
    parallel_for(0, rows, std::max<std::int64_t>(1, loops::heavy_grain / std::max<std::int64_t>(length, 1)), row);
}

// A per-thread buffer of n elements for row kernels.
template <class T>
T* scratch(std::int64_t n) {
    thread_local std::vector<T> buffer;
    if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
    return buffer.data();
}

}  // namespace

// --- softmax and log_softmax ---------------------------------------------------------------------

namespace {
// An op that maps each row along `axis` on its own, as softmax and log_softmax do:
// forward(x, y, first, last, n) fills rows [first, last) of y; backward(y, dy, dx, first, last, n)
// fills those of dx. Both see rows of n contiguous elements (the axis moved last). A recorded
// backward (create_graph) computes recorded(y, dy, axes) with ops instead (axes: {axis}, or {} at rank 0).
template <class Forward, class Backward>
Tensor along_rows(const Tensor& x, std::int64_t axis, const char* op, Forward forward, Backward backward,
                  Tensor (*recorded)(const Tensor& y, const Tensor& dy, const Shape& axes)) {
    const std::int64_t a = normalize_axis(axis, std::max<std::int64_t>(x.dim(), 1), op);
    const Tensor xr = with_axis_last(x, a);
    const std::int64_t n = x.dim() == 0 ? 1 : x.shape()[a], rows = n ? x.numel() / n : 0;
    Tensor yr = empty(xr.shape(), x.dtype());
    dispatch_floating(x.dtype(), op, [&]<class T>() {
        const T* px = xr.data<T>();
        T* py = yr.data<T>();
        for_rows(rows, n, [&](std::int64_t first, std::int64_t last) { forward(px, py, first, last, n); });
    });
    Tensor y = with_axis_last(yr, a);
    // The kernel reads yr (y itself when the axis is last); a recorded backward computes with y.
    const bool copied = yr.impl() != y.impl();
    record(op, {x}, {y}, [y = saved(y), yr = copied ? saved(yr) : autograd::Saved(), a, n, rows, backward, recorded](const Gradients& g) {
        if (autograd::recording_backward()) return Gradients{recorded(y, g[0], g[0].dim() == 0 ? Shape{} : Shape{a})};
        const Tensor yv = yr.defined() ? yr.get() : y.get();
        const Tensor gr = with_axis_last(g[0], a);
        Tensor dx = empty(yv.shape(), yv.dtype());
        dispatch_floating(yv.dtype(), "backward", [&]<class T>() {
            const T *py = yv.data<T>(), *pg = gr.data<T>();
            T* pd = dx.data<T>();
            for_rows(rows, n, [&](std::int64_t first, std::int64_t last) { backward(py, pg, pd, first, last, n); });
        });
        return Gradients{with_axis_last(dx, a)};
    });
    return y;
}
}  // namespace

// Softmax rows [first, last) of n elements. Rows are contiguous, so one vector call
// exponentiates the whole block.
template <class T>
NYX_VECTORIZED void softmax_rows(const T* px, T* py, std::int64_t first, std::int64_t last, std::int64_t n) {
    for (std::int64_t r = first; r < last; ++r) {
        const T m = vmath::max(px + r * n, n);
        for (std::int64_t j = r * n; j < (r + 1) * n; ++j) py[j] = px[j] - m;
    }
    vmath::exp(py + first * n, py + first * n, (last - first) * n);
    for (std::int64_t r = first; r < last; ++r) {
        const T scale = static_cast<T>(1 / vmath::sum(py + r * n, n));
        for (std::int64_t j = r * n; j < (r + 1) * n; ++j) py[j] *= scale;
    }
}

// dx = y ⊙ (dy - Σ dy ⊙ y) for rows [first, last)
template <class T>
NYX_VECTORIZED void softmax_backward_rows(const T* py, const T* pg, T* pd, std::int64_t first, std::int64_t last, std::int64_t n) {
    for (std::int64_t r = first; r < last; ++r) {
        const T dot = static_cast<T>(vmath::dot(pg + r * n, py + r * n, n));
        for (std::int64_t j = r * n; j < (r + 1) * n; ++j) pd[j] = py[j] * (pg[j] - dot);
    }
}

// y = e^(x - max) / Σ e^(x - max), along axis
// dx = y ⊙ (dy - Σ dy ⊙ y), the sum along axis (softmax_backward_rows)
Tensor softmax(const Tensor& x, std::int64_t axis) {
    return along_rows(
        x, axis, "softmax", [](auto... args) { softmax_rows(args...); },
        [](auto... args) { softmax_backward_rows(args...); },
        [](const Tensor& y, const Tensor& dy, const Shape& axes) { return mul(y, sub(dy, sum(mul(dy, y), axes, true))); });
}

// Log-softmax rows [first, last): x - max - log Σ e^(x - max)
template <class T>
NYX_VECTORIZED void log_softmax_rows(const T* px, T* py, std::int64_t first, std::int64_t last, std::int64_t n) {
    T* e = scratch<T>(n);
    for (std::int64_t r = first; r < last; ++r) {
        const T* in = px + r * n;
        T* out = py + r * n;
        const T m = vmath::max(in, n);
        for (std::int64_t j = 0; j < n; ++j) out[j] = in[j] - m;
        vmath::exp(out, e, n);
        const T shift = static_cast<T>(std::log(vmath::sum(e, n)));
        for (std::int64_t j = 0; j < n; ++j) out[j] -= shift;
    }
}

// dx = dy - e^y · Σ dy for rows [first, last)
template <class T>
NYX_VECTORIZED void log_softmax_backward_rows(const T* py, const T* pg, T* pd, std::int64_t first, std::int64_t last, std::int64_t n) {
    for (std::int64_t r = first; r < last; ++r) {
        const T total = static_cast<T>(vmath::sum(pg + r * n, n));
        vmath::exp(py + r * n, pd + r * n, n);
        for (std::int64_t j = r * n; j < (r + 1) * n; ++j) pd[j] = pg[j] - pd[j] * total;
    }
}

// y = x - max - log Σ e^(x - max), along axis
// dx = dy - eʸ · Σ dy, the sum along axis (log_softmax_backward_rows)
Tensor log_softmax(const Tensor& x, std::int64_t axis) {
    return along_rows(
        x, axis, "log_softmax", [](auto... args) { log_softmax_rows(args...); },
        [](auto... args) { log_softmax_backward_rows(args...); },
        [](const Tensor& y, const Tensor& dy, const Shape& axes) { return sub(dy, mul(exp(y), sum(dy, axes, true))); });
}

// --- layer_norm ----------------------------------------------------------------------------------

namespace {
// Rows of a fixed number of elements summed per chunk, then the chunks in order: the weight and
// bias gradients never depend on the thread count.
constexpr std::int64_t rows_per_chunk = 64;
}  // namespace

// x - m for a row, with the f64 mean m taken in two parts: m rounded to T, subtracted exactly from
// the values near it, then what the rounding left. Near 1e8 in f32 that keeps the 4 units that the
// rounded mean alone would lose, and the loop stays in T (vector width).
template <class T>
inline void subtract_mean(const T* __restrict in, double m, T* __restrict out, std::int64_t width) {  // inlined into the vector clones
    const auto rounded = static_cast<T>(m), rest = static_cast<T>(m - static_cast<double>(rounded));
    for (std::int64_t j = 0; j < width; ++j) out[j] = (in[j] - rounded) - rest;
}

// Rows [first, last) of width elements: y = (x - mean)·rstd·w + b, saving mean and rstd in f64.
// The statistics are f64 for f32 rows too: the mean of values near 1e8 keeps its fraction, and the
// variance of values near 1e30 does not overflow.
template <class T>
NYX_VECTORIZED void layer_norm_rows(const T* px, const T* pw, const T* pb, T* py, double* pm, double* pr, std::int64_t first,
                                    std::int64_t last, std::int64_t width, double eps) {
    for (std::int64_t r = first; r < last; ++r) {
        const T* __restrict in = px + r * width;
        T* __restrict out = py + r * width;
        const double m = vmath::sum(in, width) / static_cast<double>(width);
        subtract_mean(in, m, out, width);
        const double rstd = 1 / std::sqrt(vmath::dot(out, out, width) / static_cast<double>(width) + eps);
        pm[r] = m, pr[r] = rstd;
        const T inv = static_cast<T>(rstd);
        if (pw && pb)
            for (std::int64_t j = 0; j < width; ++j) out[j] = out[j] * inv * pw[j] + pb[j];
        else
            for (std::int64_t j = 0; j < width; ++j) out[j] = out[j] * inv * (pw ? pw[j] : T(1)) + (pb ? pb[j] : T(0));
    }
}

// dx for rows [first, last), and their dy ⊙ x̂ and dy added into one chunk's dw and db rows.
template <class T>
NYX_VECTORIZED void layer_norm_backward_rows(const T* px, const T* pg, const T* pw, const double* pm, const double* pr, T* pd,
                                             T* __restrict dw_row, T* __restrict db_row, std::int64_t first, std::int64_t last,
                                             std::int64_t width) {
    T* __restrict xhat = scratch<T>(2 * width);
    T* __restrict dxhat = xhat + width;
    for (std::int64_t r = first; r < last; ++r) {
        const T* __restrict in = px + r * width;
        const T* __restrict dy = pg + r * width;
        T* __restrict out = pd + r * width;
        const T inv = static_cast<T>(pr[r]);
        subtract_mean(in, pm[r], xhat, width);
        for (std::int64_t j = 0; j < width; ++j) xhat[j] *= inv;
        if (pw)
            for (std::int64_t j = 0; j < width; ++j) dxhat[j] = dy[j] * pw[j];
        else
            std::copy_n(dy, width, dxhat);
        for (std::int64_t j = 0; j < width; ++j) dw_row[j] += dy[j] * xhat[j];
        for (std::int64_t j = 0; j < width; ++j) db_row[j] += dy[j];
        const auto mean_dxhat = static_cast<T>(vmath::sum(dxhat, width) / static_cast<double>(width));
        const auto mean_dxhat_xhat = static_cast<T>(vmath::dot(dxhat, xhat, width) / static_cast<double>(width));
        for (std::int64_t j = 0; j < width; ++j) out[j] = inv * (dxhat[j] - mean_dxhat - xhat[j] * mean_dxhat_xhat);
    }
}

// y = (x - mean) / √(var + eps) · weight + bias, over the trailing axes of normalized_shape
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
    const std::int64_t k = static_cast<std::int64_t>(normalized_shape.size());
    NYX_CHECK(k >= 1 && x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
              "layer_norm: normalized_shape ", to_string(normalized_shape), " must be the trailing axes of the input's shape ",
              to_string(x.shape()));
    for (const Tensor* p : {&weight, &bias})
        NYX_CHECK(!p->defined() || (p->shape() == normalized_shape && p->dtype() == x.dtype()), "layer_norm: ",
                  p == &weight ? "weight" : "bias", " has shape ", to_string(p->shape()), " and dtype ", p->dtype(),
                  "; expected ", to_string(normalized_shape), " and ", x.dtype());
    NYX_CHECK(eps >= 0, "layer_norm: eps ", eps, " must be >= 0");
    const std::int64_t width = numel(normalized_shape), rows = width ? x.numel() / width : 0;
    const Tensor xc = kernels::contiguous(x);
    const Tensor wc = weight.defined() ? kernels::contiguous(weight) : Tensor(), bc = bias.defined() ? kernels::contiguous(bias) : Tensor();
    Tensor y = empty(x.shape(), x.dtype()), mean = empty({rows}, f64), rstd = empty({rows}, f64);
    dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
        const T* pw = wc.defined() ? wc.data<T>() : nullptr;
        const T* pb = bc.defined() ? bc.data<T>() : nullptr;
        parallel_for(0, rows, std::max<std::int64_t>(1, loops::grain / std::max<std::int64_t>(width, 1)),
                     [&](std::int64_t first, std::int64_t last) {
                         layer_norm_rows(xc.data<T>(), pw, pb, y.data<T>(), mean.data<double>(), rstd.data<double>(), first, last, width, eps);
                     });
    });
    // x̂ = (x - mean)·rstd, dx̂ = dy·w
    // dx = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ ⊙ x̂)),  dw = Σ_rows dy ⊙ x̂,  db = Σ_rows dy
    record("layer_norm", {x, weight, bias}, {y},
           [x = saved(x), weight = saved(weight), mean, rstd, width, rows, normalized_shape, has_bias = bias.defined(), eps](
               const Gradients& g) {
               if (autograd::recording_backward()) {  // the bias's gradient does not depend on its value: a zero stands in
                   const Tensor b = has_bias ? zeros(normalized_shape, g[0].dtype()).requires_grad_() : Tensor();
                   return reference::backward_of(
                       [&](const std::vector<Tensor>& in) { return reference::layer_norm(in[0], normalized_shape, in[1], in[2], eps); },
                       {x, weight, b}, g[0]);
               }
               const Tensor xc = kernels::contiguous(x), gc = kernels::contiguous(g[0]);
               const Tensor& w = weight;
               const Tensor wc = w.defined() ? kernels::contiguous(w) : Tensor();
               Tensor dx = empty(xc.shape(), xc.dtype());
               const std::int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
               Tensor partial_w = zeros({std::max<std::int64_t>(chunks, 1), width}, xc.dtype());
               Tensor partial_b = zeros({std::max<std::int64_t>(chunks, 1), width}, xc.dtype());
               dispatch_floating(xc.dtype(), "backward", [&]<class T>() {
                   const T *px = xc.data<T>(), *pg = gc.data<T>();
                   const double *pm = mean.data<double>(), *pr = rstd.data<double>();
                   const T* pw = wc.defined() ? wc.data<T>() : nullptr;
                   T *pd = dx.data<T>(), *pdw = partial_w.data<T>(), *pdb = partial_b.data<T>();
                   parallel_for(0, chunks, 1, [&](std::int64_t first, std::int64_t last) {
                       for (std::int64_t c = first; c < last; ++c)
                           layer_norm_backward_rows(px, pg, pw, pm, pr, pd, pdw + c * width, pdb + c * width, c * rows_per_chunk,
                                                    std::min(rows, (c + 1) * rows_per_chunk), width);
                   });
               });
               // The chunks' partial sums, added in chunk order.
               auto total = [&](const Tensor& partial) { return reshape(kernels::sum(partial, {0}, false), normalized_shape); };
               return Gradients{dx, w.defined() ? total(partial_w) : Tensor(), has_bias ? total(partial_b) : Tensor()};
           });
    return y;
}

// --- embedding -----------------------------------------------------------------------------------

// y[..., :] = weight[ids[...], :]
Tensor embedding(const Tensor& ids, const Tensor& weight, std::int64_t padding_index) {
    NYX_CHECK(ids.dtype() == i64, "embedding: ids must be i64, got ", ids.dtype());
    NYX_CHECK(weight.dim() == 2, "embedding: the weight must be [vocabulary, dim], got shape ", to_string(weight.shape()));
    const std::int64_t vocabulary = weight.shape()[0], width = weight.shape()[1];
    NYX_CHECK(padding_index < vocabulary, "embedding: padding_index ", padding_index, " is outside the vocabulary of ", vocabulary);
    const Tensor idc = kernels::contiguous(ids), wc = kernels::contiguous(weight);
    const std::int64_t* pi = idc.data<std::int64_t>();
    Shape shape = ids.shape();
    shape.push_back(width);
    Tensor y = empty(shape, weight.dtype());
    std::atomic<std::int64_t> bad{-1};  // a position whose id is out of range, found while copying
    dispatch_floating(weight.dtype(), "embedding", [&]<class T>() {
        const T* pw = wc.data<T>();
        T* py = y.data<T>();
        parallel_for(0, idc.numel(), std::max<std::int64_t>(1, loops::grain / std::max<std::int64_t>(width, 1)),
                     [&](std::int64_t first, std::int64_t last) {
                         for (std::int64_t r = first; r < last; ++r) {
                             if (pi[r] < 0 || pi[r] >= vocabulary) {
                                 bad.store(r);
                                 continue;
                             }
                             std::copy_n(pw + pi[r] * width, width, py + r * width);
                         }
                     });
    });
    NYX_CHECK(bad.load() < 0, "embedding: id ", pi[std::max<std::int64_t>(bad.load(), 0)], " at position ", bad.load(),
              " (flattened) is out of range for a table of ", vocabulary, " rows");
    // dweight[v, :] = Σ over positions with id v of dy[position, :] (none for padding_index); each
    // task owns a block of columns and adds positions in order: no races, no dependence on threads
    record("embedding", {ids, weight}, {y}, [ids = saved(idc), vocabulary, width, padding_index](const Gradients& g) {
        const Tensor idv = ids;
        // its own backward reads rows again: dy's rows at the ids, zero where the id is padding_index
        auto rows = [idv, padding_index](const Tensor& table) {
            const Tensor read = embedding(idv, table);
            if (padding_index < 0) return read;
            return mul(read, unsqueeze(ne(idv, scalar(static_cast<double>(padding_index), i64)).to(read.dtype()), -1));
        };
        return Gradients{Tensor(), autograd::linear_backward("embedding", g[0], [&](const Tensor& dy) {
            const Tensor gc = kernels::contiguous(dy);
            Tensor dw = zeros({vocabulary, width}, gc.dtype());
            dispatch_floating(gc.dtype(), "backward", [&]<class T>() {
                const T* pg = gc.data<T>();
                const std::int64_t* pi = idv.data<std::int64_t>();
                T* pd = dw.data<T>();
                const std::int64_t positions = idv.numel();
                parallel_for(0, width, std::max<std::int64_t>(16, loops::grain / std::max<std::int64_t>(positions, 1)),
                             [&](std::int64_t c0, std::int64_t c1) {
                                 for (std::int64_t r = 0; r < positions; ++r) {
                                     if (pi[r] == padding_index) continue;
                                     for (std::int64_t c = c0; c < c1; ++c) pd[pi[r] * width + c] += pg[r * width + c];
                                 }
                             });
            });
            return dw;
        }, rows)};
    });
    return y;
}

// --- cross_entropy -------------------------------------------------------------------------------

// loss_i = (1 - ε)·(lse_i - x_i,t) + ε·(lse_i - mean_c x_i,c), lse = log Σ_c e^x_i,c; ignored targets add 0.
// Each row is formed from its shifted logits x - m (m the row's maximum) and s = log Σ_c e^(x_c - m),
// as lse - x_t = s - (x_t - m): never a difference of two large rounded numbers (at logits of 1e8,
// lse = 1e8 + ln 2 rounds to 1e8 in f32). A term of weight 0 is left out (the smoothing term when
// ε = 0, the label's when ε = 1), so that a logit of -inf, whose class has probability 0, adds 0
// rather than 0 · ∞.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options) {
    NYX_CHECK((logits.dim() == 2 && targets.dim() == 1 && targets.shape()[0] == logits.shape()[0]) ||
                  (logits.dim() == 1 && targets.dim() == 0),
              "cross_entropy: expected logits [N, C] with targets [N], or [C] with a rank-0 target; got ",
              to_string(logits.shape()), " and ", to_string(targets.shape()));
    NYX_CHECK(targets.dtype() == i64, "cross_entropy: targets must be i64 class indices, got ", targets.dtype());
    NYX_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1, "cross_entropy: label_smoothing ",
              options.label_smoothing, " must be in [0, 1]");
    const std::int64_t classes = logits.shape().back(), rows = logits.dim() == 2 ? logits.shape()[0] : 1;
    const Tensor lc = kernels::contiguous(logits), tc = kernels::contiguous(targets);
    const std::int64_t* pt = tc.data<std::int64_t>();
    std::int64_t counted = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
        if (pt[r] == options.ignore_index) continue;
        NYX_CHECK(pt[r] >= 0 && pt[r] < classes, "cross_entropy: target ", pt[r], " at position ", r,
                  " is out of range for ", classes, " classes (and is not ignore_index ", options.ignore_index, ")");
        ++counted;
    }
    const double smoothing = options.label_smoothing;
    // Per row: the maximum m and s = log Σ e^(x - m), which the backward needs, and the loss.
    Tensor row_max = empty({rows}, logits.dtype()), log_sum = empty({rows}, logits.dtype()), losses = empty({rows}, logits.dtype());
    dispatch_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
        const T* px = lc.data<T>();
        T *pm = row_max.data<T>(), *ps = log_sum.data<T>(), *pr = losses.data<T>();
        parallel_for(0, rows, std::max<std::int64_t>(1, loops::heavy_grain / std::max<std::int64_t>(classes, 1)),
                     [&](std::int64_t first, std::int64_t last) {
                         T* e = scratch<T>(classes);
                         for (std::int64_t r = first; r < last; ++r) {
                             const T* row = px + r * classes;
                             const T m = vmath::max(row, classes);
                             for (std::int64_t c = 0; c < classes; ++c) e[c] = row[c] - m;
                             const double shifted_mean = smoothing > 0 ? vmath::sum(e, classes) / static_cast<double>(classes) : 0;
                             vmath::exp(e, e, classes);
                             const double s = std::log(vmath::sum(e, classes));
                             pm[r] = m, ps[r] = static_cast<T>(s);
                             if (pt[r] == options.ignore_index) {
                                 pr[r] = T(0);
                                 continue;
                             }
                             const double nll = s - static_cast<double>(row[pt[r]] - m);  // -log p_t
                             const double smoothed = s - shifted_mean;  // mean over c of -log p_c
                             pr[r] = static_cast<T>(smoothing == 0   ? nll
                                                    : smoothing == 1 ? smoothed
                                                                     : (1 - smoothing) * nll + smoothing * smoothed);
                         }
                     });
    });
    Tensor loss;
    if (options.reduction == Reduction::none) loss = logits.dim() == 2 ? losses : losses.as_strided({}, {}, 0);
    else  // in order: deterministic
        loss = kernels::sum(losses, {}, false, options.reduction == Reduction::mean ? 1.0 / static_cast<double>(counted) : 1.0);
    // dx_i,c = g_i · (softmax_i,c - (1 - ε)·[c = t_i] - ε / C), with g_i the incoming gradient of
    // row i (divided by the count for mean) and softmax_i,c = e^(x_i,c - m_i - s_i); 0 for ignored rows
    record("cross_entropy", {logits, targets}, {loss},
           [logits = saved(lc, logits), targets = saved(tc), row_max, log_sum, options, counted, shape = logits.shape()](const Gradients& g) {
               const Tensor &x = logits, &t = targets;
               if (autograd::recording_backward())
                   return reference::backward_of([&](const std::vector<Tensor>& in) { return reference::cross_entropy(in[0], t, options); },
                                                 {x, Tensor()}, g[0]);
               const Tensor gc = kernels::contiguous(g[0]);
               const std::int64_t classes = shape.back(), rows = x.numel() / std::max<std::int64_t>(classes, 1);
               Tensor dx = empty(x.shape(), x.dtype());
               dispatch_floating(x.dtype(), "backward", [&]<class T>() {
                   const T *px = x.data<T>(), *pm = row_max.data<T>(), *ps = log_sum.data<T>(), *pg = gc.data<T>();
                   const std::int64_t* pt = t.data<std::int64_t>();
                   T* pd = dx.data<T>();
                   const T smooth = T(options.label_smoothing) / T(classes), keep = T(1 - options.label_smoothing);
                   const T mean_scale = options.reduction == Reduction::mean ? T(1) / T(counted) : T(1);
                   parallel_for(0, rows, std::max<std::int64_t>(1, loops::heavy_grain / std::max<std::int64_t>(classes, 1)),
                                [&](std::int64_t first, std::int64_t last) {
                                    for (std::int64_t r = first; r < last; ++r) {
                                        T* out = pd + r * classes;
                                        if (pt[r] == options.ignore_index) {
                                            std::fill_n(out, classes, T(0));
                                            continue;
                                        }
                                        const T scale = (options.reduction == Reduction::none ? pg[r] : pg[0]) * mean_scale;
                                        for (std::int64_t c = 0; c < classes; ++c) out[c] = (px[r * classes + c] - pm[r]) - ps[r];
                                        vmath::exp(out, out, classes);  // the probabilities
                                        for (std::int64_t c = 0; c < classes; ++c) out[c] = scale * (out[c] - smooth);
                                        out[pt[r]] -= scale * keep;
                                    }
                                });
               });
               return Gradients{reshape(dx, shape), Tensor()};
           });
    return loss;
}

// --- dropout ---------------------------------------------------------------------------------------

namespace {
// Dropout draws its mask in blocks of 64 elements, one philox_block (16 counters) each.
constexpr std::int64_t dropout_block = 4 * philox_block_size;
std::int64_t dropout_blocks(std::int64_t n) { return (n + dropout_block - 1) / dropout_block; }

// out[j] = in[j] · (kept ? keep : 0) for the `count` (at most 64) elements of one block; see below.
template <class T>
NYX_VECTORIZED void mask_block(const PhiloxBlock& w, std::int32_t threshold, T keep, const T* in, T* out, std::int64_t count) {
    constexpr int L = philox_block_size;
    T factor[dropout_block];  // element 16·word + lane's: keep or 0
    for (int word = 0; word < 4; ++word)
        for (int lane = 0; lane < L; ++lane) factor[word * L + lane] = static_cast<std::int32_t>(w[word][lane] >> 8) >= threshold ? keep : T(0);
    for (std::int64_t j = 0; j < count; ++j) out[j] = in[j] * factor[j];
}

// x · mask / (1 − p), for the mask drawn at (seed, offset). Elements go in blocks of 64, one
// philox_block each: element i takes word (i / 16) % 4 of counter offset + 16 · (i / 64) + i % 16,
// and is kept when that word's top 24 bits, as a fraction of 2²⁴, are at least p. Each counter
// serves four elements, and the mask is never stored: the backward draws it again. A multiply, so
// that a dropped NaN or infinity gives NaN, as in PyTorch.
Tensor apply_dropout_mask(const Tensor& x, double p, std::uint64_t seed, std::uint64_t offset) {
    const Tensor xc = kernels::contiguous(x);
    Tensor y = empty(x.shape(), x.dtype());
    const std::int64_t n = x.numel();
    // keep when bits ≥ threshold; signed, as both fit in 25 bits, so that the compare vectorises
    const auto threshold = static_cast<std::int32_t>(std::ceil(p * 0x1.0p24));
    constexpr std::int64_t L = philox_block_size, per_block = dropout_block;
    dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
        const T keep = T(1 / (1 - p));
        const T* in = xc.data<T>();
        T* out = y.data<T>();
        parallel_for(0, dropout_blocks(n), loops::grain / per_block, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t block = b; block < e; ++block) {
                const PhiloxBlock w = philox_block(offset + static_cast<std::uint64_t>(block * L), seed);
                const std::int64_t i0 = block * per_block;
                mask_block<T>(w, threshold, keep, in + i0, out + i0, std::min(per_block, n - i0));
            }
        });
    });
    return y;
}
}  // namespace

namespace {
// y = x · mask / (1 - p), recorded. The map is linear and its own transpose, so its backward is
// itself, and a recorded backward (create_graph) records it again.
Tensor masked(const Tensor& x, double p, std::uint64_t seed, std::uint64_t offset) {
    Tensor y = apply_dropout_mask(x, p, seed, offset);
    // dx = dy · mask / (1 - p)
    record("dropout", {x}, {y}, [p, seed, offset](const Gradients& g) { return Gradients{masked(g[0], p, seed, offset)}; });
    return y;
}
}  // namespace

// y = x · mask / (1 - p) in training; x otherwise
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator) {
    NYX_CHECK(p >= 0 && p <= 1, "dropout: the probability ", p, " must be in [0, 1]");
    NYX_CHECK(is_floating(x.dtype()), "dropout: expected a floating tensor, got ", x.dtype());
    if (!training || p == 0) return x;
    if (p == 1) return mul(x, scalar(0, x.dtype()));
    // The mask is not stored: backward replays the same uniforms. The counters are reserved in one
    // step, so another thread drawing from the same generator cannot shift them.
    // Whole blocks of counters, the last one included, so that the next draw starts past them all.
    const auto counters = static_cast<std::uint64_t>(dropout_blocks(x.numel()) * philox_block_size);
    const std::uint64_t seed = generator.seed(), offset = generator.advance(counters);
    return masked(x, p, seed, offset);
}

// --- depthwise convolution -------------------------------------------------------------------------

namespace {
// out[t,:] += Σ_j w[j] · in[t+j-padding,:] for one channel: in is [in_length, features], out
// [out_length, features], positions outside `in` count as zero. Blocks of rows stay in L1 while each
// tap adds one long contiguous span (rows × features) of `in` into them.
template <class T>
NYX_VECTORIZED void correlate_channel(const T* __restrict in, std::int64_t in_length, const T* w, std::int64_t kernel,
                                      std::int64_t padding, T* __restrict out, std::int64_t out_length, std::int64_t features) {
    constexpr std::int64_t rows_per_block = 64;
    for (std::int64_t t0 = 0; t0 < out_length; t0 += rows_per_block) {
        const std::int64_t t1 = std::min(out_length, t0 + rows_per_block);
        for (std::int64_t j = 0; j < kernel; ++j) {
            // rows t with 0 <= t + j - padding < in_length
            const std::int64_t lo = std::max(t0, padding - j), hi = std::min(t1, in_length + padding - j);
            if (lo >= hi) continue;
            const T wj = w[j];
            const T* src = in + (lo + j - padding) * features;
            T* dst = out + lo * features;
            for (std::int64_t i = 0; i < (hi - lo) * features; ++i) dst[i] += wj * src[i];
        }
    }
}
}  // namespace

// y[b,c,t,:] = bias[c] + Σ_j w[c,j] · x[b,c,t+j-padding,:]  (zero outside the sequence)
Tensor depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t padding) {
    NYX_CHECK(x.dim() >= 3, "depthwise_conv1d: the input must be [batch, channels, length, ...], got shape ", to_string(x.shape()));
    NYX_CHECK(weight.dim() == 2 && weight.shape()[0] == x.shape()[1] && weight.shape()[1] >= 1,
              "depthwise_conv1d: the weight must be [channels, kernel] = [", x.shape()[1], ", k], got shape ",
              to_string(weight.shape()));
    NYX_CHECK(weight.dtype() == x.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), "depthwise_conv1d: dtypes differ");
    NYX_CHECK(!bias.defined() || bias.shape() == Shape{x.shape()[1]}, "depthwise_conv1d: the bias must be [", x.shape()[1],
              "], got shape ", to_string(bias.shape()));
    const std::int64_t kernel = weight.shape()[1];
    if (padding < 0) padding = kernel / 2;
    const std::int64_t batch = x.shape()[0], channels = x.shape()[1], length = x.shape()[2];
    const std::int64_t out_length = length + 2 * padding - kernel + 1;
    NYX_CHECK(out_length >= 0, "depthwise_conv1d: a kernel of ", kernel, " with padding ", padding,
              " does not fit a sequence of ", length);
    const std::int64_t features = numel(Shape(x.shape().begin() + 3, x.shape().end()));
    Shape shape = x.shape();
    shape[2] = out_length;
    const Tensor xc = kernels::contiguous(x), wc = kernels::contiguous(weight), bc = bias.defined() ? kernels::contiguous(bias) : Tensor();
    Tensor y = empty(shape, x.dtype());
    dispatch_floating(x.dtype(), "depthwise_conv1d", [&]<class T>() {
        const T *px = xc.data<T>(), *pw = wc.data<T>();
        const T* pb = bc.defined() ? bc.data<T>() : nullptr;
        T* py = y.data<T>();
        parallel_for(0, batch * channels, 1, [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t bc = first; bc < last; ++bc) {
                const std::int64_t c = bc % channels;
                T* out = py + bc * out_length * features;
                std::fill_n(out, out_length * features, pb ? pb[c] : T(0));
                correlate_channel(px + bc * length * features, length, pw + c * kernel, kernel, padding, out, out_length, features);
            }
        });
    });
    // dx[b,c,s,:] = Σ_j w[c,j] · dy[b,c,s-j+padding,:]: the same correlation with the taps reversed and
    // padding k-1-padding. dw[c,j] = Σ_b,t dy[b,c,t,:] · x[b,c,t+j-padding,:], db[c] = Σ dy[b,c,...]
    record("depthwise_conv1d", {x, weight, bias}, {y},
           [x = saved(xc, x), weight = saved(wc, weight), padding, has_bias = bias.defined(), in_shape = x.shape()](const Gradients& g) {
               const Tensor &xv = x, &wv = weight;
               if (autograd::recording_backward()) {  // the bias's gradient does not depend on its value: a zero stands in
                   const Tensor b = has_bias ? zeros({wv.shape()[0]}, g[0].dtype()).requires_grad_() : Tensor();
                   return reference::backward_of(
                       [padding](const std::vector<Tensor>& in) { return reference::depthwise_conv1d(in[0], in[1], in[2], padding); },
                       {xv, wv, b}, g[0]);
               }
               const Tensor gc = kernels::contiguous(g[0]);
               const std::int64_t batch = in_shape[0], channels = in_shape[1], length = in_shape[2];
               const std::int64_t kernel = wv.shape()[1], out_length = gc.shape()[2];
               const std::int64_t features = numel(Shape(in_shape.begin() + 3, in_shape.end()));
               Tensor dx = zeros(in_shape, xv.dtype()), dw = zeros(wv.shape(), xv.dtype());
               dispatch_floating(xv.dtype(), "backward", [&]<class T>() {
                   const T *px = xv.data<T>(), *pw = wv.data<T>(), *pg = gc.data<T>();
                   T *pdx = dx.data<T>(), *pdw = dw.data<T>();
                   std::vector<T> reversed(static_cast<std::size_t>(channels * kernel));
                   for (std::int64_t c = 0; c < channels; ++c)
                       std::reverse_copy(pw + c * kernel, pw + (c + 1) * kernel, reversed.begin() + c * kernel);
                   parallel_for(0, batch * channels, 1, [&](std::int64_t first, std::int64_t last) {
                       for (std::int64_t bc = first; bc < last; ++bc)
                           correlate_channel(pg + bc * out_length * features, out_length, reversed.data() + bc % channels * kernel,
                                             kernel, kernel - 1 - padding, pdx + bc * length * features, length, features);
                   });
                   // Weights: one task per channel, batches in order; each tap is one dot product of two spans.
                   parallel_for(0, channels, 1, [&](std::int64_t first, std::int64_t last) {
                       for (std::int64_t c = first; c < last; ++c)
                           for (std::int64_t b = 0; b < batch; ++b) {
                               const T* dy = pg + (b * channels + c) * out_length * features;
                               const T* in = px + (b * channels + c) * length * features;
                               for (std::int64_t j = 0; j < kernel; ++j) {
                                   const std::int64_t lo = std::max<std::int64_t>(0, padding - j);
                                   const std::int64_t hi = std::min(out_length, length + padding - j);
                                   if (lo < hi)
                                       pdw[c * kernel + j] += vmath::dot(dy + lo * features, in + (lo + j - padding) * features,
                                                                        (hi - lo) * features);
                               }
                           }
                   });
               });
               Shape bias_axes{0, 2};
               for (std::int64_t a = 3; a < static_cast<std::int64_t>(in_shape.size()); ++a) bias_axes.push_back(a);
               return Gradients{dx, dw, has_bias ? kernels::sum(gc, bias_axes, false) : Tensor()};
           });
    return y;
}

// --- segment means ---------------------------------------------------------------------------------

namespace {
// Start and length of segment j of `segments` over n entries (the uneven rule of ops.hpp).
std::pair<std::int64_t, std::int64_t> segment_bounds(std::int64_t j, std::int64_t n, std::int64_t segments) {
    const std::int64_t s = n / segments, r = (s + 1) * segments - n;
    return j < r ? std::pair{j * s, s} : std::pair{r * s + (j - r) * (s + 1), s + 1};
}
}  // namespace

// y[..., j, ...] = mean of x[..., segment j, ...] along axis
Tensor segment_mean(const Tensor& x, std::int64_t axis, std::int64_t segments) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "segment_mean");
    const std::int64_t n = x.shape()[a];
    NYX_CHECK(segments >= 1 && segments <= n, "segment_mean: ", segments, " segments do not fit axis ", a, " of length ", n,
              " (shape ", to_string(x.shape()), "); need 1 <= segments <= length");
    const Tensor xc = kernels::contiguous(x);
    const Lanes lanes(xc.shape(), a);
    Shape shape = x.shape();
    shape[a] = segments;
    Tensor y = empty(shape, x.dtype());
    dispatch_floating(x.dtype(), "segment_mean", [&]<class T>() {
        const T* px = xc.data<T>();
        T* py = y.data<T>();
        parallel_for(0, lanes.outer * segments, 1, [&](std::int64_t first, std::int64_t last) {
            for (std::int64_t k = first; k < last; ++k) {
                const std::int64_t o = k / segments, j = k % segments;
                const auto [start, count] = segment_bounds(j, n, segments);
                double* total = scratch<double>(lanes.inner);  // in f64: a mean of f32 values near 3e38 stays finite
                std::fill_n(total, lanes.inner, 0.0);
                for (std::int64_t i = start; i < start + count; ++i) {
                    const T* row = px + (o * n + i) * lanes.inner;
                    for (std::int64_t f = 0; f < lanes.inner; ++f) total[f] += row[f];
                }
                T* out = py + (o * segments + j) * lanes.inner;
                for (std::int64_t f = 0; f < lanes.inner; ++f) out[f] = static_cast<T>(total[f] / static_cast<double>(count));
            }
        });
    });
    // dx[..., i, ...] = dy[..., segment of i, ...] / (length of that segment); its own backward is segment_mean
    record("segment_mean", {x}, {y}, [a, n, segments, in_shape = x.shape()](const Gradients& g) {
        return Gradients{autograd::linear_backward(
            "segment_mean", g[0],
            [&](const Tensor& dy) {
                const Tensor gc = kernels::contiguous(dy);
                const Lanes lanes(in_shape, a);
                Tensor dx = empty(in_shape, gc.dtype());
                dispatch_floating(gc.dtype(), "backward", [&]<class T>() {
                    const T* pg = gc.data<T>();
                    T* pd = dx.data<T>();
                    parallel_for(0, lanes.outer * segments, 1, [&](std::int64_t first, std::int64_t last) {
                        for (std::int64_t k = first; k < last; ++k) {
                            const std::int64_t o = k / segments, j = k % segments;
                            const auto [start, count] = segment_bounds(j, n, segments);
                            const T* d = pg + (o * segments + j) * lanes.inner;
                            for (std::int64_t i = start; i < start + count; ++i)
                                for (std::int64_t f = 0; f < lanes.inner; ++f) pd[(o * n + i) * lanes.inner + f] = d[f] / T(count);
                        }
                    });
                });
                return dx;
            },
            [a, segments](const Tensor& t) { return segment_mean(t, a, segments); })};
    });
    return y;
}

}  // namespace nyx::ops
