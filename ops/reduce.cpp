// Reductions. Their backward spreads each output's gradient back over the elements it summed.
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;

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
    autograd::record("sum", {x}, {y}, [kept, input_shape = x.shape()](const Gradients& g) {
        return Gradients{spread(g[0], kept, input_shape)};
    });
    return y;
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// y = (Σ over axes of x) / count
Tensor mean(const Tensor& x, const Shape& axes, bool keepdim) {
    NYX_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor (f32 or f64), got i64; convert it with .to(nyx::f32)");
    auto [kept, count] = keepdim_shape(x, axes, "mean");
    Tensor y = kernels::sum(x, axes, keepdim);
    kernels::scale(y, 1.0 / static_cast<double>(count));
    // dx = dy / count, broadcast back over the averaged axes
    autograd::record("mean", {x}, {y}, [kept, count, input_shape = x.shape()](const Gradients& g) {
        return Gradients{spread(div(g[0], scalar(static_cast<double>(count), g[0].dtype())), kept, input_shape)};
    });
    return y;
}

}  // namespace nyx::ops
