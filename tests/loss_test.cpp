// The losses of ops/loss.cpp: values against their definitions written out element by element,
// the edges (infinite and huge logits, probabilities 0 and 1, ignored rows), and bad input.
// Their gradients are checked by the op table's gradcheck walk.
#include <cmath>
#include <limits>

#include <nyx/nyx.hpp>

#include "test_util.hpp"

using namespace nyx;
using namespace nyx::ops;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// The element losses of f(input_i, target_i), reduced as `reduction` says.
template <class F>
std::vector<double> by_hand(const Tensor& input, const Tensor& target, Reduction reduction, F f) {
    const std::vector<double> x = values(input), y = values(target);
    std::vector<double> out;
    double total = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        out.push_back(f(x[i], y[i]));
        total += out.back();
    }
    if (reduction == Reduction::none) return out;
    return {reduction == Reduction::sum ? total : total / static_cast<double>(x.size())};
}

void check_close(const std::vector<double>& actual, const std::vector<double>& expected) {
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}

}  // namespace

TEST_SUITE("ops") {

TEST_CASE("regression losses match their definitions for every reduction") {
    Generator g(2);
    const Tensor x = randn({4, 3}, f64, g) * 2.0, y = randn({4, 3}, f64, g);
    for (const Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        check_close(values(mse_loss(x, y, r)), by_hand(x, y, r, [](double a, double b) { return (a - b) * (a - b); }));
        check_close(values(l1_loss(x, y, r)), by_hand(x, y, r, [](double a, double b) { return std::abs(a - b); }));
        for (const double beta : {0.5, 1.0, 2.5}) {
            check_close(values(smooth_l1_loss(x, y, r, beta)), by_hand(x, y, r, [beta](double a, double b) {
                            const double d = std::abs(a - b);
                            return d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
                        }));
            check_close(values(huber_loss(x, y, r, beta)), by_hand(x, y, r, [beta](double a, double b) {
                            const double d = std::abs(a - b);
                            return d < beta ? 0.5 * d * d : beta * (d - 0.5 * beta);
                        }));
        }
    }
    CHECK(mse_loss(x, y, Reduction::none).shape() == Shape{4, 3});
    check_close(values(smooth_l1_loss(x, y, Reduction::sum, 0)), values(l1_loss(x, y, Reduction::sum)));
}

TEST_CASE("smooth L1 and Huber have finite gradients for infinite residuals") {
    const Tensor x = tensor({inf, -inf, 0.5, 3}, f64).requires_grad_(), y = zeros({4}, f64);
    smooth_l1_loss(x, y, Reduction::sum, 2).backward();
    CHECK(values(x.grad()) == std::vector<double>{1, -1, 0.25, 1});
    x.set_grad({});
    huber_loss(x, y, Reduction::sum, 2).backward();
    CHECK(values(x.grad()) == std::vector<double>{2, -2, 0.5, 2});
    CHECK(values(huber_loss(x, y, Reduction::none, 2)) == std::vector<double>{inf, inf, 0.125, 4});
}

TEST_CASE("binary cross-entropy on probabilities clamps its logs at -100, as PyTorch") {
    const Tensor p = tensor({0.2, 0.9, 0, 0, 1, 1}, f64), y = tensor({1, 0.25, 0, 1, 1, 0}, f64);
    const std::vector<double> losses = values(binary_cross_entropy(p, y, {}, Reduction::none));
    check_close({losses[0], losses[1]}, {-std::log(0.2), -(0.25 * std::log(0.9) + 0.75 * std::log(0.1))});
    CHECK(losses[2] == 0);
    CHECK(losses[3] == 100);
    CHECK(losses[4] == 0);
    CHECK(losses[5] == 100);
    // The gradient stays finite at p = 0 and 1: (p - y) / max(p (1 - p), 1e-12).
    const Tensor q = p.detach().requires_grad_();
    binary_cross_entropy(q, y, {}, Reduction::sum).backward();
    const std::vector<double> dq = values(q.grad());
    CHECK(dq[0] == doctest::Approx((0.2 - 1) / (0.2 * 0.8)));
    CHECK(dq[2] == 0);
    CHECK(dq[3] == -1e12);
    for (double d : dq) CHECK(std::isfinite(d));
    // A weight scales each element's loss.
    const Tensor w = tensor({2, 0, 1, 1, 1, 1}, f64);
    CHECK(binary_cross_entropy(p, y, w, Reduction::sum).item<double>() == doctest::Approx(2 * losses[0] + 200));
}

TEST_CASE("binary cross-entropy on logits is stable for huge and infinite logits") {
    const Tensor x = tensor({0.3, -2, 1000, -1000, 1000, -1000, inf, -inf, inf, -inf}, f64);
    const Tensor y = tensor({1, 0.4, 1, 0, 0, 1, 1, 0, 0, 1}, f64);
    const std::vector<double> losses = values(binary_cross_entropy_with_logits(x, y, {}, Reduction::none));
    auto direct = [](double v, double t) {  // fine for moderate logits
        const double s = 1 / (1 + std::exp(-v));
        return -(t * std::log(s) + (1 - t) * std::log(1 - s));
    };
    check_close({losses[0], losses[1]}, {direct(0.3, 1), direct(-2, 0.4)});
    CHECK(losses[2] == 0);
    CHECK(losses[3] == 0);
    CHECK(losses[4] == 1000);
    CHECK(losses[5] == 1000);
    CHECK(losses[6] == 0);  // limits, not 0 · ∞
    CHECK(losses[7] == 0);
    CHECK(losses[8] == inf);
    CHECK(losses[9] == inf);
    // dx = σ(x) - y: 0 where the prediction is right and saturated, ±1 where it is wrong.
    const Tensor logits = x.detach().requires_grad_();
    binary_cross_entropy_with_logits(logits, y, {}, Reduction::sum).backward();
    const std::vector<double> dx = values(logits.grad());
    CHECK(dx[0] == doctest::Approx(1 / (1 + std::exp(-0.3)) - 1));
    CHECK(dx[2] == 0);
    CHECK(dx[4] == 1);
    CHECK(dx[6] == 0);
    CHECK(dx[9] == -1);
    // The target's gradient, -w+ · x + (w+ - 1) · log(1 + e^x) for x < 0, takes its limit at x = -∞
    // (∞ - ∞ computed naively), also with pos_weight below 1 and at 0.
    const Tensor t = tensor({0.5, 0.5, 0.5}, f64).requires_grad_();
    binary_cross_entropy_with_logits(tensor({-inf, -inf, -inf}, f64), t, {}, Reduction::sum, tensor({0.5, 0, 1}, f64)).backward();
    CHECK(values(t.grad()) == std::vector<double>{inf, 0, inf});
    // NaN stays NaN.
    CHECK(std::isnan(binary_cross_entropy_with_logits(tensor({std::nan("")}, f64), tensor({1}, f64)).item<double>()));
}

TEST_CASE("pos_weight weighs the positive term, and equals repeating positive examples") {
    Generator g(4);
    const Tensor x = randn({5, 3}, f64, g), y = (randn({5, 3}, f64, g) > 0.0);
    const Tensor pos_weight = tensor({3, 1, 0.5}, f64);
    const std::vector<double> weighted = values(binary_cross_entropy_with_logits(x, y, {}, Reduction::none, pos_weight));
    const std::vector<double> xs = values(x), ys = values(y);
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const double w = values(pos_weight)[i % 3], s = 1 / (1 + std::exp(-xs[i]));
        CHECK(weighted[i] == doctest::Approx(-(w * ys[i] * std::log(s) + (1 - ys[i]) * std::log(1 - s))).epsilon(1e-12));
    }
    // Without pos_weight, with logits it is binary_cross_entropy of the sigmoid.
    CHECK(binary_cross_entropy_with_logits(x, y).item<double>() ==
          doctest::Approx(binary_cross_entropy(x.sigmoid(), y).item<double>()).epsilon(1e-12));
}

TEST_CASE("nll_loss of log_softmax is cross_entropy, ignored rows included") {
    Generator g(6);
    const Tensor logits = randn({5, 4}, f64, g);
    const Tensor targets = tensor({3, 0, -100, 1, 3}, i64);
    for (const Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
        check_close(values(nll_loss(logits.log_softmax(1), targets, {.reduction = r})),
                    values(cross_entropy(logits, targets, {.reduction = r})));
    // An ignored row's -∞ does not turn into NaN; every row ignored gives NaN for mean, as PyTorch.
    const Tensor log_probs = tensor({-inf, 0, 0, -inf}, {2, 2}, f64).requires_grad_();
    // Row 0 is ignored (target 0) and would pick its -∞; row 1 picks 0.
    const Tensor kept = nll_loss(log_probs, tensor({0, 0}, i64), {.reduction = Reduction::sum, .ignore_index = 1});
    CHECK(kept.item<double>() == inf);
    const Tensor ignored = nll_loss(log_probs, tensor({0, 0}, i64), {.ignore_index = 0});
    CHECK(std::isnan(ignored.item<double>()));  // every row ignored: 0 / 0, as PyTorch
    const Tensor mixed = nll_loss(log_probs, tensor({0, 0}, i64), {.reduction = Reduction::sum, .ignore_index = 0});
    CHECK(mixed.item<double>() == 0);  // not 0 · ∞
    const Tensor one_ignored = nll_loss(log_probs, tensor({0, 1}, i64), {.ignore_index = 0});
    CHECK(one_ignored.item<double>() == inf);  // row 1 picks -∞, row 0 (its -∞ included) adds nothing
    nll_loss(log_probs, tensor({0, 1}, i64), {.reduction = Reduction::sum, .ignore_index = 1}).backward();
    CHECK(values(log_probs.grad()) == std::vector<double>{-1, 0, 0, 0});  // nothing reaches the ignored row
    CHECK(nll_loss(log_probs, tensor({1, 0}, i64), {.ignore_index = 0}).item<double>() == 0);
}

TEST_CASE("losses name what to fix in bad input") {
    const Tensor x = zeros({4, 1}), y = zeros({4});
    CHECK_ERROR_CONTAINS(mse_loss(x, y), "mse_loss", "[4, 1]", "[4]", "reshape one");
    CHECK_ERROR_CONTAINS(l1_loss(zeros({2}), zeros({2}, f64)), "one floating dtype");
    CHECK_ERROR_CONTAINS(mse_loss(zeros({2}, i64), zeros({2}, i64)), "floating");
    CHECK_ERROR_CONTAINS(smooth_l1_loss(y, y, Reduction::mean, -1), "beta must be finite and >= 0");
    CHECK_ERROR_CONTAINS(huber_loss(y, y, Reduction::mean, 0), "delta must be finite and > 0");
    CHECK_ERROR_CONTAINS(binary_cross_entropy(tensor({0.5, 1.5}), tensor({1, 0})), "probabilities in [0, 1]", "1.5", "with_logits");
    CHECK_ERROR_CONTAINS(binary_cross_entropy(tensor({std::nan("")}), tensor({1})), "probabilities in [0, 1]");
    CHECK_ERROR_CONTAINS(binary_cross_entropy_with_logits(zeros({2, 3}), zeros({2, 3}), {}, Reduction::mean, ones({2})),
                         "pos_weight of shape [2] does not broadcast");
    CHECK_ERROR_CONTAINS(binary_cross_entropy(tensor({0.5}), tensor({1}), ones({1}).requires_grad_()), "weight requires grad");
    CHECK_ERROR_CONTAINS(nll_loss(zeros({2, 3}), tensor({0, 3}, i64)), "target 3 at position 1 is out of range for 3 classes");
    CHECK_ERROR_CONTAINS(nll_loss(zeros({2, 3}), tensor({0, 1})), "i64");
    CHECK_ERROR_CONTAINS(nll_loss(zeros({2, 3}), tensor({0}, i64)), "[N, C] with targets [N]");
}

}  // TEST_SUITE
