// Views (no copy: new shape, strides and offset over the same storage) and the copies contiguous,
// clone and to. The backward of a view routes the gradient back into the input's layout.
#include <algorithm>
#include <numeric>
#include <optional>

#include <functional>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::record;

// Resolves one -1 in `shape` so that it holds `count` elements.
Shape infer_shape(Shape shape, std::int64_t count, const Shape& from, const char* op) {
    std::int64_t known = 1, unknown = -1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            NYX_CHECK(unknown < 0, op, ": only one size may be -1 in ", to_string(shape));
            unknown = static_cast<std::int64_t>(i);
        } else {
            NYX_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in ", to_string(shape));
            known *= shape[i];
        }
    }
    if (unknown >= 0) {
        NYX_CHECK(known > 0 && count % known == 0, op, ": cannot infer the -1 in ", to_string(shape), " for ",
                  count, " elements (shape ", to_string(from), ")");
        shape[unknown] = count / known;
    }
    NYX_CHECK(numel(shape) == count, op, ": shape ", to_string(shape), " holds ", numel(shape),
              " elements but the tensor of shape ", to_string(from), " has ", count);
    return shape;
}

// Strides that read x's elements in row-major order as `shape`, or nothing when x's strides make
// that impossible without a copy. Axes are matched in chunks that are contiguous in memory.
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
    if (x.numel() == 0 || x.dim() == 0) return contiguous_strides(shape);
    const Shape& old_shape = x.shape();
    const Shape& old_strides = x.strides();
    Shape strides(shape.size());
    std::int64_t view_axis = static_cast<std::int64_t>(shape.size()) - 1;
    std::int64_t chunk_stride = old_strides.back(), chunk_count = 1, view_count = 1;
    for (std::int64_t axis = x.dim() - 1; axis >= 0; --axis) {
        chunk_count *= old_shape[axis];
        const bool chunk_ends = axis == 0 || (old_shape[axis - 1] != 1 && old_strides[axis - 1] != chunk_count * chunk_stride);
        if (!chunk_ends) continue;
        while (view_axis >= 0 && (view_count < chunk_count || shape[view_axis] == 1)) {
            strides[view_axis] = view_count * chunk_stride;
            view_count *= shape[view_axis];
            --view_axis;
        }
        if (view_count != chunk_count) return std::nullopt;
        if (axis > 0) chunk_stride = old_strides[axis - 1], chunk_count = 1, view_count = 1;
    }
    if (view_axis != -1) return std::nullopt;
    return strides;
}

// A zero tensor of the input's shape with g written into the part that view_of selects: the
// backward of the views that pick a part of their input (slice, select). Its own backward is the
// view again (autograd::linear_backward).
Tensor scatter_into_zeros(const char* op, const Shape& shape, const Tensor& g, std::function<Tensor(const Tensor&)> view_of) {
    return autograd::linear_backward(
        op, g,
        [&](const Tensor& dy) {
            Tensor grad = zeros(shape, dy.dtype());
            kernels::copy(view_of(grad), dy);
            return grad;
        },
        view_of);
}

}  // namespace

// y = x read as `shape`
Tensor view(const Tensor& x, Shape shape) {
    shape = infer_shape(std::move(shape), x.numel(), x.shape(), "view");
    const auto strides = view_strides(x, shape);
    NYX_CHECK(strides, "view: a tensor of shape ", to_string(x.shape()), " and strides ", to_string(x.strides()),
              " cannot be viewed as ", to_string(shape), " without a copy; use reshape(), which copies when it must, "
              "or call contiguous() first");
    Tensor y = x.as_strided(shape, *strides, x.offset());
    // dx = dy read back in x's shape
    record("view", {x}, {y}, [input_shape = x.shape()](const Gradients& g) { return Gradients{reshape(g[0], input_shape)}; });
    return y;
}

Tensor reshape(const Tensor& x, Shape shape) {
    shape = infer_shape(std::move(shape), x.numel(), x.shape(), "reshape");
    return view(view_strides(x, shape) ? x : contiguous(x), std::move(shape));
}

// y = x with axes axis0 and axis1 swapped
Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1) {
    const std::int64_t a = normalize_axis(axis0, x.dim(), "transpose"), b = normalize_axis(axis1, x.dim(), "transpose");
    Shape shape = x.shape(), strides = x.strides();
    std::swap(shape[a], shape[b]);
    std::swap(strides[a], strides[b]);
    Tensor y = x.as_strided(shape, strides, x.offset());
    // dx = dyᵀ (the same swap)
    record("transpose", {x}, {y}, [a, b](const Gradients& g) { return Gradients{transpose(g[0], a, b)}; });
    return y;
}

// y's axis i is x's axis axes[i]
Tensor permute(const Tensor& x, Shape axes) {
    NYX_CHECK(static_cast<std::int64_t>(axes.size()) == x.dim(), "permute: ", to_string(axes), " names ", axes.size(),
              " axes but the tensor has rank ", x.dim(), " (shape ", to_string(x.shape()), ")");
    Shape shape(axes.size()), strides(axes.size()), inverse(axes.size(), -1);
    for (std::size_t i = 0; i < axes.size(); ++i) {
        const std::int64_t a = normalize_axis(axes[i], x.dim(), "permute");
        NYX_CHECK(inverse[a] < 0, "permute: axis ", a, " appears twice in ", to_string(axes));
        inverse[a] = static_cast<std::int64_t>(i);
        shape[i] = x.shape()[a];
        strides[i] = x.strides()[a];
    }
    Tensor y = x.as_strided(shape, strides, x.offset());
    // dx = dy permuted back by the inverse permutation
    record("permute", {x}, {y}, [inverse](const Gradients& g) { return Gradients{permute(g[0], inverse)}; });
    return y;
}

// y = x[..., start:end:step, ...] along axis
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "slice");
    NYX_CHECK(step >= 1, "slice: step ", step, " must be >= 1");
    const std::int64_t size = x.shape()[a];
    auto clamp = [size](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + size : i, 0, size); };
    start = clamp(start);
    end = std::max(clamp(end), start);
    Shape shape = x.shape(), strides = x.strides();
    shape[a] = end > start ? 1 + (end - start - 1) / step : 0;
    if (shape[a] > 1) strides[a] *= step;  // (with one entry left, a huge step must not overflow the stride)
    Tensor y = x.as_strided(shape, strides, x.offset() + start * x.strides()[a]);
    // dx = zeros with dy written into the slice
    record("slice", {x}, {y}, [a, start, end, step, input_shape = x.shape()](const Gradients& g) {
        return Gradients{scatter_into_zeros("slice", input_shape, g[0], [=](const Tensor& t) { return slice(t, a, start, end, step); })};
    });
    return y;
}

Tensor narrow(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "narrow");
    const std::int64_t size = x.shape()[a];
    NYX_CHECK(start >= -size && start <= size && length >= 0 && length <= size - (start < 0 ? start + size : start),
              "narrow: start ", start, " and length ", length, " do not fit in axis ", a, " of size ", size,
              " (shape ", to_string(x.shape()), ")");
    if (start < 0) start += size;
    return slice(x, a, start, start + length);
}

// y = x[..., index, ...]: axis dropped
Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "select");
    const std::int64_t size = x.shape()[a];
    NYX_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for axis ", a, " of size ",
              size, " (shape ", to_string(x.shape()), ")");
    if (index < 0) index += size;
    Shape shape = x.shape(), strides = x.strides();
    shape.erase(shape.begin() + a);
    strides.erase(strides.begin() + a);
    Tensor y = x.as_strided(shape, strides, x.offset() + index * x.strides()[a]);
    // dx = zeros with dy written at the selected index
    record("select", {x}, {y}, [a, index, input_shape = x.shape()](const Gradients& g) {
        return Gradients{scatter_into_zeros("select", input_shape, g[0], [=](const Tensor& t) { return select(t, a, index); })};
    });
    return y;
}

// y = x broadcast to `shape` (stride 0 on stretched and added axes)
Tensor expand(const Tensor& x, Shape shape) {
    NYX_CHECK(shape.size() >= x.shape().size(), "expand: cannot expand shape ", to_string(x.shape()), " to the lower rank ",
              to_string(shape));
    const std::size_t lead = shape.size() - x.shape().size();
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const std::int64_t own = i < lead ? -2 : x.shape()[i - lead];
        if (shape[i] == -1) {
            NYX_CHECK(i >= lead, "expand: -1 is not allowed for the new leading axis ", i, " in ", to_string(shape));
            shape[i] = own;
        }
        NYX_CHECK(i < lead || own == shape[i] || own == 1, "expand: axis ", i - lead, " of shape ", to_string(x.shape()),
                  " has size ", own, ", which cannot expand to ", shape[i], " (only size-1 axes expand)");
        NYX_CHECK(shape[i] >= 0, "expand: invalid size ", shape[i], " in ", to_string(shape));
    }
    Tensor y = x.as_strided(shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset());
    // dx = dy summed over the expanded axes, which the engine does when it undoes broadcasting
    record("expand", {x}, {y}, [](const Gradients& g) { return Gradients{g[0]}; });
    return y;
}

namespace {
// y = x without the axes for which drop(axis) is true (all of size 1).
template <class Drop>
Tensor drop_unit_axes(const Tensor& x, const char* op, const Drop& drop) {
    Shape shape, strides;
    for (std::int64_t a = 0; a < x.dim(); ++a)
        if (!drop(a)) shape.push_back(x.shape()[a]), strides.push_back(x.strides()[a]);
    Tensor y = x.as_strided(shape, strides, x.offset());
    // dx = dy with the unit axes put back
    record(op, {x}, {y}, [input_shape = x.shape()](const Gradients& g) { return Gradients{reshape(g[0], input_shape)}; });
    return y;
}
}  // namespace

Tensor squeeze(const Tensor& x) {
    return drop_unit_axes(x, "squeeze", [&](std::int64_t a) { return x.shape()[a] == 1; });
}

Tensor squeeze(const Tensor& x, std::int64_t axis) {
    const std::int64_t target = x.dim() == 0 ? -1 : normalize_axis(axis, x.dim(), "squeeze");
    return drop_unit_axes(x, "squeeze", [&](std::int64_t a) { return a == target && x.shape()[a] == 1; });
}

// y = x with a size-1 axis inserted at `axis` (in [-rank-1, rank])
Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
    const std::int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
    Shape shape = x.shape(), strides = x.strides();
    const std::int64_t stride = a < x.dim() ? x.shape()[a] * x.strides()[a] : 1;
    shape.insert(shape.begin() + a, 1);
    strides.insert(strides.begin() + a, stride);
    Tensor y = x.as_strided(shape, strides, x.offset());
    // dx = dy without the inserted axis
    record("unsqueeze", {x}, {y}, [input_shape = x.shape()](const Gradients& g) { return Gradients{reshape(g[0], input_shape)}; });
    return y;
}

Tensor flatten(const Tensor& x, std::int64_t start_axis, std::int64_t end_axis) {
    if (x.dim() == 0) return reshape(x, {1});
    const std::int64_t start = normalize_axis(start_axis, x.dim(), "flatten"), end = normalize_axis(end_axis, x.dim(), "flatten");
    NYX_CHECK(start <= end, "flatten: start axis ", start_axis, " comes after end axis ", end_axis);
    Shape shape(x.shape().begin(), x.shape().begin() + start);
    shape.push_back(-1);
    shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
    if (x.numel() == 0) shape[start] = numel(Shape(x.shape().begin() + start, x.shape().begin() + end + 1));
    return reshape(x, shape);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t axis) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "split");
    NYX_CHECK(size >= 1, "split: the piece size must be at least 1, got ", size);
    std::vector<Tensor> pieces;
    for (std::int64_t start = 0; start < x.shape()[a]; start += size)
        pieces.push_back(narrow(x, a, start, std::min(size, x.shape()[a] - start)));
    return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis) {
    NYX_CHECK(chunks >= 1, "chunk: the number of chunks must be at least 1, got ", chunks);
    const std::int64_t n = x.shape()[normalize_axis(axis, x.dim(), "chunk")];
    return split(x, std::max<std::int64_t>(1, (n + chunks - 1) / chunks), axis);
}

// --- copies --------------------------------------------------------------------------------------

// y = a copy of x (row-major contiguous)
Tensor clone(const Tensor& x) {
    Tensor y = kernels::contiguous_copy(x);
    // dx = dy
    record("clone", {x}, {y}, [](const Gradients& g) { return Gradients{g[0]}; });
    return y;
}

Tensor contiguous(const Tensor& x) {
    if (x.is_contiguous()) return x;
    Tensor y = kernels::contiguous_copy(x);
    // dx = dy
    record("contiguous", {x}, {y}, [](const Gradients& g) { return Gradients{g[0]}; });
    return y;
}

// y = x converted to dtype
Tensor to(const Tensor& x, DType dtype) {
    if (x.dtype() == dtype) return x;
    NYX_CHECK(dtype != bf16 || !x.requires_grad() || !is_grad_enabled(), "to(bf16): the tensor requires grad, and "
              "no gradient flows through bf16 storage; for bf16 products with f32 gradients use nyx::AutocastGuard, "
              "or convert a .detach()ed tensor");
    Tensor y = empty(x.shape(), dtype);
    kernels::copy(y, x);
    // dx = dy converted back to x's dtype (nothing flows through a conversion to i64 or bf16, which
    // hold data; autocast's bf16 products record their own backward)
    if (is_floating(dtype))
        record("to", {x}, {y}, [from = x.dtype()](const Gradients& g) { return Gradients{to(g[0], from)}; });
    return y;
}

}  // namespace nyx::ops
