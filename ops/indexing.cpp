// Joining, padding and indexing: concat, stack, pad, index_select, gather, one_hot. Their
// backwards route each output element's gradient to the input element it came from, adding
// where several outputs came from one input (always in a fixed order: results never depend on
// the thread count).
#include <algorithm>

#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::record;

// Throws naming `op` unless every entry of the i64 tensor `index` lies in [0, size).
void check_indices(const Tensor& index, std::int64_t size, const char* op, const char* what) {
    NYX_CHECK(index.dtype() == i64, op, ": ", what, " must be i64, got ", index.dtype());
    const Tensor flat = kernels::contiguous(index);
    const std::int64_t* values = flat.data<std::int64_t>();
    for (std::int64_t i = 0; i < flat.numel(); ++i)
        NYX_CHECK(values[i] >= 0 && values[i] < size, op, ": ", what, " ", values[i], " at position ", i,
                  " is out of range [0, ", size, ")");
}

// Zeros of `shape` with dy added at the places gather(·, a, index) reads (in order, so that
// repeated places add up deterministically): gather's backward.
Tensor scatter_add_into_zeros(const Shape& shape, std::int64_t a, const Tensor& index, const Tensor& dy) {
    Tensor dx = zeros(shape, dy.dtype());
    Shape lane = dx.strides();
    lane[a] = 0;
    const std::int64_t axis_stride = dx.strides()[a];
    const Shape& g_strides = dy.strides();  // dy has the index's shape
    dispatch(dy.dtype(), [&]<class T>() {
        T* pdx = dx.data<T>();
        const T* pg = dy.data<T>();
        const std::int64_t* pi = index.data<std::int64_t>();
        const Shape index_strides = index.strides();
        Shape position(index.dim(), 0);
        for (std::int64_t k = 0; k < index.numel(); ++k) {
            std::int64_t o_dx = 0, o_g = 0, o_i = 0;
            for (std::int64_t d = 0; d < index.dim(); ++d)
                o_dx += position[d] * lane[d], o_g += position[d] * g_strides[d], o_i += position[d] * index_strides[d];
            pdx[o_dx + pi[o_i] * axis_stride] += pg[o_g];
            for (auto d = index.dim(); d-- > 0;) {
                if (++position[d] < index.shape()[d]) break;
                position[d] = 0;
            }
        }
    });
    return dx;
}

}  // namespace

// y = [t0, t1, ...] joined along axis
Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis) {
    NYX_CHECK(!tensors.empty(), "concat: needs at least one tensor");
    const Tensor& first = tensors.front();
    NYX_CHECK(first.dim() >= 1, "concat: cannot join rank-0 tensors; use stack");
    const std::int64_t a = normalize_axis(axis, first.dim(), "concat");
    Shape shape = first.shape();
    shape[a] = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        Shape expected = first.shape(), got = t.shape();
        if (t.dim() == first.dim()) expected[a] = got[a] = 0;
        NYX_CHECK(t.dtype() == first.dtype() && got == expected, "concat: tensor ", i, " has shape ", to_string(t.shape()),
                  " and dtype ", t.dtype(), ", but tensor 0 has shape ", to_string(first.shape()), " and dtype ",
                  first.dtype(), "; all must match except along axis ", a);
        shape[a] += t.shape()[a];
    }
    Tensor y = empty(shape, first.dtype());
    std::vector<std::int64_t> starts, sizes;
    for (std::int64_t start = 0; const Tensor& t : tensors) {
        starts.push_back(start);
        sizes.push_back(t.shape()[a]);
        kernels::copy(slice(y, a, start, start + t.shape()[a]), t);
        start += t.shape()[a];
    }
    // d t_i = the part of dy that t_i filled
    record("concat", tensors, {y}, [a, starts, sizes](const Gradients& g) {
        Gradients grads;
        for (std::size_t i = 0; i < starts.size(); ++i) grads.push_back(narrow(g[0], a, starts[i], sizes[i]));
        return grads;
    });
    return y;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis) {
    NYX_CHECK(!tensors.empty(), "stack: needs at least one tensor");
    const std::int64_t a = normalize_axis(axis, tensors.front().dim() + 1, "stack");
    std::vector<Tensor> columns;
    for (const Tensor& t : tensors) {
        NYX_CHECK(t.shape() == tensors.front().shape(), "stack: tensor ", columns.size(), " has shape ", to_string(t.shape()),
                  " but tensor 0 has shape ", to_string(tensors.front().shape()), "; stacked tensors must match");
        columns.push_back(unsqueeze(t, a));
    }
    return concat(columns, a);
}

// y = x surrounded by `value`
Tensor pad(const Tensor& x, const Shape& padding, double value) {
    NYX_CHECK(padding.size() % 2 == 0 && static_cast<std::int64_t>(padding.size()) <= 2 * x.dim(), "pad: ",
              to_string(padding), " must hold {before, after} pairs for at most the ", x.dim(), " axes of shape ",
              to_string(x.shape()));
    Shape shape = x.shape();
    std::int64_t offset = 0;
    std::vector<std::int64_t> before(x.dim(), 0);
    for (std::size_t p = 0; p < padding.size(); p += 2) {
        const std::int64_t a = x.dim() - 1 - static_cast<std::int64_t>(p / 2);
        NYX_CHECK(padding[p] >= 0 && padding[p + 1] >= 0, "pad: negative padding in ", to_string(padding),
                  " (cropping is not supported; use slice)");
        before[a] = padding[p];
        shape[a] += padding[p] + padding[p + 1];
    }
    Tensor y = full(shape, value, x.dtype());
    for (std::int64_t a = 0; a < x.dim(); ++a) offset += before[a] * y.strides()[a];
    kernels::copy(y.as_strided(x.shape(), y.strides(), offset), x);
    // dx = the interior of dy
    record("pad", {x}, {y}, [input_shape = x.shape(), before](const Gradients& g) {
        Tensor inner = g[0];
        for (std::size_t a = 0; a < before.size(); ++a) inner = narrow(inner, static_cast<std::int64_t>(a), before[a], input_shape[a]);
        return Gradients{inner};
    });
    return y;
}

// y = x[..., index, ...] along axis
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
    NYX_CHECK(index.dim() == 1, "index_select: the index must be 1-D, got shape ", to_string(index.shape()));
    const std::int64_t a = normalize_axis(axis, std::max<std::int64_t>(x.dim(), 1), "index_select");
    check_indices(index, x.dim() == 0 ? 1 : x.shape()[a], "index_select", "index");
    Shape shape = x.shape();
    if (x.dim() > 0) shape[a] = index.numel();
    // Each output lane along the axis reads the input lane of its index: a gather whose index is
    // the 1-D index broadcast over the other axes.
    Shape index_shape(std::max<std::int64_t>(x.dim(), 1), 1);
    index_shape[a] = index.numel();
    Tensor expanded = expand(reshape(index, index_shape), x.dim() == 0 ? Shape{index.numel()} : shape);
    Tensor y = gather(x.dim() == 0 ? reshape(x, {1}) : x, a, expanded);
    return x.dim() == 0 ? reshape(y, {index.numel()}) : y;
}

// y[i] = x[i with axis replaced by index[i]]
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
    const std::int64_t a = normalize_axis(axis, x.dim(), "gather");
    NYX_CHECK(index.dim() == x.dim(), "gather: the index has rank ", index.dim(), " but the tensor has rank ", x.dim(),
              " (shapes ", to_string(index.shape()), " and ", to_string(x.shape()), ")");
    for (std::int64_t d = 0; d < x.dim(); ++d)
        NYX_CHECK(d == a || index.shape()[d] <= x.shape()[d], "gather: index shape ", to_string(index.shape()),
                  " is larger than the tensor's shape ", to_string(x.shape()), " on axis ", d);
    check_indices(index, x.shape()[a], "gather", "index");
    Tensor y = empty(index.shape(), x.dtype());
    Shape lane_strides = x.strides();
    lane_strides[a] = 0;
    const std::int64_t axis_stride = x.strides()[a];
    dispatch(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        const std::int64_t* pi = index.data<std::int64_t>();
        T* out = y.data<T>();
        loops::for_each_row<3>(index.shape(), {&lane_strides, &index.strides(), &y.strides()}, {0, 0, 0},
                               [&](const auto& at, std::int64_t n, const auto& step) {
                                   for (std::int64_t i = 0; i < n; ++i)
                                       out[at[2] + i] = px[at[0] + i * step[0] + pi[at[1] + i * step[1]] * axis_stride];
                               });
    });
    // dx = zeros with dy added at the gathered places; its own backward gathers again
    record("gather", {x, index}, {y}, [a, index = autograd::saved(index), input_shape = x.shape()](const Gradients& g) {
        const Tensor idx = index;
        return Gradients{autograd::linear_backward(
                             "gather", g[0], [&](const Tensor& dy) { return scatter_add_into_zeros(input_shape, a, idx, dy); },
                             [a, idx](const Tensor& t) { return gather(t, a, idx); }),
                         Tensor()};
    });
    return y;
}

Tensor one_hot(const Tensor& ids, std::int64_t classes, DType dtype) {
    NYX_CHECK(classes >= 1, "one_hot: the number of classes must be at least 1, got ", classes);
    check_indices(ids, classes, "one_hot", "id");
    Shape shape = ids.shape();
    shape.push_back(classes);
    Tensor y = zeros(shape, dtype);
    const Tensor flat = kernels::contiguous(ids);
    const std::int64_t* values = flat.data<std::int64_t>();
    dispatch(dtype, [&]<class T>() {
        T* out = y.data<T>();
        for (std::int64_t i = 0; i < flat.numel(); ++i) out[i * classes + values[i]] = T{1};
    });
    return y;
}

}  // namespace nyx::ops
