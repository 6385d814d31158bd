// Higher-order gradients: autograd::grad, backward(create_graph), what a recorded backward keeps
// alive, and the errors. The op-by-op second derivatives are in gradcheck_test.cpp (the op table's
// gradgradcheck walk).
#include <cmath>

#include <nyx/core/blas.hpp>

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

TEST_CASE("a backward that cannot be recorded says so: autocast's bf16 copies") {
    const Tensor a = randn({4, 4}).requires_grad_(), b = randn({4, 4});
    Tensor y;
    {
        AutocastGuard autocast(true);
        y = ops::matmul(a, b).sum();
    }
    if (blas::native_bf16()) CHECK_ERROR_CONTAINS(autograd::grad({y}, {a}, {}, {}, true), "create_graph", "AutocastGuard");
}

}  // TEST_SUITE
