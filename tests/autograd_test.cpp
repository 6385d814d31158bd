// autograd: the tape, accumulation, broadcasting undone in the engine, NoGradGuard, retain_graph,
// freeing of records, and the errors that say what to do.
#include <cmath>

#include "test_util.hpp"

using namespace nyx;

TEST_SUITE("autograd") {

TEST_CASE("backward computes the gradients of a small expression") {
    Tensor a = tensor({1, 2, 3}, f64).requires_grad_();
    Tensor b = tensor({4, 5, 6}, f64).requires_grad_();
    Tensor y = (a * b + a).sum();  // dy/da = b + 1, dy/db = a
    CHECK(y.item<double>() == 1 * 4 + 2 * 5 + 3 * 6 + 6);
    y.backward();
    CHECK(values(a.grad()) == std::vector<double>{5, 6, 7});
    CHECK(values(b.grad()) == std::vector<double>{1, 2, 3});
    CHECK(a.is_leaf());
    CHECK_FALSE(y.is_leaf());
    CHECK(y.grad_fn_name() == "sum");
}

TEST_CASE("a tensor used twice gets the sum of both paths") {
    Tensor x = tensor({3}, f64).requires_grad_();
    Tensor y = x * x;          // 2x
    Tensor z = (y + x).exp();  // a diamond: x reaches z through y and directly
    z.sum().backward();
    const double v = 3, expected = std::exp(v * v + v) * (2 * v + 1);
    CHECK(x.grad().item<double>() == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("gradients accumulate into leaves until zeroed") {
    Tensor w = tensor({1, 2}).requires_grad_();
    (w * 3.0).sum().backward();
    (w * 3.0).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{6, 6});
    {
        NoGradGuard no_grad;
        w.grad().zero_();
    }
    (w * w).sum().backward();
    CHECK(values(w.grad()) == std::vector<double>{2, 4});
    w.set_grad(Tensor());
    CHECK_FALSE(w.grad().defined());
}

TEST_CASE("broadcasting is undone once, in the engine") {
    Tensor a = ones({3, 1}, f64).requires_grad_();
    Tensor b = ones({4}, f64).requires_grad_();
    Tensor s = ones({}, f64).requires_grad_();
    ((a + b) * s).sum().backward();
    CHECK(a.grad().shape() == Shape{3, 1});
    CHECK(values(a.grad()) == std::vector<double>{4, 4, 4});
    CHECK(b.grad().shape() == Shape{4});
    CHECK(values(b.grad()) == std::vector<double>{3, 3, 3, 3});
    CHECK(s.grad().shape() == Shape{});
    CHECK(s.grad().item<double>() == 24);

    Tensor e = tensor({1, 2}, {2, 1}).requires_grad_();
    e.expand({3, 2, 4}).sum().backward();
    CHECK(values(e.grad()) == std::vector<double>{12, 12});
}

TEST_CASE("NoGradGuard turns recording off for its scope, and nests") {
    Tensor x = ones({2}).requires_grad_();
    {
        NoGradGuard outer;
        CHECK_FALSE(is_grad_enabled());
        {
            NoGradGuard inner;
        }
        CHECK_FALSE(is_grad_enabled());
        Tensor y = x * 2.0;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn_name().empty());
    }
    CHECK(is_grad_enabled());
    CHECK((x * 2.0).requires_grad());
}

TEST_CASE("detach cuts the history") {
    Tensor x = tensor({2}, f64).requires_grad_();
    Tensor d = (x * x).detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.is_leaf());
    Tensor y = (x * d).sum();  // d is a constant: dy/dx = d = 4
    y.backward();
    CHECK(x.grad().item<double>() == 4);
}

TEST_CASE("a gradient flows through dtype conversions") {
    Tensor x = tensor({1, 2}, f32).requires_grad_();
    Tensor y = (x.to(f64) * 3.0).sum();
    y.backward();
    CHECK(x.grad().dtype() == f32);
    CHECK(values(x.grad()) == std::vector<double>{3, 3});
    CHECK_FALSE(x.to(i64).requires_grad());
}

TEST_CASE("backward on a non-scalar needs an explicit gradient") {
    Tensor x = tensor({1, 2, 3}, f64).requires_grad_();
    Tensor y = x * 2.0;
    CHECK_ERROR_CONTAINS(y.backward(), "backward", "one-element", "[3]", "ones_like");
    y.backward(tensor({1, 0, 2}, f64));
    CHECK(values(x.grad()) == std::vector<double>{2, 0, 4});
    Tensor z = x * 2.0;
    CHECK_ERROR_CONTAINS(z.backward(ones({2}, f64)), "backward", "[2]", "[3]");
}

TEST_CASE("a second backward through freed records is an error; retain_graph keeps them") {
    Tensor x = tensor({1, 2}, f64).requires_grad_();
    Tensor y = (x * x).sum();
    y.backward();
    CHECK_ERROR_CONTAINS(y.backward(), "freed by an earlier backward()", "retain_graph=true");

    Tensor z = (x * x).sum();
    x.set_grad(Tensor());
    z.backward({}, /*retain_graph=*/true);
    z.backward();
    CHECK(values(x.grad()) == std::vector<double>{4, 8});
}

TEST_CASE("errors for tensors that cannot take part in backward") {
    Tensor c = ones({2});
    CHECK_ERROR_CONTAINS(c.sum().backward(), "does not require grad", "requires_grad_()");
    CHECK_ERROR_CONTAINS(arange(3, i64).requires_grad_(), "requires_grad_", "floating", "i64");
    Tensor x = ones({2}).requires_grad_();
    Tensor y = x * 2.0;
    CHECK_ERROR_CONTAINS(y.requires_grad_(), "not a leaf", "mul", "detach()");
    CHECK_FALSE(y.grad().defined());  // only leaves collect gradients
    CHECK_ERROR_CONTAINS(x.add_(ones({2})), "add_", "NoGradGuard");
    CHECK_ERROR_CONTAINS(x.set_grad(ones({3})), "set_grad", "[3]", "[2]");
}

TEST_CASE("an error part-way through backward leaves nothing behind for the next one") {
    Tensor x = tensor({1, 2}, f64).requires_grad_();
    Tensor e = x.exp();
    Tensor a = x * 3.0;
    a.sum().backward();  // frees a's records
    x.set_grad(Tensor());
    CHECK_ERROR_CONTAINS((a + e).sum().backward(), "freed by an earlier backward()");
    e.sum().backward();  // e's record was queued when the error struck; it must still work
    REQUIRE(x.grad().defined());
    CHECK(values(x.grad()) == values(x.detach().exp()));
}

TEST_CASE("a graph of 300,000 records is freed without deep recursion") {
    const std::int64_t records_before = autograd::live_records();
    Tensor x = scalar(1, f64).requires_grad_();
    {
        Tensor total = x;
        for (int i = 0; i < 300000; ++i) total = total + x;  // never backpropagated
        CHECK(autograd::live_records() == records_before + 300000);
    }
    CHECK(autograd::live_records() == records_before);
}

TEST_CASE("in-place writes are refused where they would corrupt data or gradients") {
    Tensor one = ones({1});
    CHECK_ERROR_CONTAINS(one.expand({3}).mul_(2.0), "mul_", "same memory", "clone()");
    CHECK_ERROR_CONTAINS(one.expand({3}).add_(ones({3})), "add_", "same memory");
    CHECK(one.item<float>() == 1);
    Tensor w = ones({3}).requires_grad_();
    CHECK_ERROR_CONTAINS(w.set_grad(ones({1}).expand({3})), "set_grad", "contiguous");

    // Writing to a tensor that a record saved makes its backward fail, naming the op.
    Tensor x = tensor({1, 2, 3});
    Tensor y = (x * w).sum();
    x.fill_(0);
    CHECK_ERROR_CONTAINS(y.backward(), "backward of 'mul'", "modified in place", "version 0, now 1");
}

TEST_CASE("a custom op whose backward returns a wrong shape is named in the error") {
    Tensor x = ones({2, 3}, f64).requires_grad_();
    Tensor y = x.detach().clone();
    autograd::record("test_my_op", {x}, {y}, [](const autograd::Gradients&) { return autograd::Gradients{ones({3, 2}, f64)}; });
    CHECK_ERROR_CONTAINS(y.sum().backward(), "backward of 'test_my_op'", "[3, 2]", "input 0", "[2, 3]");
    Tensor z = x.detach().clone();
    autograd::record(std::string("test_built_") + "name", {x}, {z}, [](const autograd::Gradients& g) { return g; });
    CHECK(z.grad_fn_name() == "test_built_name");  // the record owns its name
}

TEST_CASE("a post-accumulate-grad hook runs once per backward, when the leaf's gradient is complete") {
    Tensor w = tensor({1, 2}, f64).requires_grad_();
    Tensor v = tensor({3}, f64).requires_grad_();
    std::vector<std::string> events;
    std::vector<std::vector<double>> seen;
    HookHandle on_w = w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
        events.push_back("w");
        seen.push_back(values(leaf.grad()));
    });
    HookHandle on_v = v.register_post_accumulate_grad_hook([&](const Tensor&) {
        events.push_back("v");
        autograd::queue_callback([&] { events.push_back("end"); });
    });
    // w reaches the loss by three paths; its hook must see their sum, not a part.
    const Tensor y = (w * 2.0).sum() + (w * w).sum() * v.sum() + w.exp().sum();
    y.backward();
    REQUIRE(seen.size() == 1);
    for (std::size_t i = 0; i < 2; ++i) {
        const double x = i + 1.0;
        CHECK(seen[0][i] == doctest::Approx(2 + 2 * x * 3 + std::exp(x)).epsilon(1e-12));
    }
    CHECK(events.size() == 3);
    CHECK(events.back() == "end");  // after every hook of the pass
    // A backward that does not reach v leaves its hook alone; one whose path to v returns no gradient
    // still tells it, at the end.
    events.clear();
    (w * 3.0).sum().backward();
    CHECK(events == std::vector<std::string>{"w"});
    events.clear();
    Tensor z = v.detach().clone();
    autograd::record("test_no_gradient", {v}, {z}, [](const autograd::Gradients&) { return autograd::Gradients{Tensor()}; });
    (z.sum() + (w * 1.0).sum()).backward();
    CHECK(events == std::vector<std::string>{"w", "v", "end"});
    // Removed with its handle.
    on_w = HookHandle();
    events.clear();
    (w * v).sum().backward();
    CHECK(events == std::vector<std::string>{"v", "end"});
    CHECK_ERROR_CONTAINS(static_cast<void>((w * 2.0).register_post_accumulate_grad_hook([](const Tensor&) {})), "leaf");
    CHECK_ERROR_CONTAINS(autograd::queue_callback([] {}), "inside a backward()");
}

TEST_CASE("backward frees the records and their saved tensors") {
    const std::int64_t records_before = autograd::live_records();
    const std::size_t bytes_before = memory::stats().live_bytes;
    Tensor w = randn({64, 64}, f64).requires_grad_();
    {
        Tensor y = w;
        for (int i = 0; i < 10; ++i) y = ops::tanh(y.matmul(w));
        Tensor loss = y.sum();
        CHECK(autograd::live_records() > records_before + 10);
        loss.backward();
        // y and loss still hold their own (released) records; every other one is gone.
        CHECK(autograd::live_records() == records_before + 2);
    }
    CHECK(autograd::live_records() == records_before);
    w.set_grad(Tensor());
    w = Tensor();
    CHECK(memory::stats().live_bytes == bytes_before);
}

TEST_CASE("a graph that is never backpropagated is freed with its tensors") {
    const std::int64_t records_before = autograd::live_records();
    Tensor x = ones({8}).requires_grad_();
    {
        Tensor y = (x * 2.0).exp().sum();
        CHECK(autograd::live_records() == records_before + 3);
    }
    CHECK(autograd::live_records() == records_before);
}

TEST_CASE("memory does not grow over 1,000 training steps") {
    Generator gen(3);
    Tensor x = randn({64, 16}, f32, gen);
    Tensor target = randn({64, 1}, f32, gen);
    Tensor w1 = (randn({16, 32}, f32, gen) * 0.25).detach().requires_grad_();
    Tensor w2 = (randn({32, 1}, f32, gen) * 0.25).detach().requires_grad_();
    const std::int64_t records_before = autograd::live_records();
    std::size_t bytes_at_10 = 0, bytes_at_999 = 0;
    double first_loss = 0, last_loss = 0;
    for (int step = 0; step < 1000; ++step) {
        Tensor error = ops::relu(x.matmul(w1)).matmul(w2) - target;
        Tensor loss = (error * error).mean();
        loss.backward();
        last_loss = loss.item<double>();
        if (step == 0) first_loss = last_loss;
        {
            NoGradGuard no_grad;
            for (Tensor* p : {&w1, &w2}) {
                p->add_(p->grad(), -0.05);
                p->grad().zero_();
            }
        }
        if (step == 10) bytes_at_10 = memory::stats().live_bytes;
        if (step == 999) bytes_at_999 = memory::stats().live_bytes;
    }
    CHECK(last_loss < first_loss);
    CHECK(bytes_at_999 == bytes_at_10);
    CHECK(autograd::live_records() == records_before);
}

TEST_CASE("detect_anomaly names the op whose output first goes non-finite") {
    const Tensor x = tensor({1, 0, 2}, f64).requires_grad_();
    CHECK_FALSE(is_anomaly_enabled());
    CHECK(std::isinf(ops::log(x).to_vector()[1]));  // off by default: -inf passes silently
    DetectAnomalyGuard anomaly;
    CHECK(is_anomaly_enabled());
    const Tensor y = x * 2;  // finite: no error
    CHECK_ERROR_CONTAINS(ops::log(y), "detect_anomaly: 'log' (record ", "-Inf at element 1 in output 0 ([3] f64)",
                         "its inputs: [3] f64", "this op made the first non-finite value");
    // A NaN that no checked op computed is traced to the input that brought it in.
    const Tensor data = tensor({1, NAN}, f64);
    CHECK_ERROR_CONTAINS(ops::exp(data), "'exp' (not on the tape", "NaN at element 1", "input 0 already holds NaN at element 1");
}

TEST_CASE("detect_anomaly names the backward that first returns a non-finite gradient") {
    DetectAnomalyGuard anomaly;
    auto sqrt_sum = [] {  // sqrt(0) = 0 is finite; its derivative 1 / (2·0) is not
        Tensor x = tensor({4, 0}, f64).requires_grad_();
        ops::sqrt(x).sum().backward();
        return x.grad();
    };
    CHECK_ERROR_CONTAINS(sqrt_sum(), "detect_anomaly: the backward of 'sqrt' (record ", "Inf at element 1 in the gradient for input 0 ([2] f64)",
                         "the op's inputs: [2] f64", "its backward made the first non-finite value");
    {
        DetectAnomalyGuard off(false);
        CHECK(std::isinf(sqrt_sum().to_vector()[1]));
    }
    CHECK(is_anomaly_enabled());  // the inner guard restored the outer setting
}

}  // TEST_SUITE
