// Higher-order gradients: autograd::grad, backward(create_graph), what a recorded backward keeps
// alive, and the errors. The op-by-op second derivatives are in gradcheck_test.cpp (the op table's
// gradgradcheck walk).
#include <cmath>
#include <functional>

#include "test_util.hpp"

using namespace nyx;

namespace {

Tensor leaf(std::vector<double> v) {
    return tensor(v, f64).requires_grad_();
}

// The live bytes of the caching allocator.
std::size_t live_bytes() { return memory::stats().live_bytes; }

}  // namespace

TEST_SUITE("autograd") {

TEST_CASE("autograd::grad returns gradients without touching .grad, and differentiates them again with create_graph") {
    const Tensor x = leaf({0.5, -2.0, 3.0});
    const Tensor y = (x * x * x).sum();  // dy/dx = 3x², d²y/dx² = 6x
    const Tensor g = autograd::grad({y}, {x}, {}, {}, /*create_graph=*/true)[0];
    CHECK(values(g) == std::vector<double>{0.75, 12.0, 27.0});
    CHECK(g.requires_grad());
    CHECK_FALSE(x.grad().defined());
    const Tensor h = autograd::grad({g.sum()}, {x})[0];
    CHECK(values(h) == std::vector<double>{3.0, -12.0, 18.0});
    CHECK_FALSE(h.requires_grad());  // no create_graph the second time
    CHECK_FALSE(x.grad().defined());
}

TEST_CASE("backward(create_graph) leaves a differentiable .grad; a second backward adds the second derivative") {
    const Tensor x = leaf({1.0, 2.0});
    const Tensor y = (ops::exp(x) * x).sum();  // dy/dx = eˣ(1 + x), d²y/dx² = eˣ(2 + x)
    y.backward({}, {}, /*create_graph=*/true);
    const Tensor g = x.grad();
    REQUIRE(g.requires_grad());
    CHECK(values(g)[1] == doctest::Approx(std::exp(2.0) * 3.0));
    x.set_grad(Tensor());
    g.sum().backward();
    CHECK(values(x.grad())[0] == doctest::Approx(std::exp(1.0) * 3.0).epsilon(1e-12));
    CHECK(values(x.grad())[1] == doctest::Approx(std::exp(2.0) * 4.0).epsilon(1e-12));
}

TEST_CASE("autograd::grad takes intermediate results as inputs and runs only the records between") {
    const Tensor x = leaf({1.0, -1.0});
    const Tensor h = x * 3.0;
    const Tensor y = (h * h).sum();
    CHECK(values(autograd::grad({y}, {h})[0]) == std::vector<double>{6.0, -6.0});  // 2h
    // The records upstream of h did not run, so they were not freed: a backward still gets through.
    (h.sum()).backward();
    CHECK(values(x.grad()) == std::vector<double>{3.0, 3.0});
    // Several outputs and inputs at once, with explicit grad_outputs and one input repeated.
    const Tensor a = leaf({2.0}), b = leaf({5.0});
    const Tensor p = a * b, q = a + b;
    const auto grads = autograd::grad({p, q}, {a, b, a}, {tensor({1.0}, f64), tensor({10.0}, f64)});
    CHECK(values(grads[0]) == std::vector<double>{15.0});  // b + 10
    CHECK(values(grads[1]) == std::vector<double>{12.0});  // a + 10
    CHECK(values(grads[2]) == std::vector<double>{15.0});
}

TEST_CASE("autograd::grad names what to fix: allow_unused, retain_graph, inputs and outputs without grad") {
    const Tensor x = leaf({1.0}), unused = leaf({2.0});
    const Tensor y = (x * x).sum();
    CHECK_ERROR_CONTAINS(autograd::grad({y}, {unused}, {}, true), "input 0", "not used", "allow_unused=true");
    const auto grads = autograd::grad({y}, {x, unused}, {}, true, false, /*allow_unused=*/true);
    CHECK(grads[0].defined());
    CHECK_FALSE(grads[1].defined());
    CHECK_ERROR_CONTAINS(autograd::grad({y}, {tensor({1.0}, f64)}), "input 0", "does not require grad");
    CHECK_ERROR_CONTAINS(autograd::grad({tensor({1.0}, f64)}, {x}), "does not require grad");
    CHECK_ERROR_CONTAINS(autograd::grad({x * 2.0}, {x}, {ones({2}, f64)}), "shape [2]", "shape [1]");
    autograd::grad({y}, {x});  // frees the graph: retain_graph defaults to create_graph, false here
    CHECK_ERROR_CONTAINS(autograd::grad({y}, {x}), "freed by an earlier backward", "retain_graph=true");
}

TEST_CASE("a Hessian-vector product matches differences of gradients, and its graph is freed each time") {
    Generator gen(7);
    const Tensor w = randn({6, 4}, f64, gen).requires_grad_();
    const Tensor input = randn({5, 6}, f64, gen), v = randn({6, 4}, f64, gen);
    auto loss_of = [&](const Tensor& weights) { return ops::tanh(ops::matmul(input, weights)).pow(2).sum(); };
    auto hvp = [&] {
        const Tensor g = autograd::grad({loss_of(w)}, {w}, {}, {}, true)[0];
        return autograd::grad({(g * v).sum()}, {w})[0];
    };
    // (∇L(w + εv) - ∇L(w - εv)) / 2ε
    const double eps = 1e-6;
    auto gradient_at = [&](double step) {
        const Tensor shifted = (w.detach() + v * step).requires_grad_();
        return autograd::grad({loss_of(shifted)}, {shifted})[0];
    };
    const std::vector<double> exact = values(hvp());
    const std::vector<double> plus = values(gradient_at(eps)), minus = values(gradient_at(-eps));
    for (std::size_t i = 0; i < exact.size(); ++i) CHECK(exact[i] == doctest::Approx((plus[i] - minus[i]) / (2 * eps)).epsilon(1e-6));

    // 1,000 of them hold no more memory and no more records than one.
    hvp();
    const std::int64_t records = autograd::live_records();
    const std::size_t bytes = live_bytes();
    for (int i = 0; i < 1000; ++i) hvp();
    CHECK(autograd::live_records() == records);
    CHECK(live_bytes() == bytes);
}

TEST_CASE("backward(create_graph) into .grad does not keep the graph alive through the leaf") {
    const std::int64_t records = autograd::live_records();
    const std::size_t bytes = live_bytes();
    for (int i = 0; i < 100; ++i) {
        const Tensor x = randn({32}, f64).requires_grad_();
        (ops::sigmoid(x) * x).sum().backward({}, {}, true);
        CHECK(x.grad().requires_grad());  // .grad holds its graph, which holds x only weakly
    }
    CHECK(autograd::live_records() == records);
    CHECK(live_bytes() == bytes);
}

TEST_CASE("a backward that cannot be recorded says so: autocast's rounded copies, on any CPU") {
    const Tensor a = randn({4, 4}).requires_grad_(), b = randn({4, 4});
    Tensor y;
    {
        AutocastGuard autocast(true);
        y = ops::matmul(a, b).sum();
    }
    CHECK_ERROR_CONTAINS(autograd::grad({y}, {a}, {}, {}, true), "create_graph", "AutocastGuard");
}

TEST_CASE("a fused op fed the same tensor twice, or one input made from another, keeps its gradients with create_graph") {
    // The recorded backwards of layer_norm and depthwise_conv1d differentiate their composite forms:
    // each input must count once, as its own variable, or a path from one input to another would
    // be counted twice (once here and once by the walk).
    const Tensor c = tensor({1.0, -2.0, 0.5}, f64);
    auto both_ways = [](const std::function<Tensor()>& loss, const Tensor& wrt) {
        const std::vector<double> plain = values(autograd::grad({loss()}, {wrt})[0]);
        const std::vector<double> recorded = values(autograd::grad({loss()}, {wrt}, {}, {}, /*create_graph=*/true)[0]);
        REQUIRE(plain.size() == recorded.size());
        for (std::size_t i = 0; i < plain.size(); ++i) CHECK(recorded[i] == doctest::Approx(plain[i]).epsilon(1e-12));
    };
    const Tensor w = tensor({0.3, -0.8, 1.1}, f64).requires_grad_();
    both_ways([&] { return (ops::layer_norm(w, {3}, w, w) * c).sum(); }, w);
    Generator gen(5);
    const Tensor z = randn({2, 3}, f64, gen).requires_grad_();
    both_ways([&] {
        const Tensor h = z * 2.0;
        return (ops::layer_norm(h, {3}, h.mean({0}) + 1.0) * c).sum();
    },
              z);
    const Tensor x = randn({2, 2, 5}, f64, gen).requires_grad_();
    both_ways([&] { return ops::depthwise_conv1d(x, x.select(0, 0).slice(1, 0, 2), {}, 1).pow(2).sum(); }, x);
    CHECK(gradgradcheck([](const std::vector<Tensor>& in) { return ops::layer_norm(in[0], {3}, in[0].select(0, 0)); },
                        {randn({2, 3}, f64, gen).requires_grad_()}));
}

TEST_CASE("autograd::grad needs retain_graph only where freed records lie on the way") {
    const Tensor x = leaf({1.0, -1.0});
    const Tensor h = x * 3.0;
    (h * h).sum().backward();  // frees the records of h and of h * h
    // From a new use of h back to h: the freed record that made h is where the gradient stops.
    CHECK(values(autograd::grad({(h * 2.0).sum()}, {h})[0]) == std::vector<double>{2.0, 2.0});
    // Back to x, part of the way through the freed record: an error, not a gradient missing 6.
    CHECK_ERROR_CONTAINS(autograd::grad({(h * 2.0 + x * 5.0).sum()}, {x}), "op 'mul'", "freed by an earlier backward",
                         "retain_graph=true");
    // create_graph without retain_graph frees too.
    const Tensor y = (x * x * x).sum();
    autograd::grad({y}, {x}, {}, /*retain_graph=*/false, /*create_graph=*/true);
    CHECK_ERROR_CONTAINS(autograd::grad({y}, {x}), "freed by an earlier backward", "retain_graph=true");
}

TEST_CASE("a recorded backward computes in its forward's precision, also when asked inside an AutocastGuard") {
    Generator gen(9);
    const Tensor w = randn({32, 32}, f32, gen).requires_grad_(), input = randn({8, 32}, f32, gen);
    const Tensor loss = ops::tanh(ops::matmul(input, w)).pow(2).sum();
    const std::vector<double> plain = values(autograd::grad({loss}, {w}, {}, true)[0]);
    std::vector<double> recorded;
    {
        AutocastGuard autocast;
        recorded = values(autograd::grad({loss}, {w}, {}, true, /*create_graph=*/true)[0]);
    }
    CHECK(recorded == plain);
}

TEST_CASE("the binary cross-entropies' recorded backwards hold at their limits") {
    // Probabilities of exactly 0 and 1 (the logs' floor) and logits far out with pos_weight: the
    // recorded first derivatives equal the fused ones, and the second ones are finite.
    const Tensor p = tensor({0.0, 1.0, 0.3, 1e-300}, f64).requires_grad_(), y = tensor({0.2, 0.7, 1.0, 0.0}, f64).requires_grad_();
    const Tensor x = tensor({-1000.0, 1000.0, 0.0, 0.5}, f64).requires_grad_();  // 0: where relu and abs have no slope
    const Tensor pos_weight = tensor({2.0, 3.0, 0.5, 1.0}, f64);
    const std::vector<std::function<Tensor()>> losses = {
        [&] { return ops::binary_cross_entropy(p, y); },
        [&] { return ops::binary_cross_entropy_with_logits(x, y, {}, ops::Reduction::mean, pos_weight); }};
    for (std::size_t k = 0; k < losses.size(); ++k) {
        INFO("loss ", k);
        const Tensor input = k == 0 ? p : x;
        const auto plain = autograd::grad({losses[k]()}, {input, y});
        const auto recorded = autograd::grad({losses[k]()}, {input, y}, {}, {}, /*create_graph=*/true);
        for (int i = 0; i < 2; ++i) {
            const std::vector<double> a = values(plain[i]), b = values(recorded[i]);
            for (std::size_t e = 0; e < a.size(); ++e) CHECK(b[e] == doctest::Approx(a[e]).epsilon(1e-12));
        }
        for (const double v : values(autograd::grad({(recorded[0] + recorded[1]).sum()}, {input, y}, {}, {}, false, true)[0]))
            CHECK(std::isfinite(v));
    }
    // The mixed second derivatives agree both ways (a Hessian is symmetric), at x = 0 too.
    const auto first = autograd::grad({ops::binary_cross_entropy_with_logits(x, y, {}, ops::Reduction::sum, pos_weight)}, {x, y}, {}, {}, true);
    const std::vector<double> dx_dy = values(autograd::grad({first[0].sum()}, {y}, {}, true)[0]);
    const std::vector<double> dy_dx = values(autograd::grad({first[1].sum()}, {x})[0]);
    for (std::size_t e = 0; e < dx_dy.size(); ++e) CHECK(dx_dy[e] == doctest::Approx(dy_dx[e]).epsilon(1e-12));
}

}  // TEST_SUITE
