// ops (continued): the transformer operator set. Fused kernels against their composite forms,
// values against direct computations, determinism, and the errors.
#include <algorithm>
#include <cmath>
#include <numbers>

#include <nyx/ops/reference.hpp>

#include "test_util.hpp"

using namespace nyx;

namespace {

// Largest |a - b| over two tensors' elements.
double max_difference(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    const std::vector<double> x = values(a), y = values(b);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
    return worst;
}

// Checks that fused(x...) and composite(x...) agree to 1e-10 in value and in the gradient of a
// random projection of the output, for every input that requires grad.
void check_against_composite(const TensorFunction& fused, const TensorFunction& composite, std::vector<Tensor> inputs) {
    Generator gen(77);
    const Tensor a = fused(inputs), b = composite(inputs);
    CHECK(max_difference(a, b) < 1e-10);
    const Tensor projection = randn(a.shape(), f64, gen);
    std::vector<Tensor> fused_grads, composite_grads;
    for (const auto& [f, grads] : {std::pair{&fused, &fused_grads}, std::pair{&composite, &composite_grads}}) {
        for (Tensor& x : inputs) x.set_grad(Tensor());
        ops::sum(ops::mul((*f)(inputs), projection)).backward();
        for (Tensor& x : inputs) grads->push_back(x.grad());
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        INFO("input ", i);
        REQUIRE(fused_grads[i].defined() == composite_grads[i].defined());
        if (fused_grads[i].defined()) CHECK(max_difference(fused_grads[i], composite_grads[i]) < 1e-10);
    }
}

}  // namespace

TEST_SUITE("ops") {

TEST_CASE("fused softmax and log_softmax agree with their composite forms") {
    Generator gen(1);
    for (std::int64_t axis : {-1, 0, 1}) {
        INFO("axis ", axis);
        Tensor x = (randn({3, 5, 4}, f64, gen) * 4.0).detach().requires_grad_();
        check_against_composite([axis](const auto& in) { return ops::softmax(in[0], axis); },
                                [axis](const auto& in) { return ops::reference::softmax(in[0], axis); }, {x});
        check_against_composite([axis](const auto& in) { return ops::log_softmax(in[0], axis); },
                                [axis](const auto& in) { return ops::reference::log_softmax(in[0], axis); }, {x});
    }
    // Large logits stay finite: the row maximum is subtracted first.
    const Tensor big = tensor({1000, 1001, 1002}, f64);
    CHECK(max_difference(ops::softmax(big, 0), ops::softmax(big - 1000.0, 0)) < 1e-15);
    CHECK(std::isfinite(values(ops::log_softmax(big * 10.0, 0))[0]));
}

TEST_CASE("fused layer_norm agrees with its composite form") {
    Generator gen(2);
    Tensor x = randn({4, 3, 8}, f64, gen).requires_grad_();
    Tensor w = randn({8}, f64, gen).requires_grad_(), b = randn({8}, f64, gen).requires_grad_();
    check_against_composite([](const auto& in) { return ops::layer_norm(in[0], {8}, in[1], in[2], 1e-5); },
                            [](const auto& in) { return ops::reference::layer_norm(in[0], {8}, in[1], in[2], 1e-5); }, {x, w, b});
    Tensor w2 = randn({3, 8}, f64, gen).requires_grad_();
    check_against_composite([](const auto& in) { return ops::layer_norm(in[0], {3, 8}, in[1], {}, 1e-3); },
                            [](const auto& in) { return ops::reference::layer_norm(in[0], {3, 8}, in[1], {}, 1e-3); }, {x, w2});
    // Many rows: the weight gradient sums over several fixed chunks of rows.
    Tensor tall = randn({300, 8}, f64, gen).requires_grad_();
    check_against_composite([](const auto& in) { return ops::layer_norm(in[0], {8}, in[1], in[2], 1e-5); },
                            [](const auto& in) { return ops::reference::layer_norm(in[0], {8}, in[1], in[2], 1e-5); }, {tall, w, b});
}

TEST_CASE("fused cross_entropy agrees with its composite form for every option") {
    Generator gen(3);
    Tensor logits = (randn({6, 5}, f64, gen) * 3.0).detach().requires_grad_();
    const Tensor targets = tensor({4, 0, 2, 2, 1, 3}, i64);
    for (ops::Reduction reduction : {ops::Reduction::mean, ops::Reduction::sum, ops::Reduction::none})
        for (std::int64_t ignore : {-100, 2})
            for (double smoothing : {0.0, 0.1, 1.0}) {
                const ops::CrossEntropyOptions options{.reduction = reduction, .ignore_index = ignore, .label_smoothing = smoothing};
                INFO("reduction ", static_cast<int>(reduction), ", ignore ", ignore, ", smoothing ", smoothing);
                check_against_composite([&](const auto& in) { return ops::cross_entropy(in[0], targets, options); },
                                        [&](const auto& in) { return ops::reference::cross_entropy(in[0], targets, options); }, {logits});
            }
    Tensor row = randn({5}, f64, gen).requires_grad_();
    check_against_composite([](const auto& in) { return ops::cross_entropy(in[0], scalar(1, i64)); },
                            [](const auto& in) { return ops::reference::cross_entropy(in[0], scalar(1, i64)); }, {row});
    // The value PyTorch gives: -log softmax(x)[t], averaged.
    const Tensor x = tensor({1, 2, 3, 1, 1, 1}, {2, 3}, f64);
    const double expected = (std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3 + std::log(3.0)) / 2;
    CHECK(ops::cross_entropy(x, tensor({2, 0}, i64)).item<double>() == doctest::Approx(expected).epsilon(1e-14));
}

TEST_CASE("fused gelu agrees with its composite forms") {
    Generator gen(4);
    Tensor x = (randn({50}, f64, gen) * 3.0).detach().requires_grad_();
    for (auto form : {ops::GeluApproximation::none, ops::GeluApproximation::tanh})
        check_against_composite([form](const auto& in) { return ops::gelu(in[0], form); },
                                [form](const auto& in) { return ops::reference::gelu(in[0], form); }, {x});
    CHECK(ops::gelu(scalar(1.0, f64)).item<double>() == doctest::Approx(0.8413447460685429).epsilon(1e-15));
    CHECK(ops::gelu(scalar(1.0, f64), ops::GeluApproximation::tanh).item<double>() ==
          doctest::Approx(0.8411919906082768).epsilon(1e-15));
}

TEST_CASE("the vectorised f32 paths stay within a few ulp of the f64 results") {
    // 4001 points across each function's interesting range, including the vector tails.
    const Tensor x64 = arange(-8, 8.004, 0.004, f64), x32 = x64.to(f32);
    auto worst_relative = [](const Tensor& got32, const Tensor& exact64) {
        const std::vector<double> got = values(got32), exact = values(exact64);
        double worst = 0;
        for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - exact[i]) / std::max(std::abs(exact[i]), 1e-30));
        return worst;
    };
    // The f32 inputs are themselves rounded, so compare against f64 of the same f32 values.
    const Tensor same = x32.to(f64);
    CHECK(worst_relative(ops::exp(x32), ops::exp(same)) < 1e-6);
    CHECK(worst_relative(ops::tanh(x32), ops::tanh(same)) < 1e-6);
    CHECK(worst_relative(ops::sigmoid(x32), ops::sigmoid(same)) < 1e-6);
    CHECK(max_difference(ops::erf(x32).to(f64), ops::erf(same)) < 1e-6);
    // GELU's f32 erf is Abramowitz and Stegun 7.1.26 (measured: 4.4e-7 in value, 2.1e-7 in slope, on [-8, 8]).
    CHECK(max_difference(ops::gelu(x32).to(f64), ops::gelu(same)) < 2e-6);
    CHECK(max_difference(ops::gelu(x32, ops::GeluApproximation::tanh).to(f64), ops::gelu(same, ops::GeluApproximation::tanh)) < 2e-6);
    Tensor a = x32.detach().requires_grad_(), b = same.detach().requires_grad_();
    ops::gelu(a).sum().backward();
    ops::gelu(b).sum().backward();
    CHECK(max_difference(a.grad().to(f64), b.grad()) < 1e-6);
    // Softmax rows long enough to use every vector width, with a ragged tail.
    Generator gen(21);
    const Tensor rows = randn({7, 1027}, f64, gen) * 3.0;
    CHECK(max_difference(ops::softmax(rows.to(f32), -1).to(f64), ops::softmax(rows.to(f32).to(f64), -1)) < 1e-7);
}

TEST_CASE("elementwise ops compute their values") {
    const Tensor x = tensor({-2, -0.5, 0.25, 3}, f64);
    const std::vector<double> xs = values(x);
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const double v = xs[i];
        INFO("x = ", v);
        CHECK(values(ops::abs(x))[i] == std::abs(v));
        CHECK(values(ops::erf(x))[i] == std::erf(v));
        CHECK(values(ops::sigmoid(x))[i] == doctest::Approx(1 / (1 + std::exp(-v))).epsilon(1e-15));
        CHECK(values(ops::pow(x, 3))[i] == doctest::Approx(v * v * v).epsilon(1e-15));
        CHECK(values(ops::clamp(x, -1, 1))[i] == std::clamp(v, -1.0, 1.0));
    }
    CHECK(values(ops::sqrt(tensor({4, 9}, f64))) == std::vector<double>{2, 3});
    // i64 clamps in its own type: no rounding through double, no overflow at the limits.
    const Tensor big = from_vector<std::int64_t>({9007199254740993, INT64_MAX, -5}, {3});
    CHECK(ops::clamp(big, 0, 1e18).at<std::int64_t>({0}) == 9007199254740993);
    CHECK(ops::clamp(big, 0, INFINITY).at<std::int64_t>({1}) == INT64_MAX);
    CHECK(ops::clamp(big, -2.5, 1e18).at<std::int64_t>({2}) == -2);
    CHECK(values(ops::rsqrt(tensor({4, 16}, f64))) == std::vector<double>{0.5, 0.25});
    CHECK(values(ops::sigmoid(tensor({-800, 800}, f64))) == std::vector<double>{0, 1});  // no overflow
    const Tensor a = tensor({1, 5, 3}), b = tensor({2, 5, 1});
    CHECK(values(ops::maximum(a, b)) == std::vector<double>{2, 5, 3});
    CHECK(values(ops::minimum(a, b)) == std::vector<double>{1, 5, 1});
    CHECK(std::isnan(values(ops::maximum(tensor({NAN}), tensor({1})))[0]));
    CHECK(values(ops::eq(a, b)) == std::vector<double>{0, 1, 0});
    CHECK(values(ops::ne(a, b)) == std::vector<double>{1, 0, 1});
    CHECK(values(ops::lt(a, b)) == std::vector<double>{1, 0, 0});
    CHECK(values(ops::le(a, b)) == std::vector<double>{1, 1, 0});
    CHECK(values(ops::gt(a, b)) == std::vector<double>{0, 0, 1});
    CHECK(values(ops::ge(a, b)) == std::vector<double>{0, 1, 1});
    CHECK(ops::gt(arange(3, i64), scalar(0, i64)).dtype() == i64);
    CHECK(values(ops::where(tensor({1, 0, 1}), a, b)) == std::vector<double>{1, 5, 3});
    CHECK(values(ops::where(tensor({1, 0}, {2, 1}, i64), scalar(7), tensor({1, 2, 3}))) == std::vector<double>{7, 7, 7, 1, 2, 3});
    CHECK(values(ops::masked_fill(a, tensor({0, 1, 0}), -1e9)) == std::vector<double>{1, -1e9, 3});
    // maximum's tie rule: each side gets half, as in PyTorch.
    Tensor p = tensor({2}, f64).requires_grad_(), q = tensor({2}, f64).requires_grad_();
    ops::maximum(p, q).sum().backward();
    CHECK(values(p.grad()) == std::vector<double>{0.5});
    CHECK(values(q.grad()) == std::vector<double>{0.5});
}

TEST_CASE("max, min and their indices; the gradient goes to the selected element") {
    const Tensor x = tensor({1, 7, 7, 2, -1, 0}, {2, 3}, f64);
    const auto [values_1, indices_1] = ops::max(x, 1);
    CHECK(values(values_1) == std::vector<double>{7, 2});
    CHECK(values(indices_1) == std::vector<double>{1, 0});  // the first of a tie
    CHECK(indices_1.dtype() == i64);
    const auto [values_0, indices_0] = ops::min(x, 0, true);
    CHECK(values_0.shape() == Shape{1, 3});
    CHECK(values(values_0) == std::vector<double>{1, -1, 0});
    CHECK(values(indices_0) == std::vector<double>{0, 1, 1});
    CHECK(values(ops::argmax(x, 0)) == std::vector<double>{1, 0, 0});
    CHECK(values(ops::argmin(x, -1)) == std::vector<double>{0, 1});
    CHECK(ops::amax(x).item<double>() == 7);
    CHECK(values(ops::amin(x, {1}, true)) == std::vector<double>{1, -1});
    CHECK(values(ops::argmax(tensor({1, NAN, 3}), 0)) == std::vector<double>{1});  // NaN wins, as in PyTorch

    Tensor w = tensor({1, 7, 7, 2, -1, 0}, {2, 3}, f64).requires_grad_();
    ops::max(w, 1).values.sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{0, 1, 0, 1, 0, 0});
    w.set_grad(Tensor());
    ops::amax(w).backward();  // two elements hold the maximum: they share its gradient, as in PyTorch
    CHECK(values(w.grad()) == std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
    CHECK(ops::amax(zeros({0, 5}), {1}).shape() == Shape{0});
    CHECK(ops::logsumexp(zeros({0, 5}), {1}).shape() == Shape{0});
}

TEST_CASE("var and logsumexp") {
    const Tensor x = tensor({1, 2, 3, 4, 6, 8}, {2, 3}, f64);
    CHECK(values(ops::var(x, {1})) == std::vector<double>{1, 4});
    CHECK(values(ops::var(x, {1}, 0)) == std::vector<double>{2.0 / 3, 8.0 / 3});
    CHECK(ops::var(x).item<double>() == doctest::Approx(6.8).epsilon(1e-14));
    const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    CHECK(values(ops::logsumexp(x, {1}))[0] == doctest::Approx(lse).epsilon(1e-14));
    CHECK(values(ops::logsumexp(tensor({1000, 1000}, f64), {0}))[0] == doctest::Approx(1000 + std::log(2.0)).epsilon(1e-14));
    CHECK(values(ops::logsumexp(tensor({-INFINITY, -INFINITY}, f64), {0}))[0] == -INFINITY);
}

TEST_CASE("linear equals matmul with the transposed weight plus the bias, for f32 and f64") {
    Generator gen(5);
    for (DType dtype : {f32, f64}) {
        const Tensor x = randn({2, 5, 6}, dtype, gen), w = randn({4, 6}, dtype, gen), b = randn({4}, dtype, gen);
        const Tensor y = ops::linear(x, w, b);
        CHECK(y.shape() == Shape{2, 5, 4});
        CHECK(max_difference(y, x.matmul(w.transpose(0, 1)) + b) < (dtype == f32 ? 1e-5 : 1e-13));
        CHECK(max_difference(ops::linear(x, w), x.matmul(w.transpose(0, 1))) < (dtype == f32 ? 1e-5 : 1e-13));
    }
    // A large product takes the row-block path.
    const Tensor big = randn({4096, 64}, f32, gen), w = randn({192, 64}, f32, gen);
    CHECK(max_difference(ops::linear(big, w), big.matmul(w.transpose(0, 1))) < 1e-4);
    // Zero sizes: no input features, and no outputs.
    CHECK(values(ops::linear(zeros({2, 3, 0}), zeros({4, 0}), ones({4}))) == std::vector<double>(24, 1.0));
    Tensor none = zeros({0, 3}).requires_grad_();
    Tensor x0 = ones({2, 3}).requires_grad_();
    ops::linear(x0, none).sum().backward();
    CHECK(values(x0.grad()) == std::vector<double>(6, 0.0));
}

TEST_CASE("joining, padding and indexing") {
    const Tensor a = arange(6, f64).reshape({2, 3}), b = tensor({10, 11, 12}, {1, 3}, f64);
    CHECK(values(ops::concat({a, b})) == std::vector<double>{0, 1, 2, 3, 4, 5, 10, 11, 12});
    CHECK(values(ops::concat({a, a}, 1)) == std::vector<double>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
    CHECK(ops::stack({a, a}, 1).shape() == Shape{2, 2, 3});
    CHECK(values(ops::stack({scalar(1), scalar(2)})) == std::vector<double>{1, 2});
    CHECK(values(ops::pad(tensor({1, 2}, f64), {1, 2}, -1)) == std::vector<double>{-1, 1, 2, -1, -1});
    CHECK(ops::pad(a, {0, 1, 2, 0}).shape() == Shape{4, 4});
    CHECK(values(ops::index_select(a, 1, tensor({2, 0, 2}, i64))) == std::vector<double>{2, 0, 2, 5, 3, 5});
    CHECK(values(ops::gather(a, 1, tensor({2, 2, 0, 1}, {2, 2}, i64))) == std::vector<double>{2, 2, 3, 4});
    CHECK(values(ops::one_hot(tensor({2, 0}, i64), 3)) == std::vector<double>{0, 0, 1, 1, 0, 0});
    CHECK(ops::one_hot(tensor({1}, i64), 2, f32).dtype() == f32);
    CHECK(ops::flatten(zeros({2, 3, 4}), 1).shape() == Shape{2, 12});
    const std::vector<Tensor> pieces = ops::split(arange(5), 2);
    REQUIRE(pieces.size() == 3);
    CHECK(values(pieces[2]) == std::vector<double>{4});
    CHECK(ops::chunk(arange(6), 4).size() == 3);  // pieces of ceil(6 / 4) = 2, as in PyTorch
    // Repeated indices add their gradients.
    Tensor x = arange(3, f64).requires_grad_();
    ops::index_select(x, 0, tensor({2, 2, 0}, i64)).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{1, 0, 2});
}

TEST_CASE("embedding gathers rows and scatters gradients, skipping the padding row") {
    const Tensor weight = arange(8, f64).reshape({4, 2});
    CHECK(values(ops::embedding(tensor({3, 0, 3}, i64), weight)) == std::vector<double>{6, 7, 0, 1, 6, 7});
    CHECK(ops::embedding(tensor({1, 2, 0, 0}, {2, 2}, i64), weight).shape() == Shape{2, 2, 2});
    Tensor w = ones({4, 2}, f64).requires_grad_();
    ops::embedding(tensor({1, 3, 1, 0}, i64), w, /*padding_index=*/0).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{0, 0, 2, 2, 0, 0, 1, 1});
}

TEST_CASE("dropout is inverted, seeded, thread-count independent and the identity in eval mode") {
    Generator gen(6);
    const Tensor x = ones({200000});
    CHECK(ops::dropout(x, 0.3, false, gen).is_same(x));
    Generator a(42), b(42);
    const int threads = num_threads();
    set_num_threads(1);
    const std::vector<double> one = values(ops::dropout(x, 0.3, true, a));
    set_num_threads(2);
    const std::vector<double> two = values(ops::dropout(x, 0.3, true, b));
    set_num_threads(threads);
    CHECK(one == two);
    const auto zeros_count = std::count(one.begin(), one.end(), 0.0);
    CHECK(std::abs(static_cast<double>(zeros_count) / 200000 - 0.3) < 0.01);
    CHECK(*std::max_element(one.begin(), one.end()) == doctest::Approx(1 / 0.7).epsilon(1e-6));
    // The backward replays the same mask.
    Tensor w = ones({1000}, f64).requires_grad_();
    Generator c(8);
    const Tensor y = ops::dropout(w, 0.5, true, c);
    y.sum().backward();
    CHECK(values(w.grad()) == values(y));
    CHECK(values(ops::dropout(x, 1.0, true, gen)) == std::vector<double>(200000, 0.0));
    // A draw reserves every counter it uses, a partial last block included: the next draw from the
    // same generator starts past them, so two draws of 40 elements get independent masks.
    Generator d(9);
    const std::vector<double> first = values(ops::dropout(ones({40}), 0.5, true, d));
    CHECK(d.offset() == 16);  // one block of 16 counters (64 elements)
    const std::vector<double> second = values(ops::dropout(ones({40}), 0.5, true, d));
    Generator e(9, 16);
    CHECK(second == values(ops::dropout(ones({40}), 0.5, true, e)));
    CHECK(first != second);
    // A dropped NaN stays NaN, as in PyTorch (x times a zero mask), with p < 1 as with p = 1.
    Generator n1(3);
    const std::vector<double> nan_out = values(ops::dropout(full({64}, NAN), 0.5, true, n1));
    CHECK(std::all_of(nan_out.begin(), nan_out.end(), [](double v) { return std::isnan(v); }));
}

TEST_CASE("depthwise_conv1d matches a direct sum") {
    Generator gen(7);
    const Tensor x = randn({2, 3, 9, 2}, f64, gen), w = randn({3, 5}, f64, gen), bias = randn({3}, f64, gen);
    const Tensor y = ops::depthwise_conv1d(x, w, bias);
    REQUIRE(y.shape() == Shape{2, 3, 9, 2});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t t = 0; t < 9; ++t)
                for (std::int64_t f = 0; f < 2; ++f) {
                    double expected = bias.at<double>({c});
                    for (std::int64_t j = 0; j < 5; ++j)
                        if (t + j - 2 >= 0 && t + j - 2 < 9) expected += w.at<double>({c, j}) * x.at<double>({b, c, t + j - 2, f});
                    CHECK(y.at<double>({b, c, t, f}) == doctest::Approx(expected).epsilon(1e-13));
                }
    CHECK(ops::depthwise_conv1d(x, w, {}, 0).shape() == Shape{2, 3, 5, 2});
    // A non-contiguous bias gives the same result as its contiguous copy.
    const Tensor strided_bias = ops::stack({bias, bias * 2.0}, 1).select(1, 0);
    REQUIRE_FALSE(strided_bias.is_contiguous());
    CHECK(max_difference(ops::depthwise_conv1d(x, w, strided_bias), y) == 0);
    CHECK(ops::depthwise_conv1d(randn({1, 3, 9}, f64, gen), w).shape() == Shape{1, 3, 9});
}

TEST_CASE("segment_mean follows the uneven-segment rule") {
    // n = 7, m = 3: s = 2, r = 3·3 - 7 = 2, so segments of 2, 2 and 3 entries.
    const Tensor x = arange(7, f64);
    CHECK(values(ops::segment_mean(x, 0, 3)) == std::vector<double>{0.5, 2.5, 5});
    CHECK(values(ops::segment_mean(arange(8, f64), 0, 4)) == std::vector<double>{0.5, 2.5, 4.5, 6.5});
    CHECK(values(ops::segment_mean(x, 0, 7)) == values(x));
    const Tensor y = ops::segment_mean(arange(14, f64).reshape({7, 2}), 0, 3);
    CHECK(values(y) == std::vector<double>{1, 2, 5, 6, 10, 11});
    // n = 10, m = 4: s = 2, r = 3·4 - 10 = 2: segments of 2, 2, 3, 3.
    CHECK(values(ops::segment_mean(arange(10, f64), 0, 4)) == std::vector<double>{0.5, 2.5, 5, 8});
}

TEST_CASE("vectorised f32 ops on ragged sizes are bitwise identical however the work is split") {
    // Sizes whose pieces end mid-vector: 100,000 elements, and 4,000 rows of 100.
    Generator gen(31);
    const Tensor x = randn({100000}, f32, gen), rows = randn({4000, 100}, f32, gen);
    const int threads = num_threads();
    set_num_threads(1);
    const std::vector<double> gelu_one = values(ops::gelu(x)), softmax_one = values(ops::softmax(rows, -1));
    const std::vector<double> exp_one = values(ops::exp(x)), tanh_one = values(ops::tanh(x));
    set_num_threads(2);
    for (int run = 0; run < 5; ++run) {
        CHECK(values(ops::gelu(x)) == gelu_one);
        CHECK(values(ops::softmax(rows, -1)) == softmax_one);
        CHECK(values(ops::exp(x)) == exp_one);
        CHECK(values(ops::tanh(x)) == tanh_one);
    }
    set_num_threads(threads);
}

TEST_CASE("a forward and backward pass is bitwise identical when repeated on two threads") {
    const int threads = num_threads();
    set_num_threads(2);
    auto run = [] {
        Generator gen(11);
        Tensor x = randn({8, 128, 64}, f32, gen);
        Tensor w = (randn({64, 64}, f32, gen) * 0.1).detach().requires_grad_();
        Tensor gamma = ones({64}).requires_grad_(), beta = zeros({64}).requires_grad_();
        Tensor conv = (randn({8, 9}, f32, gen) * 0.1).detach().requires_grad_();
        Tensor h = ops::layer_norm(ops::linear(x, w), {64}, gamma, beta);
        Tensor a = ops::softmax(h.matmul(h.transpose(1, 2)) / 8.0, -1).matmul(h);
        Tensor s = ops::gelu(a) + ops::depthwise_conv1d(a.unsqueeze(1).expand({8, 8, 128, 64}).contiguous(), conv).mean({1});
        Tensor logits = ops::segment_mean(s, 1, 10).mean({1});
        Tensor loss = ops::cross_entropy(logits.reshape({8, 64}), arange(8, i64), {.label_smoothing = 0.1});
        loss.backward();
        std::vector<std::vector<double>> out{values(loss)};
        for (Tensor* p : {&w, &gamma, &beta, &conv}) out.push_back(values(p->grad()));
        return out;
    };
    const auto first = run(), second = run();
    set_num_threads(threads);
    CHECK(first == second);
}

TEST_CASE("the transformer ops reject bad shapes, dtypes, axes and indices, naming the op") {
    const Tensor x = ones({2, 3}), ids = tensor({0, 5}, i64);
    CHECK_ERROR_CONTAINS(ops::softmax(x, 2), "softmax", "axis 2");
    CHECK_ERROR_CONTAINS(ops::softmax(arange(3, i64), 0), "softmax", "i64");
    CHECK_ERROR_CONTAINS(ops::layer_norm(x, {2}), "layer_norm", "[2]", "[2, 3]");
    CHECK_ERROR_CONTAINS(ops::layer_norm(x, {3}, ones({4})), "layer_norm", "weight", "[4]");
    CHECK_ERROR_CONTAINS(ops::embedding(ids, ones({4, 2})), "embedding", "id 5", "4 rows");
    CHECK_ERROR_CONTAINS(ops::embedding(tensor({1.0}), ones({4, 2})), "embedding", "i64");
    CHECK_ERROR_CONTAINS(ops::cross_entropy(x, tensor({0, 3}, i64)), "cross_entropy", "target 3", "3 classes");
    CHECK_ERROR_CONTAINS(ops::cross_entropy(x, tensor({0, 1, 1}, i64)), "cross_entropy", "[2, 3]", "[3]");
    CHECK_ERROR_CONTAINS(ops::cross_entropy(x, tensor({0, 1})), "cross_entropy", "i64");
    CHECK_ERROR_CONTAINS(ops::cross_entropy(x, tensor({0, 1}, i64), {.label_smoothing = 1.5}), "label_smoothing");
    CHECK_ERROR_CONTAINS(ops::gather(x, 1, tensor({0, 3}, {2, 1}, i64)), "gather", "index 3", "[0, 3)");
    CHECK_ERROR_CONTAINS(ops::gather(x, 1, tensor({0, 1}, i64)), "gather", "rank");
    CHECK_ERROR_CONTAINS(ops::index_select(x, 0, tensor({-1}, i64)), "index_select", "-1");
    CHECK_ERROR_CONTAINS(ops::one_hot(tensor({3}, i64), 3), "one_hot", "id 3");
    CHECK_ERROR_CONTAINS(ops::concat({x, ones({2, 3}, f64)}), "concat", "dtype");
    CHECK_ERROR_CONTAINS(ops::concat({x, ones({3, 2})}), "concat", "[3, 2]", "axis 0");
    CHECK_ERROR_CONTAINS(ops::stack({x, ones({3, 2})}), "stack", "[3, 2]");
    CHECK_ERROR_CONTAINS(ops::pad(x, {1}), "pad", "pairs");
    CHECK_ERROR_CONTAINS(ops::pad(x, {-1, 0}), "pad", "negative");
    CHECK_ERROR_CONTAINS(ops::linear(x, ones({4, 2})), "linear", "[4, 2]", "[2, 3]");
    CHECK_ERROR_CONTAINS(ops::linear(x, ones({4, 3}), ones({3})), "linear", "bias");
    CHECK_ERROR_CONTAINS(ops::dropout(x, 1.5, true, default_generator()), "dropout", "1.5");
    CHECK_ERROR_CONTAINS(ops::depthwise_conv1d(ones({1, 2, 5}), ones({3, 3})), "depthwise_conv1d", "[2, k]");
    CHECK_ERROR_CONTAINS(ops::depthwise_conv1d(ones({1, 2, 2}), ones({2, 7}), {}, 0), "depthwise_conv1d", "does not fit");
    CHECK_ERROR_CONTAINS(ops::segment_mean(x, 1, 4), "segment_mean", "4 segments", "length 3");
    CHECK_ERROR_CONTAINS(ops::max(zeros({2, 0}), 1), "max", "size 0");
    CHECK_ERROR_CONTAINS(ops::clamp(x, 1, 0), "clamp", "above");
    CHECK_ERROR_CONTAINS(ops::where(tensor({1, 0}), x, ones({2, 3}, f64)), "where", "dtypes");
    CHECK_ERROR_CONTAINS(ops::masked_fill(x, ones({3, 3}), 0), "masked_fill", "[3, 3]");
    CHECK_ERROR_CONTAINS(ops::split(x, 0), "split", "at least 1");
    CHECK_ERROR_CONTAINS(ops::flatten(zeros({2, 3, 4}), 2, 1), "flatten", "comes after");
}

}  // TEST_SUITE
