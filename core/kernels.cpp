#include "kernels.hpp"

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

#include "loops.hpp"
#include "vector_math.hpp"

namespace nyx::kernels {

namespace {
// Converts one element; a floating value that an i64 cannot hold (NaN, infinity, beyond ±2^63)
// is an error rather than undefined behaviour. bf16 goes through f32, which holds it exactly.
template <class D, class S>
D convert(S value) {
    if constexpr (std::is_same_v<S, bfloat16> && !std::is_same_v<D, bfloat16>) {
        return convert<D>(static_cast<float>(value));
    } else {
        if constexpr (std::is_same_v<D, std::int64_t> && !std::is_same_v<S, std::int64_t>)
            NYX_CHECK(value >= -0x1p63 && value < 0x1p63, "conversion to i64: the value ", value, " does not fit in an i64");
        return static_cast<D>(value);
    }
}

// update(d, s) for each element d of destination and the element s of source broadcast to it
// (checked by the caller): a flat loop when both are contiguous and of one shape, else row by row.
template <class D, class S, class Update>
void update_from(const Tensor& destination, const Tensor& source, const Update& update) {
    D* d = destination.data<D>();
    const S* s = source.data<S>();
    if (destination.is_contiguous() && source.is_contiguous() && source.shape() == destination.shape()) {
        parallel_for(0, destination.numel(), loops::grain, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) update(d[i], s[i]);
        });
        return;
    }
    const Shape source_strides = broadcast_strides(source.shape(), source.strides(), destination.shape());
    loops::for_each_row<2>(destination.shape(), {&destination.strides(), &source_strides}, {0, 0},
                           [&](const auto& at, std::int64_t n, const auto& step) {
                               for (std::int64_t i = 0; i < n; ++i) update(d[at[0] + i * step[0]], s[at[1] + i * step[1]]);
                           });
}

}  // namespace

void copy(const Tensor& destination, const Tensor& source) {
    NYX_CHECK(broadcasts_to(source.shape(), destination.shape()), "copy: a source of shape ",
              to_string(source.shape()), " cannot fill a destination of shape ", to_string(destination.shape()));
    if (destination.dtype() == bf16 && source.dtype() == f32 && destination.is_contiguous() && source.is_contiguous() &&
        source.shape() == destination.shape()) {  // autocast's conversion, vectorised
        const float* s = source.data<float>();
        bfloat16* d = destination.data<bfloat16>();
        parallel_for(0, destination.numel(), loops::grain,
                     [&](std::int64_t b, std::int64_t e) { vmath::to_bf16(s + b, d + b, e - b); });
        return;
    }
    dispatch_with_bf16(destination.dtype(), [&]<class D>() {
        dispatch_with_bf16(source.dtype(), [&]<class S>() {
            update_from<D, S>(destination, source, [](D& d, S s) { d = convert<D>(s); });
        });
    });
}

namespace {
// Applies update(element, value) to every element of destination in place, with value cast to its type.
template <class Update>
void update_each(const Tensor& destination, double value, const Update& update) {
    dispatch(destination.dtype(), [&]<class T>() {
        T* d = destination.data<T>();
        const T v = convert<T>(value);
        if (destination.is_contiguous()) {
            parallel_for(0, destination.numel(), loops::grain, [&](std::int64_t b, std::int64_t e) {
                for (std::int64_t i = b; i < e; ++i) update(d[i], v);
            });
            return;
        }
        loops::for_each_row<1>(destination.shape(), {&destination.strides()}, {0},
                               [&](const auto& at, std::int64_t n, const auto& step) {
                                   for (std::int64_t i = 0; i < n; ++i) update(d[at[0] + i * step[0]], v);
                               });
    });
}
}  // namespace

void fill(const Tensor& destination, double value) {
    if (destination.dtype() == bf16) return copy(destination, full({}, value, f32));  // rounds once, as a copy does
    update_each(destination, value, [](auto& element, auto v) { element = v; });
}

void scale(const Tensor& destination, double factor) {
    update_each(destination, factor, [](auto& element, auto f) { element *= f; });
}

Tensor contiguous_copy(const Tensor& x) {
    Tensor out = empty(x.shape(), x.dtype());
    copy(out, x);
    return out;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : contiguous_copy(x); }

Tensor add(const Tensor& a, const Tensor& b) {
    NYX_CHECK(a.dtype() == b.dtype(), "add: dtypes differ (", a.dtype(), " and ", b.dtype(), ")");
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add");
    return dispatch(a.dtype(), [&]<class T>() { return loops::map<T, T>(a, b, shape, [](T x, T y) { return x + y; }); });
}

void add_in_place(const Tensor& destination, const Tensor& source, double alpha) {
    NYX_CHECK(destination.dtype() == source.dtype(), "add_: dtypes differ (", destination.dtype(), " and ",
              source.dtype(), ")");
    NYX_CHECK(broadcasts_to(source.shape(), destination.shape()),
              "add_: a tensor of shape ", to_string(source.shape()), " cannot be added in place to one of shape ",
              to_string(destination.shape()));
    dispatch(destination.dtype(), [&]<class T>() {
        const T a = static_cast<T>(alpha);
        update_from<T, T>(destination, source, [a](T& d, T s) { d += a * s; });
    });
}

namespace {

template <class T> using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, T>;

// A finished sum, times `scale` (1 for i64), rounded once to T.
template <class T>
T scaled(Accumulator<T> total, double scale) {
    if constexpr (std::is_integral_v<T>) return total;
    else return static_cast<T>(total * scale);
}

// out[r] = scale · sum of x[r, 0..length) for a contiguous [rows, length] block. Each row is cut into
// fixed chunks whose partial sums are added in order, so the result never depends on the thread count.
template <class T>
void sum_rows(const T* x, std::int64_t rows, std::int64_t length, T* out, double scale) {
    constexpr std::int64_t chunk = 16384;
    const std::int64_t chunks = std::max<std::int64_t>(1, (length + chunk - 1) / chunk);
    std::vector<Accumulator<T>> partial(static_cast<std::size_t>(rows * chunks));
    parallel_for(0, rows * chunks, std::max<std::int64_t>(1, loops::grain / std::min(length, chunk) ),
                 [&](std::int64_t first, std::int64_t last) {
                     for (std::int64_t item = first; item < last; ++item) {
                         const std::int64_t r = item / chunks, c = item % chunks;
                         const T* p = x + r * length + c * chunk;
                         const std::int64_t n = std::min(chunk, length - c * chunk);
                         Accumulator<T> s = 0;
                         for (std::int64_t i = 0; i < n; ++i) s += p[i];
                         partial[item] = s;
                     }
                 });
    for (std::int64_t r = 0; r < rows; ++r)
        out[r] = scaled<T>(std::accumulate(partial.begin() + r * chunks, partial.begin() + (r + 1) * chunks, Accumulator<T>{0}),
                           scale);
}

// out[c] = scale · sum over r of x[r, c] for a contiguous [rows, columns] block (reducing leading
// axes, as un-broadcasting a bias gradient does). Rows are added in order for every column.
template <class T>
void sum_columns(const T* x, std::int64_t rows, std::int64_t columns, T* out, double scale) {
    parallel_for(0, columns, std::max<std::int64_t>(16, loops::grain / std::max<std::int64_t>(rows, 1)),
                 [&](std::int64_t first, std::int64_t last) {
                     std::vector<Accumulator<T>> s(static_cast<std::size_t>(last - first), 0);
                     for (std::int64_t r = 0; r < rows; ++r) {
                         const T* row = x + r * columns;
                         for (std::int64_t c = first; c < last; ++c) s[c - first] += row[c];
                     }
                     for (std::int64_t c = first; c < last; ++c) out[c] = scaled<T>(s[c - first], scale);
                 });
}

}  // namespace

std::vector<bool> reduced_axes(std::int64_t rank, const Shape& axes, std::string_view op) {
    std::vector<bool> reduced(static_cast<std::size_t>(rank), axes.empty());
    for (std::int64_t axis : axes) {
        const std::int64_t a = normalize_axis(axis, rank, op);
        NYX_CHECK(!reduced[a], op, ": axis ", axis, " is listed twice in ", to_string(axes));
        reduced[a] = true;
    }
    return reduced;
}

Tensor sum(const Tensor& x, const Shape& axes, bool keepdim, double scale) {
    NYX_CHECK(scale == 1 || is_floating(x.dtype()), "sum: a scaled sum needs a floating tensor, got ", x.dtype());
    const std::int64_t rank = x.dim();
    const std::vector<bool> reduced = reduced_axes(rank, axes, "sum");
    Shape kept_shape, reduced_shape, out_shape, order;
    for (std::int64_t a = 0; a < rank; ++a) {
        (reduced[a] ? reduced_shape : kept_shape).push_back(x.shape()[a]);
        if (!reduced[a]) order.push_back(a);
        if (!reduced[a] || keepdim) out_shape.push_back(reduced[a] ? 1 : x.shape()[a]);
    }
    for (std::int64_t a = 0; a < rank; ++a)
        if (reduced[a]) order.push_back(a);
    const std::int64_t rows = numel(kept_shape), length = numel(reduced_shape);
    Tensor out = empty(out_shape, x.dtype());

    // Reducing a leading block of a contiguous tensor: sum whole rows into columns, no copy.
    const bool leading = x.is_contiguous() && rank > 0 && !reduced.back() &&
                         std::is_sorted(reduced.begin(), reduced.end(), std::greater<>());
    Tensor source = x;
    if (!leading) {
        Shape shape, strides;
        for (std::int64_t a : order) shape.push_back(x.shape()[a]), strides.push_back(x.strides()[a]);
        source = x.as_strided(shape, strides, x.offset());
        if (!source.is_contiguous()) source = contiguous_copy(source);
    }
    dispatch(x.dtype(), [&]<class T>() {
        if (length == 0) std::fill_n(out.data<T>(), rows, T{0});
        else if (leading) sum_columns(source.data<T>(), length, rows, out.data<T>(), scale);
        else sum_rows(source.data<T>(), rows, length, out.data<T>(), scale);
    });
    return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    NYX_CHECK(broadcasts_to(shape, x.shape()),
              "sum_to: shape ", to_string(x.shape()), " is not a broadcast of ", to_string(shape));
    const std::int64_t lead = x.dim() - static_cast<std::int64_t>(shape.size());
    Shape axes;
    for (std::int64_t a = 0; a < x.dim(); ++a)
        if (a < lead || (shape[a - lead] == 1 && x.shape()[a] != 1)) axes.push_back(a);
    Tensor summed = sum(x, axes, /*keepdim=*/true);  // contiguous
    return summed.as_strided(shape, contiguous_strides(shape), 0);
}

}  // namespace nyx::kernels
