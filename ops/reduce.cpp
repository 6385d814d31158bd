// Reductions. Their backward spreads each output's gradient back over the elements it summed.
#include <cmath>
#include <functional>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::saved;

// The shape of x with the reduced axes kept as size 1, and the number of elements each output sums.
std::pair<Shape, std::int64_t> keepdim_shape(const Tensor& x, const Shape& axes, std::string_view op) {
    const std::vector<bool> reduced = kernels::reduced_axes(x.dim(), axes, op);
    Shape shape = x.shape();
    std::int64_t count = 1;
    for (std::size_t a = 0; a < shape.size(); ++a)
        if (reduced[a]) count *= shape[a], shape[a] = 1;
    return {shape, count};
}

// Reshapes an output gradient to the keepdim shape and broadcasts it over x's shape (no copy).
Tensor spread(const Tensor& g, const Shape& kept, const Shape& input_shape) {
    return expand(reshape(g, kept), input_shape);
}

}  // namespace

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

// y = Σ over axes of x
Tensor sum(const Tensor& x, const Shape& axes, bool keepdim) {
    auto [kept, count] = keepdim_shape(x, axes, "sum");
    Tensor y = kernels::sum(x, axes, keepdim);
    // dx = dy broadcast back over the summed axes
    autograd::record("sum", {x}, {y}, [kept = kept, input_shape = x.shape()](const Gradients& g) {  // (clang < 16 cannot capture a binding)
        return Gradients{spread(g[0], kept, input_shape)};
    });
    return y;
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// y = (Σ over axes of x) / count
Tensor mean(const Tensor& x, const Shape& axes, bool keepdim) {
    NYX_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor (f32 or f64), got ", x.dtype(),
              "; convert it with .to(nyx::f32)");
    auto [kept, count] = keepdim_shape(x, axes, "mean");
    Tensor y = kernels::sum(x, axes, keepdim, 1.0 / static_cast<double>(count));
    // dx = dy / count, broadcast back over the averaged axes
    autograd::record("mean", {x}, {y}, [kept = kept, count = count, input_shape = x.shape()](const Gradients& g) {
        return Gradients{spread(div(g[0], scalar(static_cast<double>(count), g[0].dtype())), kept, input_shape)};
    });
    return y;
}

// --- max and min --------------------------------------------------------------------------------

namespace {

// Index of the largest (better(a, b): a beats b) entry along axis, the first on ties; NaN beats all.
template <class Better>
Tensor arg_select(const Tensor& x, std::int64_t axis, bool keepdim, const char* op, Better better) {
    const std::int64_t a = normalize_axis(axis, std::max<std::int64_t>(x.dim(), 1), op);
    const Tensor source = x.dim() == 0 ? x.as_strided({1}, {1}, x.offset()) : x;
    const std::int64_t n = source.shape()[a];
    NYX_CHECK(n > 0, op, ": cannot reduce axis ", a, " of size 0 (shape ", to_string(x.shape()), ")");
    Shape out_shape = source.shape();
    out_shape[a] = 1;
    Tensor indices = empty(out_shape, i64);
    // Each lane along the axis is read in place with the axis's stride.
    Shape lane_strides = source.strides();
    lane_strides[a] = 0;
    const std::int64_t stride = source.strides()[a];
    dispatch(x.dtype(), [&]<class T>() {
        const T* p = source.data<T>();
        std::int64_t* out = indices.data<std::int64_t>();
        loops::for_each_row<2>(out_shape, {&lane_strides, &indices.strides()}, {0, 0},
                               [&](const auto& at, std::int64_t count, const auto& step) {
                                   for (std::int64_t i = 0; i < count; ++i) {
                                       const T* lane = p + at[0] + i * step[0];
                                       std::int64_t best = 0;
                                       for (std::int64_t j = 1; j < n && lane[best * stride] == lane[best * stride]; ++j)
                                           if (lane[j * stride] != lane[j * stride] || better(lane[j * stride], lane[best * stride])) best = j;
                                       out[at[1] + i] = best;
                                   }
                               });
    });
    if (keepdim) return x.dim() == 0 ? indices.as_strided({}, {}, 0) : indices;
    return squeeze(indices, a);
}

// The values at the selected indices are a gather: its backward sends the gradient to them.
ValuesIndices select_extreme(const Tensor& x, std::int64_t axis, bool keepdim, const char* op, bool largest) {
    Tensor kept = largest ? arg_select(x, axis, true, op, std::greater<>()) : arg_select(x, axis, true, op, std::less<>());
    if (x.dim() == 0) return {x, kept};
    const std::int64_t a = normalize_axis(axis, x.dim(), op);
    Tensor values = gather(x, a, kept);
    if (keepdim) return {values, kept};
    return {squeeze(values, a), squeeze(kept, a)};
}

// The extreme value over several axes, found with the reduced axes moved to the end and flattened.
// Its gradient is shared equally by the elements equal to it, as in PyTorch.
Tensor extreme_over(const Tensor& x, const Shape& axes, bool keepdim, const char* op, bool largest) {
    const std::vector<bool> reduced = kernels::reduced_axes(x.dim(), axes, op);
    Shape order, lanes_shape, keep_shape = x.shape(), reduced_list;
    std::int64_t lane_length = 1;
    for (std::int64_t a = 0; a < x.dim(); ++a)
        if (!reduced[a]) order.push_back(a), lanes_shape.push_back(x.shape()[a]);
    const Shape out_shape = lanes_shape;
    for (std::int64_t a = 0; a < x.dim(); ++a)
        if (reduced[a]) order.push_back(a), reduced_list.push_back(a), keep_shape[a] = 1, lane_length *= x.shape()[a];
    lanes_shape.push_back(lane_length);
    Tensor kept, y;  // the extremes in keepdim shape, and the result
    {
        NoGradGuard no_grad;
        const Tensor lanes = reshape(permute(x, order), lanes_shape);
        kept = reshape(select_extreme(lanes, -1, true, op, largest).values, keep_shape);
        y = reshape(kept, keepdim ? keep_shape : out_shape);
    }
    // dx = dy · [x = extreme] / (number of elements equal to it)
    autograd::record(op, {x}, {y}, [x = saved(x), kept = saved(kept), keep_shape, reduced_list](const Gradients& g) {
        const Tensor hit = eq(x, kept);
        return Gradients{mul(reshape(g[0], keep_shape), div(hit, sum(hit, reduced_list, true)))};
    });
    return y;
}

}  // namespace

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) { return arg_select(x, axis, keepdim, "argmax", std::greater<>()); }
Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim) { return arg_select(x, axis, keepdim, "argmin", std::less<>()); }
ValuesIndices max(const Tensor& x, std::int64_t axis, bool keepdim) { return select_extreme(x, axis, keepdim, "max", true); }
ValuesIndices min(const Tensor& x, std::int64_t axis, bool keepdim) { return select_extreme(x, axis, keepdim, "min", false); }
Tensor amax(const Tensor& x, const Shape& axes, bool keepdim) { return extreme_over(x, axes, keepdim, "amax", true); }
Tensor amin(const Tensor& x, const Shape& axes, bool keepdim) { return extreme_over(x, axes, keepdim, "amin", false); }

// --- composites: their gradients come from the ops they are made of ------------------------------

// x - mean(x), shifted first by the mean rounded to the dtype (a constant: the deviations do not
// depend on it), which leaves values near zero whose own mean is then exact enough
Tensor deviations(const Tensor& x, const Shape& axes) {
    NYX_CHECK(is_floating(x.dtype()), "deviations: expected a floating tensor (f32 or f64), got ", x.dtype(),
              "; convert it with .to(nyx::f32)");
    const Tensor shifted = sub(x, mean(x, axes, true).detach());
    return sub(shifted, mean(shifted, axes, true));
}

// var = Σ (x - mean)² / (count - correction)
Tensor var(const Tensor& x, const Shape& axes, double correction, bool keepdim) {
    NYX_CHECK(is_floating(x.dtype()), "var: expected a floating tensor (f32 or f64), got ", x.dtype(),
              "; convert it with .to(nyx::f32)");
    const auto count = keepdim_shape(x, axes, "var").second;
    const Tensor centered = deviations(x, axes);
    return div(sum(mul(centered, centered), axes, keepdim),
               scalar(std::max(0.0, static_cast<double>(count) - correction), x.dtype()));
}

// logsumexp = m + log Σ exp(x - m) with m the (constant) maximum, so nothing overflows
Tensor logsumexp(const Tensor& x, const Shape& axes, bool keepdim) {
    NYX_CHECK(is_floating(x.dtype()), "logsumexp: expected a floating tensor (f32 or f64), got ", x.dtype(),
              "; convert it with .to(nyx::f32)");
    Tensor m = amax(x, axes, true).detach();
    m = masked_fill(m, eq(abs(m), scalar(INFINITY, m.dtype())), 0.0);  // rows of ±inf: shift by 0
    const Tensor out = add(log(sum(exp(sub(x, m)), axes, true)), m);
    return keepdim ? out : sum(out, axes, false);  // drops the size-1 axes
}

}  // namespace nyx::ops
