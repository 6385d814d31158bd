// The libtorch-style surface of Tensor (ops/tensor_methods.cpp): method forms, integer axes,
// compound assignment, comparisons, operator[] and index(), printable shapes, and Module::to.
#include <sstream>

#include <nyx/nyx.hpp>

#include "test_util.hpp"

using namespace nyx;
using namespace nyx::indexing;

namespace {

bool same_values(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.dtype() == b.dtype() && values(a) == values(b); }

}  // namespace

TEST_SUITE("ops") {

TEST_CASE("method forms forward to the ops of the same name") {
    Generator g(3);
    const Tensor x = randn({3, 4}, f64, g), y = randn({3, 4}, f64, g);
    CHECK(same_values(x.pow(2), ops::pow(x, 2)));
    CHECK(same_values(x.sigmoid(), ops::sigmoid(x)));
    CHECK(same_values(x.softmax(-1), ops::softmax(x, -1)));
    CHECK(same_values(x.log_softmax(0), ops::log_softmax(x, 0)));
    CHECK(same_values(x.abs().sqrt(), ops::sqrt(ops::abs(x))));
    CHECK(same_values(x.neg(), -x));
    CHECK(same_values(x.clamp(-0.5, 0.5), ops::clamp(x, -0.5, 0.5)));
    CHECK(same_values(x.maximum(y), ops::maximum(x, y)));
    CHECK(same_values(x.flatten(), x.reshape({12})));
    CHECK(same_values(x.t(), x.transpose(0, 1)));
    CHECK(same_values(x.where(x > 0.0, y), ops::where(x > 0.0, x, y)));
    CHECK(same_values(x.masked_fill(x < 0.0, 0), x.relu()));
    CHECK(x.split(2, 1).size() == 2);
    CHECK(x.chunk(3, 0).size() == 3);
}

TEST_CASE("reductions take one integer axis, several axes, or none") {
    const Tensor x = arange(24, f64).reshape({2, 3, 4});
    CHECK(same_values(x.sum(1), x.sum({1})));
    CHECK(same_values(x.sum(-1, true), x.sum({2}, true)));
    CHECK(same_values(x.mean(0), x.mean({0})));
    CHECK(same_values(x.amax(2), x.amax({2})));
    CHECK(same_values(x.logsumexp(1), x.logsumexp({1})));
    CHECK(same_values(x.var(2), x.var({2})));
    // Braces still mean a list of axes: {} is every axis, not axis 0.
    CHECK(x.sum({}).item<double>() == 276);
    CHECK(x.sum({0, 2}).shape() == Shape{3});
    CHECK(x.max().item<double>() == 23);
    CHECK(x.min().item<double>() == 0);
    const ValuesIndices best = x.max(1);
    CHECK(same_values(best.values, x.select(1, 2)));
    CHECK(values(best.indices) == std::vector<double>(8, 2));
    CHECK(x.argmax().item<std::int64_t>() == 23);
    CHECK(x.neg().argmax().item<std::int64_t>() == 0);
    CHECK(values(x.argmax(2)) == std::vector<double>(6, 3));
    CHECK(x.argmin(2, true).shape() == Shape{2, 3, 1});
}

TEST_CASE("comparison operators give masks of the operands' dtype") {
    const Tensor x = tensor({-1, 0, 2}, f32), y = tensor({0, 0, 3}, f32);
    CHECK(values(x > 0.0) == std::vector<double>{0, 0, 1});
    CHECK((x > 0.0).dtype() == f32);
    CHECK(values(0.0 < x) == std::vector<double>{0, 0, 1});
    CHECK(values(x == y) == std::vector<double>{0, 1, 0});
    CHECK(values(x != y) == std::vector<double>{1, 0, 1});
    CHECK(values(x <= y) == std::vector<double>{1, 1, 1});
    CHECK(values(x >= 0.0) == std::vector<double>{0, 1, 1});
    CHECK(values(arange(4, i64) == 2.0) == std::vector<double>{0, 0, 1, 0});
    CHECK_ERROR_CONTAINS(arange(4, i64) > 0.5, "not whole");
    CHECK_ERROR_CONTAINS(x == y.to(f64), "dtypes differ");
}

TEST_CASE("compound assignment writes in place, as libtorch's") {
    Tensor x = arange(6, f32).reshape({2, 3});
    const Tensor alias = x;  // another handle to the same tensor
    const Tensor view = x.select(0, 1);
    x += tensor({1, 1, 1}, f32);  // broadcasts to x's shape
    x *= 2.0;
    x -= 1.0;
    x /= tensor({1, 2, 4}, f32);
    CHECK(values(alias) == std::vector<double>{1, 1.5, 1.25, 7, 4.5, 2.75});
    CHECK(values(view) == std::vector<double>{7, 4.5, 2.75});
    CHECK(x.is_same(alias));

    SUBCASE("a right-hand side that requires grad is refused, since its gradient would be lost") {
        const Tensor w = ones({3}).requires_grad_();
        CHECK_ERROR_CONTAINS(x += w, "right-hand side requires grad", "x = x + y");
        NoGradGuard no_grad;
        x += w;  // not recording: nothing to lose
    }
    SUBCASE("a parameter is written only outside recording") {
        Tensor w = ones({3}).requires_grad_();
        CHECK_ERROR_CONTAINS(w -= 0.1, "NoGradGuard");
        NoGradGuard no_grad;
        w -= 0.5;
        CHECK(values(w) == std::vector<double>{0.5, 0.5, 0.5});
    }
    SUBCASE("the result must keep the left-hand side's shape") {
        Tensor row = ones({3});
        CHECK_ERROR_CONTAINS(row += ones({2, 3}), "cannot change the shape");
    }
}

TEST_CASE("operator[] and index() follow Python's indexing, as views") {
    const Tensor x = arange(24, f32).reshape({2, 3, 4});
    CHECK(same_values(x[1], x.select(0, 1)));
    CHECK(same_values(x[-1][2], x.select(0, 1).select(0, 2)));
    CHECK(x[0].shares_storage(x));
    CHECK(same_values(x.index({0, Slice(1, None)}), x.select(0, 0).slice(0, 1, 3)));
    CHECK(same_values(x.index({Slice(), Slice(None, None, 2), -1}), x.slice(1, 0, 3, 2).select(2, 3)));
    CHECK(x.index({None, 1}).shape() == Shape{1, 3, 4});
    CHECK(x.index({Ellipsis, 0}).shape() == Shape{2, 3});
    CHECK(x.index({0, Ellipsis, None}).shape() == Shape{3, 4, 1});
    CHECK(same_values(x.index({Slice(), Slice(), Slice(-3, 100)}), x.slice(2, 1, 4)));  // negative from the end, clamped
    CHECK(same_values(x.index({Ellipsis, Slice(None, -1)}), x.slice(2, 0, 3)));
    x.index({1, 2}).fill_(-1);  // a view: writes reach x
    CHECK(x.at<float>({1, 2, 3}) == -1);
    CHECK_ERROR_CONTAINS(x.index({0, 0, 0, 0}), "4 indices for a tensor of rank 3");
    CHECK_ERROR_CONTAINS(x.index({Ellipsis, Ellipsis}), "at most one Ellipsis");
    CHECK_ERROR_CONTAINS(x.index({Slice(0, 2, 0)}), "step must be positive");
    CHECK_ERROR_CONTAINS(x[5], "out of range");
    CHECK_ERROR_CONTAINS(scalar(1)[0], "rank-0");
    // Gradients flow through indexing like any view.
    const Tensor w = ones({2, 3}, f64).requires_grad_();
    w.index({Slice(), 1}).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{0, 1, 0, 0, 1, 0});
}

TEST_CASE("assigning to an indexed view writes into the tensor, as libtorch's x[0] = y") {
    Tensor x = zeros({2, 3});
    const Tensor alias = x;
    x[0] = tensor({1, 2, 3});
    x.index({1, Slice(1, None)}) = 7.0;
    CHECK(values(alias) == std::vector<double>{1, 2, 3, 0, 7, 7});
    Tensor y = ones({3});
    y = x[1];  // a named tensor rebinds, as always
    CHECK(values(y) == std::vector<double>{0, 7, 7});
    CHECK(values(alias) == std::vector<double>{1, 2, 3, 0, 7, 7});
    CHECK_ERROR_CONTAINS(x[0] = ones({3}).requires_grad_(), "gradient would be lost");
    CHECK_ERROR_CONTAINS(x[0] = ones({4}), "cannot fill");
}

TEST_CASE("an activation written in place is refused with the fix, not the NoGradGuard advice") {
    const Tensor w = ones({3}, f64).requires_grad_();
    Tensor h = w * 2.0;
    CHECK_ERROR_CONTAINS(h *= 2.0, "*=: the left-hand side requires grad", "write x = x * y");
}

// x.sum(true) must not compile as axis 1, nor x.var(false) as axis 0 (libtorch's var(unbiased)).
template <class T>
concept sums_over = requires(const Tensor& x, T axis) { x.sum(axis); };
static_assert(sums_over<int> && sums_over<std::int64_t> && sums_over<std::size_t>);
static_assert(!sums_over<bool>);
static_assert(!std::is_constructible_v<TensorIndex, bool>);

TEST_CASE("shapes print as lists") {
    std::ostringstream out;
    out << zeros({2, 3}).shape() << ' ' << scalar(1).shape();
    CHECK(out.str() == "[2, 3] []");
}

TEST_CASE("Module::to converts parameters in place, so that a module can be gradchecked in f64") {
    Generator g(11);
    nn::Sequential mlp({std::make_shared<nn::Linear>(4, 5, nn::LinearOptions{}, g), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(5, 2, nn::LinearOptions{}, g)});
    const Tensor first_weight = mlp.parameters().front();  // a handle held before the conversion
    const std::vector<double> before = values(first_weight);
    mlp.to(f64);
    for (const Tensor& p : mlp.parameters()) {
        CHECK(p.dtype() == f64);
        CHECK(p.requires_grad());
        CHECK(p.is_leaf());
    }
    CHECK(first_weight.dtype() == f64);
    const std::vector<double> after = values(first_weight);
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i] == static_cast<double>(static_cast<float>(before[i])));
    Tensor x = randn({3, 4}, f64, g);
    CHECK(gradcheck([&](const std::vector<Tensor>& inputs) { return mlp.forward(inputs[0]); }, {x.requires_grad_()}));
    // Gradients of the old dtype go; a later backward writes f64 ones.
    mlp.forward(x).sum().backward();
    CHECK(first_weight.grad().dtype() == f64);
    mlp.to(f32);
    CHECK_FALSE(first_weight.grad().defined());
    CHECK(first_weight.dtype() == f32);
    CHECK_ERROR_CONTAINS(mlp.to(i64), "parameters are f32 or f64");
    CHECK_ERROR_CONTAINS(mlp.to(bf16), "parameters are f32 or f64", "AutocastGuard");

    SUBCASE("integer buffers keep their dtype, and a model takes features of its new dtype") {
        models::EncoderClassifier model({.vocab = 0, .input_features = 3, .max_len = 5, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 8, .layers = 1, .attention = nn::SoftmaxOptions{}},
                                        2, g);
        model.register_buffer("steps", zeros({1}, i64));
        model.to(f64).eval();
        CHECK(model.state_dict().at("steps").dtype() == i64);
        CHECK(model(randn({2, 5, 3}, f64, g), ones({2, 5}, f64)).dtype() == f64);
    }
}

}  // TEST_SUITE
