// gradcheck: the walk over the op table, and gradcheck's own behaviour (its failure report on a
// deliberately wrong backward, and the inputs it refuses).
#include <cmath>
#include <set>

#include <nyx/autograd/record.hpp>
#include <nyx/ops/op_table.hpp>

#include "test_util.hpp"

using namespace nyx;

namespace {

// y = x², recorded with a wrong backward (dx = dy * x instead of 2 * dy * x).
Tensor wrong_square(const Tensor& x) {
    Tensor y;
    {
        NoGradGuard no_grad;
        y = x * x;
    }
    autograd::record("wrong_square", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& g) {
        return autograd::Gradients{g[0] * x};
    });
    return y;
}

}  // namespace

TEST_SUITE("gradcheck") {

// The names of the ops recorded in the graph that produced t.
std::set<std::string> recorded_ops(const Tensor& t) {
    std::set<std::string> names;
    std::vector<const autograd::Record*> todo;
    if (t.impl()->grad_fn) todo.push_back(t.impl()->grad_fn.get());
    while (!todo.empty()) {
        const autograd::Record* r = todo.back();
        todo.pop_back();
        names.insert(r->op);
        for (const autograd::Edge& edge : r->inputs)
            if (edge.record) todo.push_back(edge.record.get());
    }
    return names;
}

TEST_CASE("every op in the op table passes gradcheck on every sample") {
    Generator gen(20261128);
    std::set<std::string> names;
    for (const ops::OpInfo& op : ops::op_table()) names.insert(op.name);
    CHECK_MESSAGE(names.size() == ops::op_table().size(), "an op is registered twice");
    // `to` is the one differentiable op outside the table (see ops/README.md); its gradient is tested exactly.
    std::set<std::string> allowed = names;
    allowed.insert("to");

    for (const ops::OpInfo& op : ops::op_table()) {
        std::vector<ops::OpSample> samples = op.samples(gen);
        CHECK_MESSAGE(samples.size() >= 2, op.name, " needs samples of several shapes");
        for (ops::OpSample& sample : samples) {
            REQUIRE(sample.inputs.size() == op.differentiable.size());
            for (std::size_t i = 0; i < sample.inputs.size(); ++i)
                if (op.differentiable[i]) sample.inputs[i].requires_grad_();
            INFO(op.name, ": ", sample.label);
            const Tensor out = sample.call(sample.inputs);
            CHECK(out.requires_grad());
            // Whatever the op records on the tape is itself a registered, checked op.
            for (const std::string& recorded : recorded_ops(out))
                CHECK_MESSAGE(allowed.count(recorded), "'", recorded, "' is recorded but not in the op table");
            CHECK(gradcheck(sample.call, sample.inputs));
            // The same with a transposed incoming gradient: backward closures must not assume contiguity.
            if (out.dim() >= 2) {
                auto call = sample.call;
                CHECK(gradcheck([call](const std::vector<Tensor>& x) { return call(x).transpose(0, -1); }, sample.inputs));
            }
        }
    }
}

TEST_CASE("the op table covers the ops of this release") {
    std::set<std::string> names;
    for (const ops::OpInfo& op : ops::op_table()) names.insert(op.name);
    for (const char* name :
         {"add", "sub", "mul", "div", "maximum", "minimum", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow", "erf", "sigmoid",
          "tanh", "relu", "gelu", "clamp", "where", "masked_fill", "sum", "mean", "max", "min", "amax", "amin", "var",
          "logsumexp", "matmul", "linear", "view", "reshape", "flatten", "transpose", "permute", "slice", "select", "expand",
          "squeeze", "unsqueeze", "split", "contiguous", "clone", "concat", "stack", "pad", "index_select", "gather",
          "softmax", "log_softmax", "layer_norm", "embedding", "cross_entropy", "dropout", "depthwise_conv1d", "segment_mean", "max_over_ranks"})
        CHECK_MESSAGE(names.count(name), name, " is missing from the op table");
}

TEST_CASE("gradcheck passes a composite of several ops and inputs") {
    Generator gen(1);
    Tensor x = randn({4, 3}, f64, gen).requires_grad_();
    Tensor w = randn({3, 5}, f64, gen).requires_grad_();
    Tensor b = randn({5}, f64, gen).requires_grad_();
    auto mlp = [](const std::vector<Tensor>& in) { return (ops::tanh(in[0].matmul(in[1]) + in[2]) * 2.0).mean({0}); };
    CHECK(gradcheck(mlp, {x, w, b}));
    CHECK_FALSE(x.grad().defined());  // gradcheck leaves the inputs' gradients as it found them
    Tensor before = ones({5}, f64);
    b.set_grad(before);
    CHECK(gradcheck(mlp, {x, w, b}));
    CHECK(b.grad().is_same(before));
}

TEST_CASE("gradcheck puts a perturbed element back when the function throws") {
    Tensor x = tensor({1, 2}, f64).requires_grad_();
    int calls = 0;
    auto flaky = [&calls](const std::vector<Tensor>& in) {
        if (++calls == 2) throw Error("flaky");  // the first perturbed evaluation
        return in[0] * 2.0;
    };
    CHECK_THROWS_AS(gradcheck(flaky, {x}), Error);
    CHECK(values(x) == std::vector<double>{1, 2});
}

TEST_CASE("gradcheck reports a wrong backward with the input, the element and both values") {
    Tensor x = tensor({0.5, -1.0, 2.0}, f64).requires_grad_();
    const GradcheckResult result = gradcheck([](const std::vector<Tensor>& in) { return wrong_square(in[0]); }, {x});
    CHECK_FALSE(result);
    // The worst element is x = 2: numerical 4, analytical 2.
    for (const char* part : {"gradcheck failed", "input 0", "input element [2]", "output element [2]", "numerical 4",
                             "analytical 2"})
        CHECK_MESSAGE(result.report.find(part) != std::string::npos, "missing \"", part, "\" in: ", result.report);
}

TEST_CASE("gradcheck refuses inputs it cannot check honestly") {
    auto f = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
    Tensor x32 = ones({2}, f32).requires_grad_();
    CHECK_ERROR_CONTAINS(gradcheck(f, {x32}), "gradcheck", "input 0 is f32", "f64", ".to(nyx::f64)");
    CHECK_ERROR_CONTAINS(gradcheck(f, {ones({2}, f64)}), "gradcheck", "no input requires grad");
    Tensor expanded = ones({1}, f64).expand({3}).detach().requires_grad_();
    CHECK_ERROR_CONTAINS(gradcheck(f, {expanded}), "gradcheck", "share memory", "contiguous()");
    Tensor overlapping = ones({8}, f64).as_strided({3, 4}, {2, 1}, 0).requires_grad_();
    CHECK_ERROR_CONTAINS(gradcheck(f, {overlapping}), "gradcheck", "[3, 4]", "share memory");
    Tensor base = ones({4}, f64);
    Tensor first = base.detach().requires_grad_(), second = base.slice(0, 2, 4).detach().requires_grad_();
    auto g = [](const std::vector<Tensor>& in) { return in[0].sum() + in[1].sum(); };
    CHECK_ERROR_CONTAINS(gradcheck(g, {first, second}), "gradcheck", "input 1", "earlier input");
}

}  // TEST_SUITE
