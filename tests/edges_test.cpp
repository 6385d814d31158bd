// ops (continued): numerics at the edges. Each op, fused kernel and composite reference at ±inf,
// ±1e30, ±1e-30, NaN and large offsets (1e4 and 1e8), in f32 and f64, against the value and the
// derivative that hold in the limit (DESIGN.md, "Numerics and determinism").
#include <cfloat>
#include <cmath>
#include <functional>
#include <numbers>
#include <optional>

#include "test_util.hpp"

#include "../ops/reference.hpp"

using namespace nyx;

namespace {

constexpr double inf = INFINITY, nan_value = NAN;
constexpr std::nullopt_t skip = std::nullopt;  // a value not checked (outside the op's domain)
using Expected = std::vector<std::optional<double>>;

// `want` as the nearest value of dtype: in f32, 1e60 is +inf and 1e-60 is 0.
double in_dtype(double want, DType dtype) {
    if (dtype == f64 || !std::isfinite(want)) return want;
    if (std::abs(want) >= 0x1.ffffffp127) return std::copysign(inf, want);  // past f32's largest, rounded
    return static_cast<double>(static_cast<float>(want));
}

double tolerance(DType dtype) { return dtype == f32 ? 1e-5 : 1e-12; }

// Whether `got` is `want` in `dtype`: both NaN, the same infinity, or within a relative 1e-5 (f32) or
// 1e-12 (f64) of it, and `slack` (at least the dtype's smallest normal number) near zero.
bool same(double got, double want, DType dtype, double slack = 0) {
    want = in_dtype(want, dtype);
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want)) return got == want;
    return std::abs(got - want) <= tolerance(dtype) * std::abs(want) + std::max(slack, dtype == f32 ? FLT_MIN : DBL_MIN);
}

void check_values(const std::string& what, const Tensor& got, const Expected& want, double slack = 0) {
    const std::vector<double> v = values(got);
    REQUIRE(v.size() == want.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        if (want[i]) CHECK_MESSAGE(same(v[i], *want[i], got.dtype(), slack), what, " [", i, "]: got ", v[i], ", want ", *want[i]);
}

// A row's values, to the tolerance relative to the row's largest (the last bits of a log-probability
// near 0, such as log(1 + 1e-14), are rounding, not error).
void check_row(const std::string& what, const Tensor& got, const std::vector<double>& want) {
    double largest = 0;
    for (double w : want) largest = std::max(largest, std::abs(w));
    check_values(what, got, Expected(want.begin(), want.end()), tolerance(got.dtype()) * largest);
}

// y = f(x) and dx of sum(y), checked against the expected values.
void check_unary(const std::string& name, const std::function<Tensor(const Tensor&)>& f, const std::vector<double>& x,
                 const Expected& y, const Expected& dx) {
    for (const DType dtype : {f32, f64}) {
        const std::string what = name + " in " + std::string(dtype == f32 ? "f32" : "f64");
        Tensor input = tensor(x, dtype).requires_grad_();
        const Tensor out = f(input);
        check_values(what, out, y);
        out.sum().backward();
        check_values(what + ", derivative", input.grad(), dx);
    }
}

// Row references in long double: log Σ e^(v - max) + max, and layer norm without weights.
long double log_sum_exp(const std::vector<double>& v) {
    long double m = -INFINITY, s = 0;
    for (double x : v) m = std::max<long double>(m, x);
    for (double x : v) s += std::exp(static_cast<long double>(x) - m);
    return m + std::log(s);
}

}  // namespace

TEST_SUITE("ops") {

const std::vector<double> edges = {inf, -inf, 1e30, -1e30, 1e-30, -1e-30, nan_value};

TEST_CASE("elementwise ops and their derivatives at ±inf, ±1e30, ±1e-30 and NaN") {
    const double ln_1e30 = 30 * std::numbers::ln10, two_over_root_pi = 2 / std::sqrt(std::numbers::pi);
    check_unary("neg", [](const Tensor& x) { return ops::neg(x); }, edges, {-inf, inf, -1e30, 1e30, -1e-30, 1e-30, nan_value},
                {-1, -1, -1, -1, -1, -1, -1});
    check_unary("abs", [](const Tensor& x) { return ops::abs(x); }, edges, {inf, inf, 1e30, 1e30, 1e-30, 1e-30, nan_value},
                {1, -1, 1, -1, 1, -1, skip});
    check_unary("exp", [](const Tensor& x) { return ops::exp(x); }, edges, {inf, 0, inf, 0, 1, 1, nan_value}, {inf, 0, inf, 0, 1, 1, nan_value});
    check_unary("log", [](const Tensor& x) { return ops::log(x); }, edges, {inf, nan_value, ln_1e30, nan_value, -ln_1e30, nan_value, nan_value},
                {0, skip, 1e-30, skip, 1e30, skip, nan_value});
    check_unary("sqrt", [](const Tensor& x) { return ops::sqrt(x); }, edges, {inf, nan_value, 1e15, nan_value, 1e-15, nan_value, nan_value},
                {0, skip, 5e-16, skip, 5e14, skip, nan_value});
    check_unary("rsqrt", [](const Tensor& x) { return ops::rsqrt(x); }, edges, {0, nan_value, 1e-15, nan_value, 1e15, nan_value, nan_value},
                {0, skip, -5e-46, skip, -5e44, skip, nan_value});
    check_unary("pow 2", [](const Tensor& x) { return ops::pow(x, 2); }, edges, {inf, inf, 1e60, 1e60, 1e-60, 1e-60, nan_value},
                {inf, -inf, 2e30, -2e30, 2e-30, -2e-30, nan_value});
    check_unary("erf", [](const Tensor& x) { return ops::erf(x); }, edges,
                {1, -1, 1, -1, two_over_root_pi * 1e-30, -two_over_root_pi * 1e-30, nan_value}, {0, 0, 0, 0, two_over_root_pi, two_over_root_pi, nan_value});
    check_unary("sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, edges, {1, 0, 1, 0, 0.5, 0.5, nan_value},
                {0, 0, 0, 0, 0.25, 0.25, nan_value});
    check_unary("tanh", [](const Tensor& x) { return ops::tanh(x); }, edges, {1, -1, 1, -1, 1e-30, -1e-30, nan_value}, {0, 0, 0, 0, 1, 1, nan_value});
    check_unary("relu", [](const Tensor& x) { return ops::relu(x); }, edges, {inf, 0, 1e30, 0, 1e-30, 0, nan_value}, {1, 0, 1, 0, 1, 0, skip});
    check_unary("clamp", [](const Tensor& x) { return ops::clamp(x, -1, 1); }, edges, {1, -1, 1, -1, 1e-30, -1e-30, nan_value},
                {0, 0, 0, 0, 1, 1, skip});
    // GELU → x at +∞ and 0 at -∞, its derivative → 1 and 0; x·Φ(x) ≈ x/2 near 0.
    const Expected gelu_values = {inf, 0, 1e30, 0, 5e-31, -5e-31, nan_value}, gelu_derivatives = {1, 0, 1, 0, 0.5, 0.5, nan_value};
    for (const auto form : {ops::GeluApproximation::none, ops::GeluApproximation::tanh}) {
        const std::string name = form == ops::GeluApproximation::none ? "gelu" : "gelu (tanh)";
        check_unary(name, [form](const Tensor& x) { return ops::gelu(x, form); }, edges, gelu_values, gelu_derivatives);
        check_unary(name + " reference", [form](const Tensor& x) { return ops::reference::gelu(x, form); }, edges, gelu_values,
                    gelu_derivatives);
    }
}

TEST_CASE("cross_entropy holds at large and infinite logits, fused and composite") {
    for (const DType dtype : {f32, f64})
        for (const bool fused : {true, false}) {
            const std::string what = std::string(fused ? "fused" : "reference") + " in " + (dtype == f32 ? "f32" : "f64");
            auto loss_and_gradient = [&](const std::vector<double>& row, std::int64_t label, double smoothing = 0) {
                Tensor logits = tensor(row, {1, 2}, dtype).requires_grad_();
                const Tensor target = tensor({static_cast<double>(label)}, i64);
                const ops::CrossEntropyOptions options{.label_smoothing = smoothing};
                const Tensor loss = fused ? ops::cross_entropy(logits, target, options) : ops::reference::cross_entropy(logits, target, options);
                loss.backward();
                return std::pair{loss, logits.grad()};
            };
            // The loss is ln 2 however far the two equal logits sit from zero, and the gradient ±½.
            for (const double offset : {1e4, 1e8}) {
                INFO(what, " at ", offset);
                const auto [loss, grad] = loss_and_gradient({offset, offset}, 1);
                check_values(what + " loss", loss, {std::numbers::ln2});
                check_values(what + " gradient", grad, {0.5, -0.5});
                check_values(what + " smoothed loss", loss_and_gradient({offset, offset}, 1, 0.1).first, {std::numbers::ln2});
            }
            // A class of logit -∞ has probability 0: as the label's rival it adds nothing, as the label ∞.
            const auto [zero, grad] = loss_and_gradient({-inf, 0}, 1);
            check_values(what + " loss at -inf", zero, {0});
            check_values(what + " gradient at -inf", grad, {0, 0});
            check_values(what + " loss of a -inf label", loss_and_gradient({-inf, 0}, 0).first, {inf});
            check_values(what + " smoothed loss at -inf", loss_and_gradient({-inf, 0}, 1, 0.1).first, {inf});
            check_values(what + " fully smoothed loss of a -inf label", loss_and_gradient({-inf, 0}, 0, 1).first, {inf});
            check_values(what + " fully smoothed loss", loss_and_gradient({0, 0}, 0, 1).first, {std::numbers::ln2});
            check_values(what + " loss with a NaN", loss_and_gradient({nan_value, 0}, 1).first, {nan_value});
        }
}

TEST_CASE("row ops hold at large offsets and magnitudes: softmax, log_softmax, logsumexp, layer_norm, var, cross_entropy") {
    // Rows exactly representable in f32 at each offset (its spacing at 1e8 is 8), whose mean 18 is not.
    const std::vector<double> base = {0, 8, 16, 48};
    for (const DType dtype : {f32, f64})
        for (const double offset : {0.0, 1e4, 1e8}) {
            INFO((dtype == f32 ? "f32" : "f64"), " at offset ", offset);
            std::vector<double> row = base;
            for (double& v : row) v += offset;
            const Tensor x = tensor(row, {1, 4}, dtype);
            const long double lse = log_sum_exp(base);
            std::vector<double> log_p, p;
            for (double v : base) log_p.push_back(static_cast<double>(v - lse)), p.push_back(std::exp(log_p.back()));
            check_row("softmax", ops::softmax(x, 1), p);
            check_row("softmax reference", ops::reference::softmax(x, 1), p);
            check_row("log_softmax", ops::log_softmax(x, 1), log_p);
            check_row("log_softmax reference", ops::reference::log_softmax(x, 1), log_p);
            check_values("logsumexp", ops::logsumexp(x, {1}), {static_cast<double>(offset + lse)});
            check_values("cross_entropy", ops::cross_entropy(x, tensor({2}, i64)), {-log_p[2]});
            check_values("cross_entropy reference", ops::reference::cross_entropy(x, tensor({2}, i64)), {-log_p[2]});
            // Mean 18; deviations -18, -10, -2, 30; variance 332 (biased) and 442.67 (unbiased).
            check_values("var", ops::var(x, {1}), {1328.0 / 3});
            std::vector<double> normalised;
            for (double v : base) normalised.push_back((v - 18) / std::sqrt(332 + 1e-5));
            check_row("layer_norm", ops::layer_norm(x, {4}), normalised);
            check_row("layer_norm reference", ops::reference::layer_norm(x, {4}, {}, {}, 1e-5), normalised);
        }
}

TEST_CASE("row ops take their limits at infinite entries") {
    for (const DType dtype : {f32, f64}) {
        INFO((dtype == f32 ? "f32" : "f64"));
        // An entry of -inf has probability 0 and log-probability -inf; the gradient stays finite.
        Tensor x = tensor({-inf, 0, 0}, {1, 3}, dtype).requires_grad_();
        check_values("softmax", ops::softmax(x, 1), {0, 0.5, 0.5});
        check_values("log_softmax", ops::log_softmax(x, 1), {-inf, -std::numbers::ln2, -std::numbers::ln2});
        check_values("log_softmax reference", ops::reference::log_softmax(x, 1), {-inf, -std::numbers::ln2, -std::numbers::ln2});
        (ops::log_softmax(x, 1) * tensor({0, 1, 0}, {1, 3}, dtype)).sum().backward();
        check_values("log_softmax gradient", x.grad(), {0, 0.5, -0.5});
        // logsumexp of rows all -inf is -inf (log 0), and of a row holding +inf is +inf.
        const Tensor rows = tensor({-inf, -inf, inf, 0, -inf, 0}, {3, 2}, dtype);
        check_values("logsumexp", ops::logsumexp(rows, {1}), {-inf, inf, 0});
    }
}

TEST_CASE("layer_norm, mean and segment_mean of f32 values near 1e30 and 3e38 do not overflow on the way") {
    for (const DType dtype : {f32, f64}) {
        INFO((dtype == f32 ? "f32" : "f64"));
        // Layer norm is scale-invariant: 1e30·v and v normalise alike (eps is negligible against 1e60).
        Tensor big = tensor({1e30, 2e30, 3e30, 4e30}, {1, 4}, dtype).requires_grad_();
        const double root = std::sqrt(1.25);
        check_values("layer_norm at 1e30", ops::layer_norm(big, {4}), {-1.5 / root, -0.5 / root, 0.5 / root, 1.5 / root});
        // d y₀ / d x_j = (δ₀ⱼ - 1/4 - x̂₀ x̂ⱼ / 4) / σ, with x̂ = (-1.5, -0.5, 0.5, 1.5) / √1.25 and σ = 1e30 √1.25.
        (ops::layer_norm(big, {4}) * tensor({1, 0, 0, 0}, dtype)).sum().backward();
        const double sigma = 1e30 * root;
        check_values("layer_norm's gradient at 1e30", big.grad(), {0.3 / sigma, -0.4 / sigma, -0.1 / sigma, 0.2 / sigma});
        // At 1e-30 eps dominates the variance: y = (x - mean) / √(var + eps).
        const Tensor tiny = tensor({1e-30, 2e-30, 3e-30, 4e-30}, {1, 4}, dtype);
        const double rstd = 1 / std::sqrt(1.25e-60 + 1e-5);
        check_values("layer_norm at 1e-30", ops::layer_norm(tiny, {4}), {-1.5e-30 * rstd, -0.5e-30 * rstd, 0.5e-30 * rstd, 1.5e-30 * rstd});
        // The mean of two values near f32's largest is itself representable.
        const Tensor huge = tensor({3e38, 3e38, 1e38, 1e38}, {1, 4}, dtype);
        check_values("mean", ops::mean(huge, {1}), {2e38});
        check_values("segment_mean", ops::segment_mean(huge, 1, 2), {3e38, 1e38});
        check_values("sum", ops::sum(huge), {8e38});  // beyond f32's largest: +inf there, as it must be
    }
}

TEST_CASE("a NaN anywhere in a row reaches that row's result") {
    for (const DType dtype : {f32, f64}) {
        INFO((dtype == f32 ? "f32" : "f64"));
        const Tensor x = tensor({1, nan_value, 2, 3, 4, 5}, {2, 3}, dtype);
        const Expected row_nan = {nan_value, nan_value, nan_value, skip, skip, skip};
        check_values("softmax", ops::softmax(x, 1), row_nan);
        check_values("log_softmax", ops::log_softmax(x, 1), row_nan);
        check_values("layer_norm", ops::layer_norm(x, {3}), row_nan);
        check_values("logsumexp", ops::logsumexp(x, {1}), Expected{nan_value, skip});
        check_values("amax", ops::amax(x, {1}), Expected{nan_value, 5});
        check_values("sum", ops::sum(x, {1}), Expected{nan_value, 12});
        check_values("mean", ops::mean(x, {1}), Expected{nan_value, 4});
        check_values("var", ops::var(x, {1}), Expected{nan_value, 1});
        check_values("cross_entropy", ops::cross_entropy(x, tensor({0, 1}, i64), {.reduction = ops::Reduction::none}),
                     Expected{nan_value, skip});
        check_values("segment_mean", ops::segment_mean(x, 1, 1), Expected{nan_value, 4});
    }
}

}  // TEST_SUITE
