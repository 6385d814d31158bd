// bf16 and mixed precision: the dtype (core), the products' backends and autocast (ops), and a
// model trained under autocast (nn). autograd/autocast.hpp has the policy these check.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "test_util.hpp"

#include <nyx/core/blas.hpp>
#include <nyx/core/onednn.hpp>
#include <nyx/core/vector_math.hpp>

using namespace nyx;

namespace {

std::uint16_t bits_of(float value) { return bfloat16(value).bits; }
float from_bits(std::uint16_t bits) { return static_cast<float>(std::bit_cast<bfloat16>(bits)); }

// x with every element rounded to bf16 and back to f32.
Tensor rounded(const Tensor& x) { return x.detach().to(bf16).to(f32); }

double max_relative_difference(const Tensor& a, const Tensor& b) {
    const auto x = values(a), y = values(b);
    REQUIRE(x.size() == y.size());
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / std::max(1.0, std::abs(y[i])));
    return worst;
}

}  // namespace

TEST_SUITE("core") {

TEST_CASE("bf16 rounds to nearest, ties to even, and keeps infinities, NaN and signed zeros") {
    CHECK(bits_of(1.0f) == 0x3f80);
    CHECK(bits_of(1.0f + 0x1p-8f) == 0x3f80);         // halfway to the next bf16: ties to the even 1.0
    CHECK(bits_of(1.0f + 3 * 0x1p-8f) == 0x3f82);     // halfway, the upper neighbour is even
    CHECK(bits_of(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);  // just above halfway rounds up
    CHECK(bits_of(-2.5f) == 0xc020);
    CHECK(bits_of(-0.0f) == 0x8000);
    CHECK(from_bits(bits_of(std::numeric_limits<float>::max())) == INFINITY);  // beyond bf16's largest
    CHECK(from_bits(bits_of(-INFINITY)) == -INFINITY);
    CHECK(std::isnan(from_bits(bits_of(NAN))));
    CHECK(std::isnan(from_bits(bits_of(std::bit_cast<float>(0x7f800001U)))));  // a NaN whose payload is in the low bits only
    CHECK(from_bits(bits_of(0x1p-130f)) == 0x1p-130f);  // subnormals are kept
    CHECK(from_bits(bits_of(3.0e38f)) == doctest::Approx(3.0e38).epsilon(0.004));

    // The vectorised conversions give the scalar's bits, whatever the value.
    Generator gen(3);
    Tensor x = randn({4099}, f32, gen) * 1e3;
    float* p = x.data<float>();
    p[0] = NAN, p[1] = INFINITY, p[2] = -INFINITY, p[3] = -0.0f, p[4] = std::numeric_limits<float>::max(), p[5] = 0x1p-140f;
    std::vector<bfloat16> out(4099);
    std::vector<float> widened(4099);
    vmath::to_bf16(p, out.data(), 4099);
    vmath::round_to_bf16(p, widened.data(), 4099);
    for (int i = 0; i < 4099; ++i) {
        CHECK(out[i].bits == bits_of(p[i]));
        CHECK(std::bit_cast<std::uint32_t>(widened[i]) == static_cast<std::uint32_t>(bits_of(p[i])) << 16);
    }
}

TEST_CASE("bf16 tensors convert both ways, strided too, print, and save to safetensors as BF16") {
    const Tensor x = tensor({1, -2.5, 3.14159, 1e-3, 65504, 1e30}, {2, 3});
    const Tensor h = x.to(bf16);
    CHECK(h.dtype() == bf16);
    CHECK(h.numel() == 6);
    const std::vector<double> back = values(h);
    CHECK(back[0] == 1);
    CHECK(back[1] == -2.5);
    CHECK(back[2] == 3.140625);  // 8 significant bits
    CHECK(back[5] == doctest::Approx(1e30).epsilon(0.004));
    CHECK(values(x.transpose(0, 1).to(bf16)) == values(h.transpose(0, 1).to(f64)));  // the strided path agrees
    CHECK(h.narrow(1, 0, 2).to(i64).to_vector() == std::vector<double>{1, -2, 0, 65536});  // 65504 rounds up in bf16
    CHECK(values(tensor({7}, i64).to(bf16)) == std::vector<double>{7});
    CHECK(full({2}, 0.1, bf16).to_vector()[0] == static_cast<double>(from_bits(bits_of(0.1f))));
    CHECK(h.select(0, 1).select(0, 0).item<float>() == 0.00099945068359375f);
    CHECK(values(h.transpose(0, 1).contiguous()) == values(x.transpose(0, 1).to(bf16)));
    CHECK(h.to_string().find("dtype=bf16") != std::string::npos);
    CHECK(h.to_string().find("3.1406") != std::string::npos);

    const auto folder = scratch_folder("bf16_safetensors");
    const std::string path = (folder / "h.safetensors").string();
    io::save_safetensors(path, {{"h", h}});
    const std::string bytes = read_bytes(path);
    CHECK(bytes.find("\"BF16\"") != std::string::npos);
    const auto loaded = io::load_safetensors(path);
    REQUIRE(loaded.tensors.at("h").dtype() == bf16);
    CHECK(std::memcmp(loaded.tensors.at("h").raw_data(), h.raw_data(), 12) == 0);
    CHECK(loaded.tensors.at("h").shape() == Shape{2, 3});
}

}  // TEST_SUITE("core")

TEST_SUITE("errors") {

TEST_CASE("bf16 tensors refuse arithmetic and gradients with a message that says to convert") {
    const Tensor h = ones({3}).to(bf16);
    auto message = [](const auto& f) -> std::string {
        try {
            f();
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    for (const std::string& m : {message([&] { ops::exp(h); }), message([&] { (h + h); }), message([&] { ops::sum(h); }),
                                 message([&] { h.matmul(h); })}) {
        CHECK(m.find("bf16") != std::string::npos);
        CHECK(m.find(".to(nyx::f32)") != std::string::npos);
    }
    CHECK(message([&] { Tensor(h).requires_grad_(); }).find("autocast keeps parameters f32") != std::string::npos);
}

}  // TEST_SUITE("errors")

TEST_SUITE("ops") {

TEST_CASE("each GEMM backend gives the same products as OpenBLAS, every layout and shape class") {
    Generator gen(11);
    for (auto [m, n, k] : {std::array<std::int64_t, 3>{1, 1, 1}, {7, 5, 3}, {64, 64, 64}, {300, 17, 129}, {2048, 64, 64}}) {
        for (bool ta : {false, true}) {
            for (bool tb : {false, true}) {
                for (bool accumulate : {false, true}) {
                    const std::int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                    const Tensor a = randn({ta ? k : m, lda}, f32, gen), b = randn({tb ? n : k, ldb}, f32, gen);
                    const Tensor c0 = randn({m, ldc}, f32, gen);
                    Tensor expected = c0.clone(), got = c0.clone();
                    blas::openblas_gemm<float>(ta, tb, m, n, k, a.data<float>(), lda, b.data<float>(), ldb,
                                               accumulate ? 1.f : 0.f, expected.data<float>(), ldc);
                    blas::gemm<float>(ta, tb, m, n, k, a.data<float>(), lda, b.data<float>(), ldb, accumulate ? 1.f : 0.f,
                                      got.data<float>(), ldc);
                    INFO(m, "x", n, "x", k, " ta=", ta, " tb=", tb, " accumulate=", accumulate);
                    CHECK(max_relative_difference(got, expected) < 1e-5 * std::sqrt(static_cast<double>(k)));
                    // Padding columns past n are never written.
                    CHECK(values(got.narrow(1, n, 2)) == values(c0.narrow(1, n, 2)));
                    if (onednn::available()) {  // bf16 operands: the f32 product of the rounded values
                        const Tensor a16 = a.to(bf16), b16 = b.to(bf16);
                        Tensor wide = c0.clone(), low = c0.clone();
                        blas::gemm<float>(ta, tb, m, n, k, rounded(a).data<float>(), lda, rounded(b).data<float>(), ldb,
                                          accumulate ? 1.f : 0.f, wide.data<float>(), ldc);
                        blas::gemm(ta, tb, m, n, k, a16.data<bfloat16>(), lda, b16.data<bfloat16>(), ldb, accumulate ? 1.f : 0.f,
                                   low.data<float>(), ldc);
                        CHECK(max_relative_difference(low, wide) < 1e-5 * std::sqrt(static_cast<double>(k)));
                    }
                }
            }
        }
    }
    // k = 0: C = 0, or unchanged when accumulating; a beta other than 0 or 1 is refused.
    Tensor c = full({2, 3}, 5.0);
    const Tensor none = empty({2, 0});
    blas::gemm<float>(false, false, 2, 3, 0, none.data<float>(), 1, none.data<float>(), 3, 1.f, c.data<float>(), 3);
    CHECK(values(c) == std::vector<double>(6, 5.0));
    blas::gemm<float>(false, false, 2, 3, 0, none.data<float>(), 1, none.data<float>(), 3, 0.f, c.data<float>(), 3);
    CHECK(values(c) == std::vector<double>(6, 0.0));
    CHECK_THROWS_WITH_AS(blas::gemm<float>(false, false, 2, 3, 1, c.data<float>(), 3, c.data<float>(), 3, 0.5f, c.data<float>(), 3),
                         doctest::Contains("beta must be 0 or 1"), Error);
    CHECK(blas::backend_for(f64) == blas::Backend::openblas);
    const bool forced_openblas = std::getenv("NYX_GEMM") && std::string(std::getenv("NYX_GEMM")) == "openblas";
    CHECK(blas::backend_for(f32) == (onednn::available() && !forced_openblas ? blas::Backend::onednn : blas::Backend::openblas));
}

TEST_CASE("autocast multiplies bf16-rounded operands in f32, forward and backward, and leaves the rest alone") {
    Generator gen(5);
    const Tensor x = randn({3, 40, 24}, f32, gen).requires_grad_(), w = randn({16, 24}, f32, gen).requires_grad_();
    const Tensor bias = randn({16}, f32, gen).requires_grad_(), g = randn({3, 40, 16}, f32, gen);
    CHECK_FALSE(is_autocast_enabled());
    Tensor y;
    {
        AutocastGuard autocast;
        CHECK(is_autocast_enabled());
        y = ops::linear(x, w, bias);
        {
            AutocastGuard off(false);
            CHECK_FALSE(is_autocast_enabled());
            CHECK(max_relative_difference(ops::linear(x, w, bias), x.matmul(w.transpose(0, 1)) + bias) < 1e-5);
        }
        CHECK(is_autocast_enabled());
        std::thread([] { CHECK_FALSE(is_autocast_enabled()); }).join();  // per thread, as NoGradGuard
        // f64 products are left in f64, bit for bit.
        const Tensor a = randn({5, 7}, f64, gen), b = randn({7, 3}, f64, gen);
        const Tensor inside = a.matmul(b);
        AutocastGuard off(false);
        CHECK(values(inside) == values(a.matmul(b)));
    }
    CHECK_FALSE(is_autocast_enabled());
    CHECK(y.dtype() == f32);
    const Tensor expected = ops::linear(rounded(x), rounded(w), bias);
    CHECK(max_relative_difference(y, expected) < 1e-5);
    CHECK(max_relative_difference(y, ops::linear(x, w, bias)) > 1e-4);  // the rounding is real
    y.backward(g);
    // dx = round(g) · round(W), dW = round(g)ᵀ · round(x), db = Σ g in f32.
    const Tensor g2 = rounded(g).reshape({120, 16});
    CHECK(x.grad().dtype() == f32);
    CHECK(max_relative_difference(x.grad(), g2.matmul(rounded(w)).reshape({3, 40, 24})) < 1e-5);
    CHECK(max_relative_difference(w.grad(), g2.transpose(0, 1).matmul(rounded(x).reshape({120, 24}))) < 1e-5);
    CHECK(max_relative_difference(bias.grad(), g.sum({0, 1})) < 1e-6);

    // matmul, batched and broadcast, the same way.
    const Tensor q = randn({2, 3, 9, 8}, f32, gen).requires_grad_(), k = randn({3, 8, 9}, f32, gen).requires_grad_();
    Tensor s;
    {
        AutocastGuard autocast;
        s = q.matmul(k);
    }
    CHECK(max_relative_difference(s, rounded(q).matmul(rounded(k))) < 1e-5);
    const Tensor gs = randn({2, 3, 9, 9}, f32, gen);
    s.backward(gs);
    CHECK(max_relative_difference(q.grad(), rounded(gs).matmul(rounded(k).transpose(-1, -2))) < 1e-5);
    CHECK(max_relative_difference(k.grad(), (rounded(q).transpose(-1, -2).matmul(rounded(gs))).sum({0})) < 1e-5);
}

TEST_CASE("why the pseudo-inverse iteration stays f32: bf16 products stall it far from the inverse") {
    // Eq. 14's iteration on softmax kernels of the size Nyström meets (64 landmarks), once as
    // nn::iterative_pinv runs it and once with every product's operands rounded to bf16, as
    // autocast would. Reported: the relative residual ‖A Z A − A‖ / ‖A‖ after 6 and 12 iterations.
    Generator gen(4);
    const Tensor a = ops::softmax(randn({8, 64, 64}, f32, gen) * 2, -1);
    const Tensor eye64 = eye(64);
    auto residual = [&](const Tensor& z) {
        const Tensor r = a.matmul(z).matmul(a) - a;
        return std::sqrt((r * r).sum().item<double>() / (a * a).sum().item<double>());
    };
    auto bf16_pinv = [&](std::int64_t iterations) {
        auto mm = [](const Tensor& x, const Tensor& y) { return rounded(x).matmul(rounded(y)); };
        Tensor z = a.transpose(-1, -2) / ops::amax(a.sum({-2}));
        for (std::int64_t i = 0; i < iterations; ++i) {
            const Tensor az = mm(a, z);
            z = mm(z * 0.25, eye64 * 13.0 - mm(az, eye64 * 15.0 - mm(az, eye64 * 7.0 - az)));
        }
        return z;
    };
    // At the default 6 iterations both are still converging (residuals near 1.5e-2 here); past that,
    // f32 goes on to 1e-4 while bf16's rounding (2^-9 per operand) holds it near 5e-3.
    for (std::int64_t iterations : {6, 12}) {
        const double f32_residual = residual(nn::iterative_pinv(a, iterations)), bf16_residual = residual(bf16_pinv(iterations));
        MESSAGE(iterations, " iterations: relative residual f32 ", f32_residual, ", bf16 products ", bf16_residual);
        if (iterations == 12) {
            CHECK(f32_residual < 1e-3);
            CHECK(bf16_residual > 10 * f32_residual);
        }
    }
}

TEST_CASE("under autocast a weight written in place after the forward is caught, and expanded operands work") {
    Generator gen(8);
    Tensor x = randn({4, 6}, f32, gen);
    Tensor w = randn({3, 6}, f32, gen).requires_grad_();
    Tensor y;
    {
        AutocastGuard autocast;
        y = ops::linear(x.requires_grad_(), w);
    }
    {
        NoGradGuard no_grad;
        w.add_(ones({3, 6}));  // as an optimizer step between forward and backward would
    }
    CHECK_THROWS_WITH_AS(y.sum().backward(), doctest::Contains("whose copy an op saved for backward (autocast's bf16 operand, say) was modified in place"), Error);

    // A broadcast (stride-0) operand and a transposed one are rounded like any other.
    const Tensor row = randn({1, 5}, f32, gen).expand({7, 5}), m = randn({3, 5}, f32, gen).transpose(0, 1);
    Tensor p;
    {
        AutocastGuard autocast;
        p = row.matmul(m);
    }
    CHECK(max_relative_difference(p, rounded(row.contiguous()).matmul(rounded(m.contiguous()))) < 1e-5);

    // A bf16 tensor never takes part in gradients, nor trips anomaly detection through its views.
    DetectAnomalyGuard anomaly;
    const Tensor h = randn({4, 6}, f32, gen).to(bf16);
    CHECK(h.transpose(0, 1).reshape({24}).to(f32).numel() == 24);
    CHECK_THROWS_WITH_AS(x.to(bf16), doctest::Contains("no gradient flows through bf16"), Error);
}

TEST_CASE("under autocast the pseudo-inverse iteration and gradcheck stay in full precision") {
    Generator gen(2);
    const Tensor a = ops::softmax(randn({2, 16, 16}, f32, gen), -1);
    const Tensor plain = nn::iterative_pinv(a, 6);
    AutocastGuard autocast;
    CHECK(values(nn::iterative_pinv(a, 6)) == values(plain));
    const Tensor x = randn({4, 3}, f64, gen).requires_grad_(), w = randn({2, 3}, f64, gen).requires_grad_();
    CHECK(gradcheck([](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); }, {x, w}).ok);
}

}  // TEST_SUITE("ops")

TEST_SUITE("nn") {

TEST_CASE("an encoder under autocast: f32 parameters and gradients near f32's, and bitwise repeatable") {
    auto step = [](bool low) {
        Generator gen(7);
        models::EncoderClassifier model({.vocab = 16, .max_len = 64, .dim = 32, .heads = 2, .head_dim = 16, .hidden = 64,
                                         .layers = 2, .dropout = 0, .attention = nn::NystromOptions{.landmarks = 8, .conv_kernel = 3}},
                                        4, gen);
        const Tensor ids = randint(1, 16, {3, 64}, gen), labels = randint(0, 4, {3}, gen);
        Tensor loss;
        {
            AutocastGuard autocast(low);
            loss = ops::cross_entropy(model(ids, ones({3, 64})), labels);
        }
        loss.backward();
        std::vector<double> grads;
        for (const auto& [name, p] : model.named_parameters()) {
            CHECK(p.dtype() == f32);
            CHECK(p.grad().dtype() == f32);
            for (double v : values(p.grad())) grads.push_back(v);
        }
        return std::pair{loss.item<double>(), grads};
    };
    const auto [loss32, grad32] = step(false);
    const auto [loss16, grad16] = step(true);
    CHECK(loss16 == doctest::Approx(loss32).epsilon(1e-2));
    CHECK(loss16 != loss32);
    double dot = 0, n32 = 0, n16 = 0;
    for (std::size_t i = 0; i < grad32.size(); ++i) {
        dot += grad32[i] * grad16[i];
        n32 += grad32[i] * grad32[i];
        n16 += grad16[i] * grad16[i];
    }
    CHECK(dot / std::sqrt(n32 * n16) > 0.99);  // the same direction, to bf16's precision
    const auto [again, grad_again] = step(true);
    CHECK(again == loss16);
    CHECK(grad_again == grad16);
}

}  // TEST_SUITE("nn")
