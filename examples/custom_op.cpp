// A differentiable op of your own, written outside the library: softplus(x) = log(1 + eˣ), with its
// forward kernel and its backward side by side, checked by nyx's gradcheck and gradgradcheck in f64.
// Run: ./custom_op   (exits 1 if a check fails)
//
// Why a kernel and not a composite? ops::log(1 + ops::exp(x)) overflows to infinity once eˣ does
// (x > 88 in f32), and nyx has no log1p op; a loop of our own computes it stably. This is the
// pattern of every op in ops/*.cpp: compute the forward, then autograd::record(...) the backward.
// Inside the library an op is also registered in tests/op_table.cpp, and the gradcheck suite checks
// it; outside, a gradcheck like the one below is the op's test.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <nyx/nyx.hpp>

using namespace nyx;

// y = softplus(x) = log(1 + eˣ) = max(x, 0) + log(1 + e^(-|x|))   (the right form never overflows)
Tensor softplus(const Tensor& x) {
    // Forward: a plain loop over a contiguous copy of x's values. detach() first, so that reading
    // x records nothing on the tape: this op records itself, once, below.
    const Tensor input = x.detach().contiguous();
    Tensor y = empty(x.shape(), x.dtype());
    dispatch_floating(x.dtype(), "softplus", [&]<class T>() {  // T is float or double; i64 is an error
        const T* in = input.data<T>();
        T* out = y.data<T>();
        const std::int64_t count = x.numel();
        for (std::int64_t i = 0; i < count; ++i) out[i] = std::max(in[i], T(0)) + std::log1p(std::exp(-std::abs(in[i])));
    });
    // Backward: dx = dy · σ(x), since d/dx log(1 + eˣ) = eˣ / (1 + eˣ).
    // The closure keeps only what it needs (x, as autograd::Saved, which notices in-place writes).
    // It runs with recording off, so it may use nyx's ops; dy may be any view, and ops handle that.
    // For higher-order gradients (backward(create_graph), autograd::grad) it runs with recording on,
    // so these ops record and the gradient can be differentiated again (step 5 checks it). A
    // backward written with a loop of its own would need a branch on autograd::recording_backward()
    // computing the same thing with ops; without one, its second derivative is lost (an error
    // naming the op inside a larger graph; gradgradcheck, step 5, finds it anywhere).
    autograd::record("softplus", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& grads) {
        const Tensor& dy = grads[0];
        return autograd::Gradients{dy * ops::sigmoid(x)};  // one gradient per input
    });
    return y;
}

// The same forward with a slip in the backward (σ(-x) for σ(x)): what gradcheck reports then.
Tensor softplus_with_wrong_backward(const Tensor& x) {
    Tensor y = softplus(x.detach());
    autograd::record("softplus_wrong", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& grads) {
        return autograd::Gradients{grads[0] * ops::sigmoid(-x)};
    });
    return y;
}

int run() {
    Generator gen(3);
    bool ok = true;

    // 1. The op sits on the tape like any built-in one.
    Tensor x = (randn({2, 3}, f32, gen) * 4.0).requires_grad_();
    Tensor y = softplus(x);
    std::cout << "x = " << x << "\nsoftplus(x) = " << y << "\nrecorded as '" << y.grad_fn_name() << "'\n";
    y.sum().backward();
    std::cout << "d sum(softplus(x)) / dx = " << x.grad() << "\n";

    // 2. gradcheck only compares the backward with the forward; the forward itself needs an oracle.
    //    Where nothing overflows, the composite log(1 + eˣ) is one (in f64, to rounding).
    const Tensor moderate = randn({100}, f64, gen) * 5.0;
    const double forward_error = ops::amax(ops::abs(softplus(moderate) - ops::log(1.0 + ops::exp(moderate)))).item<double>();
    std::printf("forward against the composite: max |difference| %.3g\n", forward_error);
    ok = ok && forward_error < 1e-12;
    // ... and where the composite overflows (x = 100 in f32), the kernel still gives x.
    const double large = softplus(scalar(100.0)).item<double>();
    std::printf("softplus(100) in f32 = %g (the composite gives %g)\n", large, ops::log(1.0 + ops::exp(scalar(100.0))).item<double>());
    ok = ok && large == 100.0;

    // 3. gradcheck: the tape's Jacobian against central differences, in f64 (f32 is refused).
    //    The second function feeds softplus a transposed view and mixes it with a broadcast
    //    product, so the op is also checked inside a larger graph.
    Tensor a = (randn({4, 5}, f64, gen) * 3.0).requires_grad_();
    Tensor b = randn({4}, f64, gen).requires_grad_();
    const GradcheckResult alone = gradcheck([](const std::vector<Tensor>& in) { return softplus(in[0]); }, {a});
    const GradcheckResult in_graph = gradcheck(
        [](const std::vector<Tensor>& in) { return (softplus(in[0].transpose(0, 1)) * in[1]).sum({0}); }, {a, b});
    std::cout << "gradcheck softplus(a):             " << alone << "\n";
    std::cout << "gradcheck sum(softplus(aᵀ) * b, 0): " << in_graph << "\n";
    ok = ok && alone && in_graph;

    // 4. A gradcheck that could not fail would prove nothing: the slipped backward must fail.
    const GradcheckResult wrong = gradcheck([](const std::vector<Tensor>& in) { return softplus_with_wrong_backward(in[0]); }, {a});
    std::cout << "gradcheck of the wrong backward:   " << wrong << "\n";
    ok = ok && !wrong;

    // 5. gradgradcheck: the backward's own derivatives (with respect to a and to the incoming
    //    gradient), which higher-order code such as a Hessian-vector product relies on.
    const GradcheckResult twice = gradgradcheck([](const std::vector<Tensor>& in) { return softplus(in[0]); }, {a});
    std::cout << "gradgradcheck softplus(a):         " << twice << "\n";
    ok = ok && twice;

    std::printf("%s\n", ok ? "all checks passed" : "a check FAILED");
    return ok ? 0 : 1;
}

int main() {
    try {
        return run();
    } catch (const nyx::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
