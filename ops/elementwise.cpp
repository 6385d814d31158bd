// Elementwise ops. Each forward is followed by its backward; gradients are returned in the shape of
// the broadcast result and the engine sums them back to each input's shape.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <type_traits>

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
using autograd::recording_backward;
using autograd::saved;

// y[i] = f(x[i]) for floating x.
template <class F>
Tensor unary(const Tensor& x, const char* op, F f) {
    return dispatch_floating(x.dtype(), op, [&]<class T>() { return loops::map<T, T>(x, [&](T v) -> T { return f(v); }); });
}

// y = f(x) for floating x, computed by block(in, out, n) on contiguous pieces of x (copied first
// when x is not contiguous), in parallel: the form for the vectorised functions of core/vector_math.
template <class Block>
Tensor unary_blocks(const Tensor& x, const char* op, Block block) {
    return dispatch_floating(x.dtype(), op, [&]<class T>() {
        const Tensor xc = kernels::contiguous(x);
        Tensor y = empty(x.shape(), x.dtype());
        const T* in = xc.data<T>();
        T* out = y.data<T>();
        parallel_for(0, x.numel(), loops::heavy_grain, [&](std::int64_t b, std::int64_t e) { block(in + b, out + b, e - b); });
        return y;
    });
}

// The same for two tensors of one shape: block(a, b, out, n).
template <class Block>
Tensor binary_blocks(const Tensor& a, const Tensor& b, const char* op, Block block) {
    return dispatch_floating(a.dtype(), op, [&]<class T>() {
        const Tensor ac = kernels::contiguous(a);
        const Tensor bc = kernels::contiguous(b);
        Tensor y = empty(a.shape(), a.dtype());
        const T *pa = ac.data<T>(), *pb = bc.data<T>();
        T* out = y.data<T>();
        parallel_for(0, a.numel(), loops::heavy_grain, [&](std::int64_t s, std::int64_t e) { block(pa + s, pb + s, out + s, e - s); });
        return y;
    });
}

// y[i] = f(a[i], b[i]) with broadcasting; both operands of one dtype.
template <class F>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, bool floating_only, F f) {
    NYX_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", a.dtype(), " and ", b.dtype(),
              "); nyx does not promote types: convert one operand with .to(nyx::", a.dtype(), ")");
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
    auto run = [&]<class T>() { return loops::map<T, T>(a, b, shape, [&](T x, T y) -> T { return f(x, y); }); };
    return floating_only ? dispatch_floating(a.dtype(), op, run) : dispatch(a.dtype(), run);
}

}  // namespace

// y = a + b
Tensor add(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "add", false, [](auto x, auto z) { return x + z; });
    // da = dy, db = dy
    record("add", {a, b}, {y}, [](const Gradients& g) { return Gradients{g[0], g[0]}; });
    return y;
}

// y = a - b
Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "sub", false, [](auto x, auto z) { return x - z; });
    // da = dy, db = -dy
    record("sub", {a, b}, {y}, [](const Gradients& g) { return Gradients{g[0], neg(g[0])}; });
    return y;
}

// y = a * b
Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "mul", false, [](auto x, auto z) { return x * z; });
    // da = dy * b, db = dy * a
    record("mul", {a, b}, {y}, [a = saved(a), b = saved(b)](const Gradients& g) {
        return Gradients{mul(g[0], b), mul(g[0], a)};
    });
    return y;
}

// y = a / b
Tensor div(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "div", true, [](auto x, auto z) { return x / z; });
    // da = dy / b, db = -dy * a / b² = -dy * y / b
    record("div", {a, b}, {y}, [b = saved(b), y = saved(y)](const Gradients& g) {
        return Gradients{div(g[0], b), neg(div(mul(g[0], y), b))};
    });
    return y;
}

// y = -x
Tensor neg(const Tensor& x) {
    Tensor y = dispatch(x.dtype(), [&]<class T>() { return loops::map<T, T>(x, [](T v) { return -v; }); });
    // dx = -dy
    record("neg", {x}, {y}, [](const Gradients& g) { return Gradients{neg(g[0])}; });
    return y;
}

// y = eˣ
Tensor exp(const Tensor& x) {
    Tensor y = unary_blocks(x, "exp", [](const auto* in, auto* out, std::int64_t n) { vmath::exp(in, out, n); });
    // dx = dy * eˣ = dy * y
    record("exp", {x}, {y}, [y = saved(y)](const Gradients& g) { return Gradients{mul(g[0], y)}; });
    return y;
}

// y = ln x
Tensor log(const Tensor& x) {
    Tensor y = unary(x, "log", [](auto v) { return std::log(v); });
    // dx = dy / x
    record("log", {x}, {y}, [x = saved(x)](const Gradients& g) { return Gradients{div(g[0], x)}; });
    return y;
}

// y = max(x, 0)
Tensor relu(const Tensor& x) {
    // (a NaN stays NaN, as in PyTorch: a ReLU must not hide one)
    Tensor y = dispatch(x.dtype(), [&]<class T>() { return loops::map<T, T>(x, [](T v) { return v <= T{0} ? T{0} : v; }); });
    // dx = dy where x > 0, else 0 (the kink at 0 takes gradient 0, as PyTorch does)
    record("relu", {x}, {y}, [x = saved(x)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor v = x, zero = scalar(0, v.dtype());
            return Gradients{where(gt(v, zero), g[0], zero)};
        }
        return Gradients{binary(g[0], x, "relu backward", true, [](auto dy, auto v) { return v > 0 ? dy : decltype(dy){0}; })};
    });
    return y;
}

// y = tanh x
Tensor tanh(const Tensor& x) {
    Tensor y = unary_blocks(x, "tanh", [](const auto* in, auto* out, std::int64_t n) { vmath::tanh(in, out, n); });
    // dx = dy * (1 - y²)
    record("tanh", {x}, {y}, [y = saved(y)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor t = y;
            return Gradients{g[0] * (1.0 - t * t)};
        }
        return Gradients{binary(g[0], y, "tanh backward", true, [](auto dy, auto t) { return dy * (1 - t * t); })};
    });
    return y;
}

// y = max(a, b) (NaN wins, as in PyTorch)
Tensor maximum(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "maximum", false, [](auto x, auto z) { return (x != x || x > z) ? x : z; });
    // da = dy where a > b, db = dy where b > a; a tie gives each half
    record("maximum", {a, b}, {y}, [a = saved(a), b = saved(b)](const Gradients& g) {
        const Tensor share = binary(a, b, "maximum backward", true, [](auto x, auto z) -> decltype(x) { return x > z ? 1 : x == z ? 0.5 : 0; });
        return Gradients{mul(g[0], share), mul(g[0], sub(scalar(1, share.dtype()), share))};
    });
    return y;
}

// y = min(a, b) (NaN wins)
Tensor minimum(const Tensor& a, const Tensor& b) {
    Tensor y = binary(a, b, "minimum", false, [](auto x, auto z) { return (x != x || x < z) ? x : z; });
    // da = dy where a < b, db = dy where b < a; a tie gives each half
    record("minimum", {a, b}, {y}, [a = saved(a), b = saved(b)](const Gradients& g) {
        const Tensor share = binary(a, b, "minimum backward", true, [](auto x, auto z) -> decltype(x) { return x < z ? 1 : x == z ? 0.5 : 0; });
        return Gradients{mul(g[0], share), mul(g[0], sub(scalar(1, share.dtype()), share))};
    });
    return y;
}

// y = |x|
Tensor abs(const Tensor& x) {
    Tensor y = dispatch(x.dtype(), [&]<class T>() { return loops::map<T, T>(x, [](T v) { return v < 0 ? -v : v; }); });
    // dx = dy · sign(x) (0 at 0)
    record("abs", {x}, {y}, [x = saved(x)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor v = x, zero = scalar(0, v.dtype());
            return Gradients{where(gt(v, zero), g[0], where(lt(v, zero), -g[0], zero))};
        }
        return Gradients{binary(g[0], x, "abs backward", true, [](auto dy, auto v) { return v > 0 ? dy : v < 0 ? -dy : decltype(dy){0}; })};
    });
    return y;
}

// y = √x
Tensor sqrt(const Tensor& x) {
    Tensor y = unary(x, "sqrt", [](auto v) { return std::sqrt(v); });
    // dx = dy / (2√x) = dy · 0.5 / y
    record("sqrt", {x}, {y}, [y = saved(y)](const Gradients& g) {
        if (recording_backward()) return Gradients{g[0] * 0.5 / y};
        return Gradients{binary(g[0], y, "sqrt backward", true, [](auto dy, auto t) { return dy * decltype(t)(0.5) / t; })};
    });
    return y;
}

// y = 1 / √x
Tensor rsqrt(const Tensor& x) {
    Tensor y = unary(x, "rsqrt", [](auto v) { return 1 / std::sqrt(v); });
    // dx = dy · (-½ x^(-3/2)) = dy · (-½ y³)
    record("rsqrt", {x}, {y}, [y = saved(y)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor t = y;
            return Gradients{g[0] * -0.5 * t * t * t};
        }
        return Gradients{binary(g[0], y, "rsqrt backward", true, [](auto dy, auto t) { return dy * decltype(t)(-0.5) * t * t * t; })};
    });
    return y;
}

// y = x^e
Tensor pow(const Tensor& x, double exponent) {
    Tensor y = unary(x, "pow", [exponent](auto v) { return std::pow(v, static_cast<decltype(v)>(exponent)); });
    // dx = dy · e · x^(e-1)
    record("pow", {x}, {y}, [x = saved(x), exponent](const Gradients& g) {
        if (recording_backward()) return Gradients{exponent == 0 ? zeros_like(g[0]) : g[0] * exponent * pow(x, exponent - 1)};
        return Gradients{binary(g[0], x, "pow backward", true, [exponent](auto dy, auto v) {
            using T = decltype(v);
            return exponent == 0 ? T{0} : dy * static_cast<T>(exponent) * std::pow(v, static_cast<T>(exponent - 1));
        })};
    });
    return y;
}

// y = erf(x)
Tensor erf(const Tensor& x) {
    Tensor y = unary_blocks(x, "erf", [](const auto* in, auto* out, std::int64_t n) { vmath::erf(in, out, n); });
    // dx = dy · 2/√π · e^(-x²)
    record("erf", {x}, {y}, [x = saved(x)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor v = x;
            return Gradients{g[0] * (2 / std::sqrt(std::numbers::pi)) * exp(-(v * v))};
        }
        return Gradients{binary(g[0], x, "erf backward", true, [](auto dy, auto v) {
            return dy * static_cast<decltype(v)>(2 / std::sqrt(std::numbers::pi)) * std::exp(-v * v);
        })};
    });
    return y;
}

template <class T>
NYX_VECTORIZED void sigmoid_block(const T* in, T* out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = -in[i];
    vmath::exp(out, out, n);
    for (std::int64_t i = 0; i < n; ++i) out[i] = 1 / (1 + out[i]);
}

// y = 1 / (1 + e^(-x)) (e^(-x) overflowing to infinity gives 0, as it should)
Tensor sigmoid(const Tensor& x) {
    Tensor y = unary_blocks(x, "sigmoid", [](auto... args) { sigmoid_block(args...); });
    // dx = dy · y · (1 - y)
    record("sigmoid", {x}, {y}, [y = saved(y)](const Gradients& g) {
        if (recording_backward()) {
            const Tensor s = y;
            return Gradients{g[0] * s * (1.0 - s)};
        }
        return Gradients{binary(g[0], y, "sigmoid backward", true, [](auto dy, auto s) { return dy * s * (1 - s); })};
    });
    return y;
}

namespace {
constexpr double sqrt_2_over_pi = 0.7978845608028654, tanh_cubic = 0.044715, inv_sqrt_2pi = 0.3989422804014327;
constexpr std::int64_t gelu_chunk = 512;  // elements per pass through the vector functions
}  // namespace

// Φ(x) and φ(x) (the standard normal CDF and density) for a block; pdf may be null. In f32, Φ uses
// Abramowitz and Stegun's formula 7.1.26 for erf (|error| < 1.5e-7, as PyTorch's f32 erf), whose
// one exponential e^(-x²/2) φ shares; f64 uses the exact erf.
template <class T>
NYX_VECTORIZED void normal_cdf_pdf(const T* x, T* cdf, T* pdf, std::int64_t n) {
    T e[gelu_chunk];
    for (std::int64_t s = 0; s < n; s += gelu_chunk) {
        const std::int64_t m = std::min(gelu_chunk, n - s);
        const T* xs = x + s;
        for (std::int64_t i = 0; i < m; ++i) e[i] = T(-0.5) * xs[i] * xs[i];
        vmath::exp(e, e, m);  // e^(-x²/2)
        if constexpr (std::is_same_v<T, float>) {
            for (std::int64_t i = 0; i < m; ++i) {
                const float a = std::abs(xs[i]) * float(std::numbers::sqrt2 / 2);  // |x| / √2
                const float t = 1 / (1 + 0.3275911f * a);
                const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
                const float erf_abs = 1 - poly * e[i];
                cdf[s + i] = 0.5f * (1 + (xs[i] < 0 ? -erf_abs : erf_abs));
            }
        } else {
            for (std::int64_t i = 0; i < m; ++i) cdf[s + i] = xs[i] * T(std::numbers::sqrt2 / 2);
            vmath::erf(cdf + s, cdf + s, m);
            for (std::int64_t i = 0; i < m; ++i) cdf[s + i] = T(0.5) * (1 + cdf[s + i]);
        }
        if (pdf)
            for (std::int64_t i = 0; i < m; ++i) pdf[s + i] = e[i] * T(inv_sqrt_2pi);
    }
}

// x·w, or 0 when the weight w is 0: a saturated factor is not multiplied into an infinite x (GELU at
// -∞ is 0, and its derivative at ±∞ is 1 or 0, never ∞ · 0 = NaN). A NaN x or w still gives NaN.
template <class T>
T times_weight(T x, T w) {
    return w == T(0) ? T(0) : x * w;
}

// GELU of a block:
//   erf form:  y = ½x(1 + erf(x/√2)) = x·Φ(x)
//   tanh form: y = ½x(1 + t), t = tanh(u), u = √(2/π)(x + 0.044715x³)
template <class T>
NYX_VECTORIZED void gelu_block(const T* in, T* out, std::int64_t n, bool tanh_form) {
    if (!tanh_form) {
        normal_cdf_pdf(in, out, static_cast<T*>(nullptr), n);
        for (std::int64_t i = 0; i < n; ++i) out[i] = times_weight(in[i], out[i]);
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) out[i] = T(sqrt_2_over_pi) * (in[i] + T(tanh_cubic) * in[i] * in[i] * in[i]);
    vmath::tanh(out, out, n);
    for (std::int64_t i = 0; i < n; ++i) out[i] = times_weight(T(0.5) * in[i], 1 + out[i]);
}

// GELU's backward for a block:
//   erf form:  dx = dy · (Φ(x) + x·φ(x))
//   tanh form: dx = dy · (½(1 + t) + ½x(1 - t²) · √(2/π)(1 + 3·0.044715x²))
template <class T>
NYX_VECTORIZED void gelu_backward_block(const T* dy, const T* x, T* dx, std::int64_t n, bool tanh_form) {
    T t[gelu_chunk], e[gelu_chunk];
    for (std::int64_t s = 0; s < n; s += gelu_chunk) {
        const std::int64_t m = std::min(gelu_chunk, n - s);
        const T* xs = x + s;
        if (tanh_form) {
            for (std::int64_t i = 0; i < m; ++i) t[i] = T(sqrt_2_over_pi) * (xs[i] + T(tanh_cubic) * xs[i] * xs[i] * xs[i]);
            vmath::tanh(t, t, m);
            for (std::int64_t i = 0; i < m; ++i)
                dx[s + i] = dy[s + i] * (T(0.5) * (1 + t[i]) + times_weight(T(0.5) * xs[i] * T(sqrt_2_over_pi) *
                                                                                (1 + T(3 * tanh_cubic) * xs[i] * xs[i]),
                                                                            1 - t[i] * t[i]));
        } else {
            normal_cdf_pdf(xs, t, e, m);
            for (std::int64_t i = 0; i < m; ++i) dx[s + i] = dy[s + i] * (t[i] + times_weight(xs[i], e[i]));
        }
    }
}

// y = GELU(x), fused: one pass forward, one pass backward (the composite form is in ops/reference.cpp)
// dx = dy · (Φ(x) + x·φ(x)); the tanh form's derivative is above gelu_backward_block
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
    const bool tanh_form = approximation == GeluApproximation::tanh;
    Tensor y = unary_blocks(x, "gelu", [tanh_form](auto in, auto out, std::int64_t n) { gelu_block(in, out, n, tanh_form); });
    record("gelu", {x}, {y}, [x = saved(x), approximation, tanh_form](const Gradients& g) {
        if (recording_backward())
            return reference::backward_of([approximation](const Gradients& in) { return reference::gelu(in[0], approximation); }, {x}, g[0]);
        return Gradients{binary_blocks(g[0], x, "gelu backward", [tanh_form](auto dy, auto v, auto dx, std::int64_t n) {
            gelu_backward_block(dy, v, dx, n, tanh_form);
        })};
    });
    return y;
}

// y = min(max(x, low), high)
Tensor clamp(const Tensor& x, double low, double high) {
    NYX_CHECK(!(low > high), "clamp: low ", low, " is above high ", high);
    Tensor y = dispatch(x.dtype(), [&]<class T>() {
        // The bounds in T: for i64, rounded inwards and saturated (no trip through double).
        auto bound = [](double b, bool upper) {
            if constexpr (std::is_integral_v<T>) {
                const double r = upper ? std::floor(b) : std::ceil(b);
                if (r >= 0x1p63) return std::numeric_limits<T>::max();
                if (r < -0x1p63) return std::numeric_limits<T>::min();
                return static_cast<T>(r);
            } else {
                return static_cast<T>(b);
            }
        };
        const T lo = bound(low, false), hi = bound(high, true);
        return loops::map<T, T>(x, [lo, hi](T v) { return v != v ? v : v < lo ? lo : v > hi ? hi : v; });
    });
    // dx = dy where low <= x <= high, else 0
    record("clamp", {x}, {y}, [x = saved(x), low, high](const Gradients& g) {
        if (recording_backward()) {
            const Tensor v = x;
            const Tensor inside = mul(ge(v, scalar(low, v.dtype())), le(v, scalar(high, v.dtype())));
            return Gradients{where(inside, g[0], scalar(0, v.dtype()))};
        }
        return Gradients{binary(g[0], x, "clamp backward", true, [low, high](auto dy, auto v) {
            return (v >= low && v <= high) ? dy : decltype(dy){0};
        })};
    });
    return y;
}

// --- comparisons and selection -------------------------------------------------------------------

namespace {
template <class Compare>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, Compare c) {
    return binary(a, b, op, false, [c](auto x, auto z) -> decltype(x) { return c(x, z) ? 1 : 0; });
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", std::equal_to<>()); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", std::not_equal_to<>()); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", std::less<>()); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", std::less_equal<>()); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", std::greater<>()); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", std::greater_equal<>()); }

// y = a where mask ≠ 0, else b
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
    NYX_CHECK(a.dtype() == b.dtype(), "where: the two choices have different dtypes (", a.dtype(), " and ", b.dtype(), ")");
    const Shape shape = broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
    Tensor y = empty(shape, a.dtype());
    const Shape sm = broadcast_strides(mask.shape(), mask.strides(), shape);
    const Shape sa = broadcast_strides(a.shape(), a.strides(), shape);
    const Shape sb = broadcast_strides(b.shape(), b.strides(), shape);
    dispatch(mask.dtype(), [&]<class M>() {
        dispatch(a.dtype(), [&]<class T>() {
            const M* pm = mask.data<M>();
            const T *pa = a.data<T>(), *pb = b.data<T>();
            T* out = y.data<T>();
            loops::for_each_row<4>(shape, {&sm, &sa, &sb, &y.strides()}, {0, 0, 0, 0},
                                   [&](const auto& at, std::int64_t n, const auto& step) {
                                       for (std::int64_t i = 0; i < n; ++i)
                                           out[at[3] + i] = pm[at[0] + i * step[0]] != M{0} ? pa[at[1] + i * step[1]]
                                                                                            : pb[at[2] + i * step[2]];
                                   });
        });
    });
    // da = dy where mask ≠ 0, db = dy elsewhere; the mask gets none
    record("where", {mask, a, b}, {y}, [mask = saved(mask)](const Gradients& g) {
        const Tensor zero = scalar(0, g[0].dtype());
        return Gradients{Tensor(), where(mask, g[0], zero), where(mask, zero, g[0])};
    });
    return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    NYX_CHECK(broadcasts_to(mask.shape(), x.shape()), "masked_fill: a mask of shape ", to_string(mask.shape()),
              " does not broadcast to the tensor's shape ", to_string(x.shape()));
    return where(mask, scalar(value, x.dtype()), x);
}

}  // namespace nyx::ops

namespace nyx {

Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor operator-(const Tensor& x) { return ops::neg(x); }
namespace {
// A number as a rank-0 tensor of t's dtype; for an i64 tensor the number must be a whole one
// (nyx does not promote: 0.5 * an i64 tensor would silently become 0).
Tensor number_like(double value, const Tensor& t, const char* op) {
    NYX_CHECK(t.dtype() != i64 || value == std::trunc(value), op, ": the number ", value, " is not whole, and the tensor "
              "is i64 (shape ", to_string(t.shape()), "); convert the tensor with .to(nyx::f32) first");
    return scalar(value, t.dtype());
}
}  // namespace

Tensor operator+(const Tensor& a, double b) { return ops::add(a, number_like(b, a, "add")); }
Tensor operator-(const Tensor& a, double b) { return ops::sub(a, number_like(b, a, "sub")); }
Tensor operator*(const Tensor& a, double b) { return ops::mul(a, number_like(b, a, "mul")); }
Tensor operator/(const Tensor& a, double b) { return ops::div(a, number_like(b, a, "div")); }
Tensor operator+(double a, const Tensor& b) { return ops::add(number_like(a, b, "add"), b); }
Tensor operator-(double a, const Tensor& b) { return ops::sub(number_like(a, b, "sub"), b); }
Tensor operator*(double a, const Tensor& b) { return ops::mul(number_like(a, b, "mul"), b); }
Tensor operator/(double a, const Tensor& b) { return ops::div(number_like(a, b, "div"), b); }

// Each comparison in three forms: two tensors, a tensor and a number, a number and a tensor.
#define NYX_COMPARISON(symbol, op)                                                                              \
    Tensor operator symbol(const Tensor& a, const Tensor& b) { return ops::op(a, b); }                          \
    Tensor operator symbol(const Tensor& a, double b) { return ops::op(a, number_like(b, a, #op)); }            \
    Tensor operator symbol(double a, const Tensor& b) { return ops::op(number_like(a, b, #op), b); }
NYX_COMPARISON(==, eq)
NYX_COMPARISON(!=, ne)
NYX_COMPARISON(<, lt)
NYX_COMPARISON(<=, le)
NYX_COMPARISON(>, gt)
NYX_COMPARISON(>=, ge)
#undef NYX_COMPARISON

}  // namespace nyx
