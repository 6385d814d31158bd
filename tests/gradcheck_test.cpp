// gradcheck: the walk over the op table, and gradcheck's own behaviour (its failure report on a
// deliberately wrong backward, and the inputs it refuses).
#include <cmath>
#include <set>

#include <nyx/autograd/record.hpp>
#include "op_table.hpp"

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
    autograd::record("test_wrong_square", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& g) {
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

TEST_CASE("every op in the op table passes gradgradcheck on every sample") {
    Generator gen(20261201);
    for (const ops::OpInfo& op : ops::op_table()) {
        for (ops::OpSample& sample : op.samples(gen)) {
            for (std::size_t i = 0; i < sample.inputs.size(); ++i)
                if (op.differentiable[i]) sample.inputs[i].requires_grad_();
            INFO(op.name, ": ", sample.label);
            CHECK(gradgradcheck(sample.call, sample.inputs));
        }
    }
}

TEST_CASE("gradgradcheck reports a wrong second derivative, naming the gradient, the input and the element") {
    // y = x², whose backward is right but treats x as a constant: d(grad)/dx is lost, d(grad)/dv kept.
    auto square = [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        Tensor y;
        {
            NoGradGuard no_grad;
            y = x * x;
        }
        autograd::record("test_square_once", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& g) {
            return autograd::Gradients{g[0] * 2.0 * x.get().detach()};
        });
        return y;
    };
    const Tensor x = tensor({1.0, -2.0, 0.5}, f64).requires_grad_();
    CHECK(gradcheck(square, {x}));
    const GradcheckResult result = gradgradcheck(square, {x});
    CHECK_FALSE(result.ok);
    CHECK(result.report.find("gradgradcheck failed: d(grad of input 0)/d(input 0)") != std::string::npos);
    CHECK(result.report.find("numerical") != std::string::npos);
    CHECK(gradgradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}));
}

TEST_CASE("an op whose backward records nothing names itself when a second derivative is asked of it") {
    // y = x², its gradient computed by a kernel-like step under NoGradGuard: no history at all.
    auto square = [](const Tensor& x) {
        Tensor y;
        {
            NoGradGuard no_grad;
            y = x * x;
        }
        autograd::record("test_square_once", {x}, {y}, [x = autograd::saved(x)](const autograd::Gradients& g) {
            NoGradGuard no_grad;
            return autograd::Gradients{g[0] * 2.0 * x.get()};
        });
        return y;
    };
    const Tensor x = tensor({1.0, -2.0, 0.5}, f64).requires_grad_();
    CHECK(gradcheck([&](const std::vector<Tensor>& in) { return square(in[0]); }, {x}));
    CHECK_ERROR_CONTAINS(gradgradcheck([&](const std::vector<Tensor>& in) { return square(in[0]); }, {x}),
                         "op 'test_square_once' has no double backward", "recording_backward");
    // Also within a larger graph, where the incoming gradient has history (from the square after it).
    const Tensor loss = square(x).pow(2).sum();
    CHECK_ERROR_CONTAINS(autograd::grad({loss}, {x}, {}, {}, /*create_graph=*/true), "op 'test_square_once'", "no double backward");
    // A first derivative alone is fine.
    CHECK(autograd::grad({square(x).pow(2).sum()}, {x})[0].defined());
}

TEST_CASE("every module and model of the library records only ops in the op table, forward and backward") {
    // The test binaries refuse an unlisted op anywhere (op_table.hpp); this case makes sure every
    // module runs at least once, in both precisions' paths, so that none can hide one.
    std::set<std::string> listed{"to"};
    for (const ops::OpInfo& op : ops::op_table()) listed.insert(op.name);
    std::set<std::string> seen;
    auto run = [&](const char* what, const Tensor& out) {
        INFO(what);
        const Tensor loss = out.to(f64).sum();
        for (const std::string& name : recorded_ops(loss)) {
            CHECK_MESSAGE(listed.count(name), "'", name, "' is recorded but not in the op table");
            seen.insert(name);
        }
        loss.backward();
    };
    Generator g(5);
    const Tensor x = randn({2, 6, 8}, f32, g);
    Tensor mask = ones({2, 6});
    mask.narrow(0, 1, 1).narrow(1, 4, 2).fill_(0);
    const Tensor ids = randint(1, 17, {2, 6}, g), labels = randint(0, 3, {2}, g);
    for (const bool autocast : {false, true}) {
        AutocastGuard scope(autocast);
        run("Linear", nn::Linear(8, 4, {}, g).forward(x));
        run("Embedding", nn::Embedding(17, 8, 0).forward(ids));
        run("LayerNorm", nn::LayerNorm(Shape{8}).forward(x.detach().requires_grad_()));
        run("Dropout", nn::Dropout(0.5, g).forward(x.detach().requires_grad_()));
        run("GELU, both forms", nn::GELU().forward(x.detach().requires_grad_()) + nn::GELU(ops::GeluApproximation::tanh).forward(x.detach().requires_grad_()));
        run("ReLU in a Sequential", nn::Sequential({std::make_shared<nn::Linear>(8, 8, nn::LinearOptions{}, g), std::make_shared<nn::ReLU>()}).forward(x));
        for (const nn::AttentionOptions& attention :
             {nn::AttentionOptions(nn::SoftmaxOptions{.dropout = 0.1}), nn::AttentionOptions(nn::NystromOptions{.landmarks = 4, .conv_kernel = 3}),
              nn::AttentionOptions(nn::NystromOptions{.landmarks = 4, .pinv_start = nn::PinvStart::per_matrix, .conv_kernel = 0}),
              nn::AttentionOptions(nn::NystromOptions{.landmarks = 8})}) {
            run("MultiHeadAttention", nn::MultiHeadAttention(8, 2, 4, attention, f32, g).forward(x, mask));
            run("TransformerBlock", nn::TransformerBlock({.dim = 8, .heads = 2, .head_dim = 4, .hidden = 12, .attention = attention}, g)(x, mask));
            models::EncoderClassifier model({.vocab = 17, .max_len = 6, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 12, .layers = 1,
                                             .attention = attention}, 3, g);
            run("EncoderClassifier and its loss", ops::cross_entropy(model(ids, mask), labels));
            models::EncoderClassifier patches({.input_features = 8, .max_len = 6, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 12,
                                               .layers = 1, .attention = attention}, 3, g);
            run("EncoderClassifier on feature vectors", patches(x, mask));
        }
    }
    for (const char* name : {"linear", "embedding", "layer_norm", "dropout", "gelu", "relu", "softmax", "segment_mean",
                             "depthwise_conv1d", "matmul", "cross_entropy", "amax"})
        CHECK_MESSAGE(seen.count(name), name, " was never recorded: is the list of modules above complete?");
}

TEST_CASE("the test binaries refuse to record an op that the op table does not list") {
    const Tensor x = ones({2}, f64).requires_grad_();
    const Tensor y = x.detach().clone();
    CHECK_ERROR_CONTAINS(autograd::record("softplus", {x}, {y}, [](const autograd::Gradients& g) { return g; }), "'softplus'",
                         "tests/op_table.cpp", "register it");
    CHECK_FALSE(y.requires_grad());  // refused before anything was recorded
}

TEST_CASE("the op table covers the ops of this release") {
    std::set<std::string> names;
    for (const ops::OpInfo& op : ops::op_table()) names.insert(op.name);
    for (const char* name :
         {"add", "sub", "mul", "div", "maximum", "minimum", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow", "erf", "sigmoid",
          "tanh", "relu", "gelu", "clamp", "where", "masked_fill", "sum", "mean", "max", "min", "amax", "amin", "var",
          "logsumexp", "matmul", "linear", "view", "reshape", "flatten", "transpose", "permute", "slice", "select", "expand",
          "squeeze", "unsqueeze", "split", "contiguous", "clone", "concat", "stack", "pad", "index_select", "gather",
          "softmax", "log_softmax", "layer_norm", "embedding", "cross_entropy", "dropout", "depthwise_conv1d", "segment_mean", "max_over_ranks", "mse_loss", "l1_loss", "smooth_l1_loss",
          "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss"})
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
