#include "attention.hpp"

#include <cmath>

#include <nyx/autograd/autocast.hpp>
#include <nyx/dist/distributed.hpp>

#include "init.hpp"
#include "linformer.hpp"
#include "performer.hpp"

namespace nyx::nn {

std::array<std::int64_t, 4> Attention::check_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
    NYX_CHECK(q.dim() == 4 && k.shape() == q.shape() && v.shape() == q.shape(), op, ": Q, K and V must share one shape [B, h, n, d]; got ",
              nyx::to_string(q.shape()), ", ", nyx::to_string(k.shape()), " and ", nyx::to_string(v.shape()));
    NYX_CHECK((mask.shape() == Shape{q.size(0), q.size(2)}) && mask.dtype() == q.dtype(), op, ": the mask must be [B, n] = [",
              q.size(0), ", ", q.size(2), "] of ", q.dtype(), " (1 = token, 0 = padding); got ", nyx::to_string(mask.shape()), " ",
              mask.dtype());
    return {q.size(0), q.size(1), q.size(2), q.size(3)};
}

namespace {

// −1e9 · (1 − mask) as [B, 1, 1, n]: added to scores, it removes the padded keys.
Tensor key_penalty(const Tensor& mask) {
    return ((1.0 - mask) * -mask_penalty).unsqueeze(1).unsqueeze(1);
}

// A mask [B, n] as [B, 1, n, 1], to multiply a [B, h, n, d] tensor.
Tensor tokens_of(const Tensor& mask) { return mask.unsqueeze(1).unsqueeze(-1); }

// Nyström's step 1: Q ← (Q ⊙ M_q) / d^(1/4), K ← (K ⊙ M_k) / d^(1/4), so that every product carries
// 1/√d. One product each with the small [B, 1, n, 1] factor: (Q ⊙ M) · s would keep Q ⊙ M alive for
// backward as well.
std::pair<Tensor, Tensor> mask_and_scale(const Tensor& q, const Tensor& k, const Tensor& query_mask, const Tensor& key_mask) {
    const double scale = 1 / std::sqrt(std::sqrt(static_cast<double>(q.size(-1))));
    return {q * (tokens_of(query_mask) * scale), k * (tokens_of(key_mask) * scale)};
}

}  // namespace

SoftmaxAttention::SoftmaxAttention(SoftmaxOptions options, Generator& generator)
    : Attention("SoftmaxAttention"), options_(options), generator_(&generator) {
    NYX_CHECK(options.dropout >= 0 && options.dropout < 1, "SoftmaxAttention: dropout ", options.dropout, " must be in [0, 1)");
}

// softmax(Q Kᵀ / √d − 1e9·(1 − mask)) · V
Tensor SoftmaxAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
    const auto [batch, heads, n, d] = check_inputs("SoftmaxAttention", q, k, v, mask);
    // Scaling Q (n×d) rather than the scores (n×n) saves a pass over the largest tensor.
    const Tensor scores = (q / std::sqrt(static_cast<double>(d))).matmul(k.transpose(-1, -2)) + key_penalty(mask);  // [B,h,n,n]
    const Tensor weights = ops::dropout(ops::softmax(scores, -1), options_.dropout, is_training(), *generator_);
    return weights.matmul(v);
}

Tensor iterative_pinv(const Tensor& a, std::int64_t iterations, PinvStart start, const std::function<Tensor(const Tensor&)>& batch_max) {
    NYX_CHECK(a.dim() >= 2 && a.size(-1) == a.size(-2), "iterative_pinv: expected square matrices [..., m, m], got ",
              to_string(a.shape()));
    NYX_CHECK(iterations >= 0, "iterative_pinv: the iteration count ", iterations, " must be >= 0");
    // In f32 under autocast too: each iteration multiplies by AZ, so bf16's 2^-9 rounding would
    // compound over the iterations (autograd/autocast.hpp).
    const AutocastGuard f32_products(false);
    const std::int64_t m = a.size(-1);
    // c: the largest column sum (A is row-stochastic, so its largest row sum is 1 and c = ‖A‖₁‖A‖∞)
    const Tensor column_sums = a.sum({-2});  // [..., m]
    Tensor c = start == PinvStart::original ? ops::amax(column_sums) : ops::amax(column_sums, {-1}, true).unsqueeze(-1);
    if (start == PinvStart::original && batch_max) c = batch_max(c);
    Tensor z = a.transpose(-1, -2) / c;  // Z₀ = Aᵀ / c
    const Tensor identity = eye(m, a.dtype());
    for (std::int64_t i = 0; i < iterations; ++i) {
        const Tensor az = a.matmul(z);
        // Z ← ¼ Z (13I − AZ (15I − AZ (7I − AZ)))   (Eq. 14)
        z = (z * 0.25).matmul(identity * 13.0 - az.matmul(identity * 15.0 - az.matmul(identity * 7.0 - az)));
    }
    return z;
}

Tensor iterative_pinv(const Tensor& a, std::int64_t iterations, PinvStart start, bool across_ranks) {
    return iterative_pinv(a, iterations, start, across_ranks ? dist::max_over_ranks : std::function<Tensor(const Tensor&)>());
}

void NystromAttention::set_batch_across_ranks(bool on) {
    set_batch_reductions(on ? BatchReductions{.max = dist::max_over_ranks} : BatchReductions{});
}

NystromAttention::NystromAttention(std::int64_t heads, NystromOptions options, DType dtype, Generator& generator)
    : Attention("NystromAttention"), heads_(heads), options_(options) {
    NYX_CHECK(heads >= 1 && options.landmarks >= 1 && options.pinv_iterations >= 0 && options.conv_kernel >= 0,
              "NystromAttention: heads and landmarks must be >= 1, the iteration count and the kernel size >= 0");
    NYX_CHECK(options.conv_kernel == 0 || options.conv_kernel % 2 == 1, "NystromAttention: the conv kernel size ",
              options.conv_kernel, " must be odd (zero padding k/2 on each side keeps the length)");
    if (options.conv_kernel > 0) {
        // As PyTorch's Conv2d(h, h, (k, 1), groups = h) initialises: U(±1/√k).
        Tensor w = empty({heads, options.conv_kernel}, dtype);
        const double bound = 1 / std::sqrt(static_cast<double>(options.conv_kernel));
        conv_weight = register_parameter("conv_weight", init::uniform_(w, -bound, bound, generator));
    }
}

std::string NystromAttention::extra_repr() const {
    return detail::cat("heads=", heads_, ", landmarks=", options_.landmarks, ", pinv_iterations=", options_.pinv_iterations,
                       ", pinv_start=", options_.pinv_start == PinvStart::original ? "original" : "per-matrix",
                       ", conv_kernel=", options_.conv_kernel);
}

Tensor NystromAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
    check_inputs("NystromAttention", q, k, v, mask);
    return forward(q, k, v, mask, mask);
}

std::array<std::int64_t, 5> NystromAttention::check_cross(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                                                          const Tensor& query_mask, const Tensor& key_mask) const {
    NYX_CHECK(q.dim() == 4 && k.dim() == 4 && k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3) &&
                  (!v.defined() || v.shape() == k.shape()) && k.dtype() == q.dtype() && (!v.defined() || v.dtype() == q.dtype()),
              op, ": Q must be [B, h, n_q, d], and K and V [B, h, n_k, d] of the same B, h, d and dtype; got ", nyx::to_string(q.shape()),
              " ", q.dtype(), ", ", nyx::to_string(k.shape()), " ", k.dtype(), v.defined() ? detail::cat(" and ", nyx::to_string(v.shape()), " ", v.dtype()) : "");
    NYX_CHECK((query_mask.shape() == Shape{q.size(0), q.size(2)}) && query_mask.dtype() == q.dtype() &&
                  (key_mask.shape() == Shape{k.size(0), k.size(2)}) && key_mask.dtype() == q.dtype(),
              op, ": the masks must be [B, n_q] = [", q.size(0), ", ", q.size(2), "] and [B, n_k] = [", k.size(0), ", ", k.size(2), "] of ",
              q.dtype(), " (1 = token, 0 = padding); got ", nyx::to_string(query_mask.shape()), " ", query_mask.dtype(), " and ",
              nyx::to_string(key_mask.shape()), " ", key_mask.dtype());
    NYX_CHECK(q.size(1) == heads_, op, ": built for ", heads_, " heads, got ", q.size(1));
    return {q.size(0), q.size(1), q.size(2), k.size(2), q.size(3)};
}

NystromFactors NystromAttention::approximate(const Tensor& q, const Tensor& k, const Tensor& key_mask) {
    const std::int64_t m = options_.landmarks;
    // 3. landmarks: segment means (the uneven rule when m does not divide n), from each side
    const Tensor q_landmarks = ops::segment_mean(q, 2, m), k_landmarks = ops::segment_mean(k, 2, m);  // [B,h,m,d]
    // 4. the three kernels
    const Tensor f = ops::softmax(q.matmul(k_landmarks.transpose(-1, -2)), -1);                          // [B,h,n_q,m]
    const Tensor a = ops::softmax(q_landmarks.matmul(k_landmarks.transpose(-1, -2)), -1);                // [B,h,m,m]
    const Tensor b = ops::softmax(q_landmarks.matmul(k.transpose(-1, -2)) + key_penalty(key_mask), -1);  // [B,h,m,n_k]
    // 5. Z ≈ A⁺
    return {f, iterative_pinv(a, options_.pinv_iterations, options_.pinv_start, is_training() ? batch_.max : nullptr), b};
}

Tensor NystromAttention::forward(const Tensor& q_in, const Tensor& k_in, const Tensor& v, const Tensor& query_mask, const Tensor& key_mask) {
    const auto [batch, heads, n_q, n_k, d] = check_cross("NystromAttention", q_in, k_in, v, query_mask, key_mask);
    NYX_CHECK(!conv_weight.defined() || n_q == n_k, "NystromAttention: the skip connection (conv_kernel ", options_.conv_kernel,
              ") adds a convolution of V to the output, so queries and keys must be of one length; got n_q = ", n_q, ", n_k = ", n_k,
              "; build the module with conv_kernel = 0 for cross-attention");
    const auto [q, k] = mask_and_scale(q_in, k_in, query_mask, key_mask);  // 1.
    Tensor x;
    if (exact(n_q, n_k)) {
        // 2. m >= n: exact attention
        x = ops::softmax(q.matmul(k.transpose(-1, -2)) + key_penalty(key_mask), -1).matmul(v);
    } else {
        const NystromFactors p = approximate(q, k, key_mask);  // 3.-5.
        // 6. X = (F·Z)·(B·V), in this order: [n,m]·[m,m], [m,n]·[n,d], [n,m]·[m,d]
        const Tensor fz = [&] {  // in f32 under autocast too, so that rounding does not undo the iteration's precision
            const AutocastGuard f32_products(false);
            return p.f.matmul(p.z);
        }();
        x = fz.matmul(p.b.matmul(v));
    }
    // 7. skip connection: depthwise convolution of the masked V along the sequence, one filter per head
    if (conv_weight.defined()) x = x + ops::depthwise_conv1d(v * tokens_of(key_mask), conv_weight);
    return x;
}

NystromFactors NystromAttention::factors(const Tensor& q_in, const Tensor& k_in, const Tensor& query_mask, const Tensor& key_mask) {
    const auto [batch, heads, n_q, n_k, d] = check_cross("NystromAttention::factors", q_in, k_in, Tensor(), query_mask, key_mask);
    const auto [q, k] = mask_and_scale(q_in, k_in, query_mask, key_mask);
    if (!exact(n_q, n_k)) return approximate(q, k, key_mask);
    const Tensor p = ops::softmax(q.matmul(k.transpose(-1, -2)) + key_penalty(key_mask), -1);  // [B,h,n_q,n_k]
    const std::int64_t r = std::min(n_q, n_k);
    const Tensor identity = eye(r, q.dtype()).expand({batch, heads, r, r});
    return n_q <= n_k ? NystromFactors{identity, identity, p} : NystromFactors{p, identity, identity};
}

// Each product takes F·Z first, in f32 under autocast too, as forward does.
Tensor NystromFactors::row(std::int64_t i) const {
    NYX_CHECK(i >= 0 && i < f.size(-2), "NystromFactors::row: query ", i, " is not in 0..", f.size(-2) - 1);
    const AutocastGuard f32_products(false);
    return f.narrow(-2, i, 1).matmul(z).matmul(b).squeeze(-2);  // [1,m]·[m,m]·[m,n_k]
}

Tensor NystromFactors::column(std::int64_t j) const {
    NYX_CHECK(j >= 0 && j < b.size(-1), "NystromFactors::column: key ", j, " is not in 0..", b.size(-1) - 1);
    const AutocastGuard f32_products(false);
    return f.matmul(z).matmul(b.narrow(-1, j, 1)).squeeze(-1);  // ([n_q,m]·[m,m])·[m,1]
}

Tensor NystromFactors::to_dense() const {
    const AutocastGuard f32_products(false);
    return f.matmul(z).matmul(b);
}

MultiHeadAttention::MultiHeadAttention(std::int64_t dim, std::int64_t heads, std::int64_t head_dim, const AttentionOptions& options,
                                       DType dtype, Generator& generator, std::shared_ptr<LinformerProjection> shared_projection)
    : Module("MultiHeadAttention"), heads_(heads), head_dim_(head_dim) {
    NYX_CHECK(dim >= 1 && heads >= 1 && head_dim >= 1, "MultiHeadAttention: dim, heads and head_dim must be >= 1");
    const LinearOptions linear{.bias = true, .dtype = dtype};
    q_proj = register_module("q_proj", std::make_shared<Linear>(dim, heads * head_dim, linear, generator));
    k_proj = register_module("k_proj", std::make_shared<Linear>(dim, heads * head_dim, linear, generator));
    v_proj = register_module("v_proj", std::make_shared<Linear>(dim, heads * head_dim, linear, generator));
    attention = register_module(
        "attn", std::visit(
                    [&](const auto& o) -> std::shared_ptr<Attention> {
                        using O = std::decay_t<decltype(o)>;
                        if constexpr (std::is_same_v<O, SoftmaxOptions>) return std::make_shared<SoftmaxAttention>(o, generator);
                        if constexpr (std::is_same_v<O, NystromOptions>) return std::make_shared<NystromAttention>(heads, o, dtype, generator);
                        if constexpr (std::is_same_v<O, LinformerOptions>)
                            return std::make_shared<LinformerAttention>(heads, o, dtype, generator, shared_projection);
                        if constexpr (std::is_same_v<O, PerformerOptions>)
                            return std::make_shared<PerformerAttention>(head_dim, o, dtype, generator);
                    },
                    options));
    out_proj = register_module("out_proj", std::make_shared<Linear>(heads * head_dim, dim, linear, generator));
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& mask) {
    NYX_CHECK(x.dim() == 3, "MultiHeadAttention: the input must be [B, n, dim], got ", nyx::to_string(x.shape()));
    const std::int64_t batch = x.size(0), n = x.size(1);
    auto split = [&](const std::shared_ptr<Linear>& proj) {  // [B, n, h·d] → [B, h, n, d]
        return proj->forward(x).reshape({batch, n, heads_, head_dim_}).transpose(1, 2);
    };
    const Tensor heads = attention->forward(split(q_proj), split(k_proj), split(v_proj), mask);
    return out_proj->forward(heads.transpose(1, 2).reshape({batch, n, heads_ * head_dim_}));  // merge the heads
}

}  // namespace nyx::nn
