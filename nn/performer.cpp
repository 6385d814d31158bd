#include "performer.hpp"

#include <cmath>
#include <functional>
#include <vector>

#include <nyx/autograd/grad_mode.hpp>

namespace nyx::nn {
namespace {

constexpr double kernel_epsilon = 1e-4;  // as in the authors' code

// m positive orthogonal random features in d dimensions, in f64: blocks of d orthonormal rows
// (Gram–Schmidt of Gaussian rows; a last partial block keeps its first rows), each row then
// scaled to the norm of an independent Gaussian d-vector, so that each row is distributed as a
// Gaussian one while rows within a block stay orthogonal.
std::vector<double> orthogonal_features(std::int64_t m, std::int64_t d, std::uint64_t seed) {
    Generator gen(seed);
    std::vector<double> rows(static_cast<std::size_t>(m * d));
    for (std::int64_t first = 0; first < m; first += d) {
        const std::vector<double> g = randn({d, d}, f64, gen).to_vector();
        std::vector<double> block = g;
        for (std::int64_t i = 0; i < d; ++i) {
            double* r = block.data() + i * d;
            for (int pass = 0; pass < 2; ++pass)  // twice: Gram–Schmidt keeps orthogonality to rounding only when repeated
                for (std::int64_t j = 0; j < i; ++j) {
                    const double* u = block.data() + j * d;
                    double dot = 0;
                    for (std::int64_t c = 0; c < d; ++c) dot += r[c] * u[c];
                    for (std::int64_t c = 0; c < d; ++c) r[c] -= dot * u[c];
                }
            double norm = 0;
            for (std::int64_t c = 0; c < d; ++c) norm += r[c] * r[c];
            norm = std::sqrt(norm);
            NYX_CHECK(norm > 1e-12, "PerformerAttention: a degenerate random block; draw again");
            for (std::int64_t c = 0; c < d; ++c) r[c] /= norm;
        }
        const std::vector<double> lengths = randn({d, d}, f64, gen).to_vector();
        for (std::int64_t i = 0; i < d && first + i < m; ++i) {
            double length = 0;
            for (std::int64_t c = 0; c < d; ++c) length += lengths[i * d + c] * lengths[i * d + c];
            length = std::sqrt(length);
            for (std::int64_t c = 0; c < d; ++c) rows[(first + i) * d + c] = block[i * d + c] * length;
        }
    }
    return rows;
}

}  // namespace

PerformerAttention::PerformerAttention(std::int64_t head_dim, const PerformerOptions& options, DType dtype, Generator& generator)
    : Attention("PerformerAttention"), head_dim_(head_dim), options_(options) {
    NYX_CHECK(head_dim >= 1 && options.features >= 1 && options.redraw_interval >= 0, "PerformerAttention: head_dim (", head_dim,
              ") and features (", options.features, ") must be >= 1, redraw_interval (", options.redraw_interval, ") >= 0");
    const std::uint64_t stream = mix_seed(generator.seed(), generator.advance(1));
    features = register_buffer("features", zeros({options.features, head_dim}, dtype));
    draw_state = register_buffer("draw_state", tensor({static_cast<double>(stream >> 11), -1.0, 0.0}, i64));
    redraw_features();
}

void PerformerAttention::redraw_features() {
    NoGradGuard no_grad;
    std::int64_t* state = draw_state.data<std::int64_t>();
    state[1] += 1, state[2] = 0;
    const std::vector<double> rows = orthogonal_features(options_.features, head_dim_, mix_seed(static_cast<std::uint64_t>(state[0]), static_cast<std::uint64_t>(state[1])));
    features.copy_(tensor(rows, {options_.features, head_dim_}, f64).to(features.dtype()));
}

std::string PerformerAttention::extra_repr() const {
    return detail::cat("head_dim=", head_dim_, ", features=", options_.features, ", redraw_interval=", options_.redraw_interval);
}

// φ(Q) · (φ(K)ᵀ V) / (φ(Q) · φ(K)ᵀ 1)
Tensor PerformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
    const auto [batch, heads, n, d] = check_inputs("PerformerAttention", q, k, v, mask);
    NYX_CHECK(d == head_dim_, "PerformerAttention: built for head_dim ", head_dim_, ", got Q, K, V of width ", d);
    if (is_training() && options_.redraw_interval > 0) {
        if (draw_state.data<std::int64_t>()[2] >= options_.redraw_interval) redraw_features();
        draw_state.data<std::int64_t>()[2] += 1;
    }
    const double scale = 1 / std::sqrt(std::sqrt(static_cast<double>(d)));
    const Tensor omega = features.transpose(0, 1);  // [d, m]
    const Tensor tokens = mask.unsqueeze(1).unsqueeze(-1);  // [B, 1, n, 1]
    // φ of x [B, h, n, d] times √m (the factor 1/√m cancels in the ratio): ωx (projected) less
    // |x|²/2 and the stabiliser, both [B, h, n, 1] or smaller, added first
    auto phi = [&](const Tensor& x, const std::function<Tensor(const Tensor&)>& stabiliser) {
        const Tensor xs = x * scale;
        const Tensor projected = xs.matmul(omega);  // [B, h, n, m]
        return ops::exp(projected - ((xs * xs).sum({-1}, true) * 0.5 + stabiliser(projected))) + kernel_epsilon;
    };
    // Queries: each row's largest ωq. Keys: the largest ωk of the tokens, and at least 0 (so padded
    // keys, whose values are arbitrary, change nothing, and a padded sequence computes exactly what
    // its unpadded part alone does).
    const Tensor phi_q = phi(q, [](const Tensor& projected) { return ops::amax(projected, {-1}, true); });
    const Tensor phi_k = phi(k, [&](const Tensor& projected) { return ops::relu(ops::amax(projected * tokens, {-2, -1}, true)); }) * tokens;
    const Tensor kv = phi_k.transpose(-1, -2).matmul(v);  // [B, h, m, d]
    // A sequence without a single token has no keys: its normaliser would be 0, and its output 0/0.
    // Adding 1 there makes that output 0, as the other attentions give, and changes no other row.
    const Tensor no_tokens = 1.0 - ops::amax(mask, {-1}, true).unsqueeze(1).unsqueeze(-1);  // [B, 1, 1, 1]
    const Tensor normaliser = phi_q.matmul(phi_k.sum({-2}).unsqueeze(-1)) + no_tokens;  // [B, h, n, 1]
    return phi_q.matmul(kv) / normaliser;
}

}  // namespace nyx::nn
