// Elementwise ops. Each forward is followed by its backward; gradients are returned in the shape of
// the broadcast result and the engine sums them back to each input's shape.
#include <cmath>

#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::record;
using autograd::saved;

// y[i] = f(x[i]) for floating x.
template <class F>
Tensor unary(const Tensor& x, const char* op, F f) {
    return dispatch_floating(x.dtype(), op, [&]<class T>() { return loops::map<T, T>(x, [&](T v) -> T { return f(v); }); });
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
    Tensor y = unary(x, "exp", [](auto v) { return std::exp(v); });
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
    Tensor y = dispatch(x.dtype(), [&]<class T>() { return loops::map<T, T>(x, [](T v) { return v > T{0} ? v : T{0}; }); });
    // dx = dy where x > 0, else 0 (the kink at 0 takes gradient 0, as PyTorch does)
    record("relu", {x}, {y}, [x = saved(x)](const Gradients& g) {
        return Gradients{binary(g[0], x, "relu backward", true, [](auto dy, auto v) { return v > 0 ? dy : decltype(dy){0}; })};
    });
    return y;
}

// y = tanh x
Tensor tanh(const Tensor& x) {
    Tensor y = unary(x, "tanh", [](auto v) { return std::tanh(v); });
    // dx = dy * (1 - y²)
    record("tanh", {x}, {y}, [y = saved(y)](const Gradients& g) {
        return Gradients{binary(g[0], y, "tanh backward", true, [](auto dy, auto t) { return dy * (1 - t * t); })};
    });
    return y;
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

}  // namespace nyx
