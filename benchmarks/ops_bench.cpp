// ops_bench: Google Benchmark micro-benchmarks of the operators at the shapes of the LRA model
// (batch 8, n = 2048, dim 64, 2 heads × 32, hidden 128, 64 landmarks), f32.
//
//   ops_bench [Google Benchmark flags]      runs them (threads: NYX_NUM_THREADS, default all cores)
//   ops_bench --cases                       prints the cases as JSON, so that benchmarks/torch_ops.py
//                                           runs the same shapes through PyTorch
//
// Each case reports GFLOP/s (matrix products) or GB/s (the rest: bytes read and written once).
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <nyx/nyx.hpp>

using namespace nyx;

namespace {

struct Case {
    std::string name;
    std::string kind;               // what torch_ops.py builds: matmul, linear, softmax, ...
    std::vector<Shape> shapes;      // the operands' shapes
    bool backward;                  // forward and backward, or forward only
    std::string options;            // kind-specific, e.g. "transpose_b"
    double flops, bytes;            // per run, for the rates
};

double f32_bytes(std::initializer_list<double> counts) {
    double total = 0;
    for (double c : counts) total += c * 4;
    return total;
}

std::vector<Case> cases() {
    const double rows = 8 * 2048;  // tokens in a batch
    std::vector<Case> out;
    auto linear = [&](std::string name, double in, double outs) {
        out.push_back({name, "linear", {{8 * 2048, static_cast<std::int64_t>(in)}, {static_cast<std::int64_t>(outs), static_cast<std::int64_t>(in)},
                                        {static_cast<std::int64_t>(outs)}}, false, "", 2 * rows * in * outs, 0});
    };
    linear("linear/qkv_projection [16384,64]x[64,64]", 64, 64);
    linear("linear/mlp_up [16384,64]x[128,64]", 64, 128);
    linear("linear/mlp_down [16384,128]x[64,128]", 128, 64);
    auto batched = [&](std::string name, Shape a, Shape b, std::string options) {
        const double m = a[1], k = a[2], n = options == "transpose_b" ? b[1] : b[2];
        out.push_back({name, "matmul", {a, b}, false, options, 2 * 16 * m * n * k, 0});
    };
    batched("matmul/nystrom_q_klandmarks [16,2048,32]x[16,64,32]^T", {16, 2048, 32}, {16, 64, 32}, "transpose_b");
    batched("matmul/nystrom_qlandmarks_k [16,64,32]x[16,2048,32]^T", {16, 64, 32}, {16, 2048, 32}, "transpose_b");
    batched("matmul/nystrom_kernel_v [16,64,2048]x[16,2048,32]", {16, 64, 2048}, {16, 2048, 32}, "");
    batched("matmul/nystrom_f_z [16,2048,64]x[16,64,64]", {16, 2048, 64}, {16, 64, 64}, "");
    batched("matmul/softmax_scores [16,2048,32]x[16,2048,32]^T", {16, 2048, 32}, {16, 2048, 32}, "transpose_b");
    for (bool backward : {false, true}) {
        const std::string suffix = backward ? " fwd+bwd" : " fwd";
        const double passes = backward ? 5 : 2;  // forward reads x, writes y; backward reads y (or x) and dy, writes dx
        out.push_back({"softmax/rows_of_64 [32768,64]" + suffix, "softmax", {{32768, 64}}, backward, "", 0, f32_bytes({passes * 32768 * 64})});
        out.push_back({"softmax/rows_of_2048 [1024,2048]" + suffix, "softmax", {{1024, 2048}}, backward, "", 0, f32_bytes({passes * 1024 * 2048})});
        out.push_back({"layer_norm [16384,64]" + suffix, "layer_norm", {{16384, 64}, {64}, {64}}, backward, "", 0, f32_bytes({passes * rows * 64})});
        out.push_back({"gelu [16384,128]" + suffix, "gelu", {{16384, 128}}, backward, "", 0, f32_bytes({passes * rows * 128})});
        out.push_back({"cross_entropy [4096,1000]" + suffix, "cross_entropy", {{4096, 1000}}, backward, "", 0,
                       f32_bytes({(backward ? 3.0 : 1.0) * 4096 * 1000})});
        out.push_back({"cross_entropy/lra [32,10]" + suffix, "cross_entropy", {{32, 10}}, backward, "", 0, f32_bytes({(backward ? 3.0 : 1.0) * 320})});
        out.push_back({"embedding [8,2048] from [1000,64]" + suffix, "embedding", {{8, 2048}, {1000, 64}}, backward, "", 0,
                       f32_bytes({(backward ? 2.0 : 2.0) * rows * 64})});
    }
    return out;
}

// The work of one run of a case, with its inputs made once.
std::function<void()> prepare(const Case& c) {
    Generator gen(1);
    auto leaf = [&](const Shape& s) { return c.backward ? randn(s, f32, gen).requires_grad_() : randn(s, f32, gen); };
    if (c.kind == "linear") {
        Tensor x = randn(c.shapes[0], f32, gen), w = randn(c.shapes[1], f32, gen), b = randn(c.shapes[2], f32, gen);
        return [=] { benchmark::DoNotOptimize(ops::linear(x, w, b)); };
    }
    if (c.kind == "matmul") {
        Tensor a = randn(c.shapes[0], f32, gen), b = randn(c.shapes[1], f32, gen);
        if (c.options == "transpose_b") b = b.transpose(-1, -2);
        return [=] { benchmark::DoNotOptimize(a.matmul(b)); };
    }
    std::function<Tensor()> forward;
    Tensor input;
    if (c.kind == "softmax") {
        input = leaf(c.shapes[0]);
        forward = [=] { return ops::softmax(input, -1); };
    } else if (c.kind == "layer_norm") {
        input = leaf(c.shapes[0]);
        Tensor w = leaf(c.shapes[1]), b = leaf(c.shapes[2]);
        forward = [=] { return ops::layer_norm(input, {c.shapes[1][0]}, w, b); };
    } else if (c.kind == "gelu") {
        input = leaf(c.shapes[0]);
        forward = [=] { return ops::gelu(input); };
    } else if (c.kind == "cross_entropy") {
        input = leaf(c.shapes[0]);
        Tensor targets = randint(0, c.shapes[0][1], {c.shapes[0][0]}, gen);
        forward = [=] { return ops::cross_entropy(input, targets); };
    } else if (c.kind == "embedding") {
        Tensor ids = randint(0, c.shapes[1][0], c.shapes[0], gen);
        input = leaf(c.shapes[1]);
        forward = [=] { return ops::embedding(ids, input); };
    }
    if (!c.backward) return [=] { benchmark::DoNotOptimize(forward()); };
    Tensor grad;
    {
        NoGradGuard no_grad;
        grad = ones_like(forward());
    }
    return [=] {
        Tensor y = forward();
        y.backward(y.dim() == 0 ? Tensor() : grad);
    };
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--cases") == 0) {
        std::printf("[\n");
        const std::vector<Case> all = cases();
        for (std::size_t i = 0; i < all.size(); ++i) {
            const Case& c = all[i];
            std::string shapes;
            for (const Shape& s : c.shapes) shapes += (shapes.empty() ? "" : ", ") + to_string(s);
            std::printf("  {\"name\": \"%s\", \"kind\": \"%s\", \"shapes\": [%s], \"backward\": %s, \"options\": \"%s\", "
                        "\"flops\": %.0f, \"bytes\": %.0f}%s\n",
                        c.name.c_str(), c.kind.c_str(), shapes.c_str(), c.backward ? "true" : "false", c.options.c_str(),
                        c.flops, c.bytes, i + 1 < all.size() ? "," : "");
        }
        std::printf("]\n");
        return 0;
    }
    for (const Case& c : cases()) {
        benchmark::RegisterBenchmark(c.name.c_str(), [c](benchmark::State& state) {
            const std::function<void()> run = prepare(c);
            for (auto _ : state) run();
            if (c.flops > 0) state.counters["GFLOP/s"] = benchmark::Counter(c.flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
            if (c.bytes > 0) state.counters["GB/s"] = benchmark::Counter(c.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
        })->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    std::printf("nyx ops_bench: %d threads\n", num_threads());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
