#pragma once
// Attention modules behind one interface: forward(Q, K, V, mask) with Q, K, V of shape
// [B, h, n, d] and mask [B, n] (1 = token, 0 = padding, in Q's dtype), returning [B, h, n, d].
//   - SoftmaxAttention: exact scaled dot-product attention.
//   - NystromAttention: the Nyströmformer (Xiong et al., AAAI 2021), every step of
//     docs/nystrom.md; linear in n, never an n×n matrix forward or backward. It also offers
//     cross-attention (n_q queries, n_k keys) and its attention matrix as factors (NystromFactors).
//   - LinformerAttention (linformer.hpp) and PerformerAttention (performer.hpp), the two other
//     linear-cost attentions of the paper's comparison.
// MultiHeadAttention wraps any one of them with the Q, K, V and output projections.
#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <variant>

#include "layers.hpp"

namespace nyx::nn {

class Attention : public Module {
  public:
    using Module::Module;
    virtual Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) = 0;
    Tensor operator()(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) { return forward(q, k, v, mask); }

  protected:
    // Checks Q, K, V [B, h, n, d] (one shape) and the mask [B, n] of Q's dtype, naming `op` in the
    // error; returns {B, h, n, d}.
    static std::array<std::int64_t, 4> check_inputs(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                                                    const Tensor& mask);
};

// Masked keys get this added to their scores before the softmax, as in the authors' code.
inline constexpr double mask_penalty = 1e9;

struct SoftmaxOptions {
    double dropout = 0;  // on the attention weights, in training mode
};

// softmax(Q Kᵀ / √d − 1e9·(1 − mask)) · V. Attention dropout draws from `generator`, which must
// outlive the module.
class SoftmaxAttention : public Attention {
  public:
    explicit SoftmaxAttention(SoftmaxOptions options = {}, Generator& generator = default_generator());
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) override;

  private:
    SoftmaxOptions options_;
    Generator* generator_;
};

// Where the pseudo-inverse iteration starts: Z₀ = Aᵀ / c.
enum class PinvStart {
    original,    // c = the largest column sum over the whole [B, h, m, m] tensor (the authors' default)
    per_matrix,  // c per (batch, head) matrix (what the authors recommend)
};

struct NystromOptions {
    std::int64_t landmarks = 64;       // m; when m >= n the exact softmax path runs
    std::int64_t pinv_iterations = 6;
    PinvStart pinv_start = PinvStart::original;
    std::int64_t conv_kernel = 35;     // depthwise skip connection on V, one filter per head; 0 = off
};

// Z ≈ A⁺ by the iteration of the paper's Eq. 14:
//   Z₀ = Aᵀ / c,   Z ← ¼ Z (13I − A Z (15I − A Z (7I − A Z)))
// for A: [..., m, m] (row-stochastic). Differentiable. The original start's c is one maximum over
// the whole batch; when data-parallel training has split the batch across processes, `batch_max`
// completes it over all of them (BatchReductions::max, nn/module.hpp), so that K ranks compute what
// one process does.
Tensor iterative_pinv(const Tensor& a, std::int64_t iterations, PinvStart start = PinvStart::original,
                      const std::function<Tensor(const Tensor&)>& batch_max = {});
// Deprecated, kept for one release: `across_ranks` is batch_max = dist::max_over_ranks.
[[deprecated("pass batch_max = nyx::dist::max_over_ranks")]] Tensor iterative_pinv(const Tensor& a, std::int64_t iterations,
                                                                                   PinvStart start, bool across_ranks);

// NystromAttention's attention matrix as three factors, softmax(Q Kᵀ / √d) ≈ F · Z · B, so that any
// row or column can be read without the n_q × n_k matrix (Xiong et al. 2021, Eq. 15):
//   F [B, h, n_q, m] = softmax(Q K̃ᵀ / √d),  Z [B, h, m, m] ≈ A⁺ with A = softmax(Q̃ K̃ᵀ / √d),
//   B [B, h, m, n_k] = softmax(Q̃ Kᵀ / √d − 1e9·(1 − key mask)),
// Q̃ and K̃ the m landmarks (segment means). When m >= n_q or m >= n_k the module attends exactly, and
// so do its factors, with the exact attention P [B, h, n_q, n_k] as one of them and identities of
// the shorter length r = min(n_q, n_k) beside it: F = I, Z = I, B = P when n_q <= n_k, else F = P,
// Z = I, B = I. The skip connection (conv_kernel) adds a convolution of V, which is not part of
// this matrix. The products take F·Z in f32 under autocast too, as forward does.
struct NystromFactors {
    Tensor f, z, b;
    Tensor row(std::int64_t i) const;     // [B, h, n_k]: query i's weights over the keys (sum ≈ 1)
    Tensor column(std::int64_t j) const;  // [B, h, n_q]: every query's weight on key j
    Tensor to_dense() const;              // [B, h, n_q, n_k]: the whole matrix, for small n only
};

class NystromAttention : public Attention {
  public:
    NystromAttention(std::int64_t heads, NystromOptions options = {}, DType dtype = f32,
                     Generator& generator = default_generator());
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) override;
    // Cross-attention: queries q [B, h, n_q, d] with their mask [B, n_q], against keys and values
    // k, v [B, h, n_k, d] with theirs [B, n_k]; returns [B, h, n_q, d]. The landmarks come from each
    // side: Q̃ from the queries, K̃ from the keys. Self-attention is the case q, k, v of one length
    // and one mask. The skip connection runs along V's sequence, so with conv_kernel > 0 the lengths
    // must agree (an Error otherwise).
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& query_mask, const Tensor& key_mask);
    using Attention::operator();
    Tensor operator()(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& query_mask, const Tensor& key_mask) {
        return forward(q, k, v, query_mask, key_mask);
    }
    // The factors of the attention matrix that forward(q, k, v, query_mask, key_mask) applies to V,
    // computed as forward computes them (differentiable). Call it in eval mode: in training mode the
    // original pinv start takes its batch maximum as forward does, across the ranks of a
    // data-parallel job, which then must all call it.
    NystromFactors factors(const Tensor& q, const Tensor& k, const Tensor& query_mask, const Tensor& key_mask);
    NystromFactors factors(const Tensor& q, const Tensor& k, const Tensor& mask) { return factors(q, k, mask, mask); }
    Tensor conv_weight;  // [heads, conv_kernel], undefined without the skip connection
    // While training, the original pseudo-inverse start takes its maximum over the whole batch with
    // reductions.max (set by dist::DataParallel when the batch is split across ranks).
    void set_batch_reductions(const BatchReductions& reductions) override { batch_ = reductions; }
    // Deprecated, kept for one release: what DataParallel now does through set_batch_reductions.
    [[deprecated("dist::DataParallel calls set_batch_reductions")]] void set_batch_across_ranks(bool on);

  protected:
    std::string extra_repr() const override;

  private:
    // Checks the cross-attention inputs (v may be undefined); returns {B, h, n_q, n_k, d}.
    std::array<std::int64_t, 5> check_cross(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& query_mask,
                                            const Tensor& key_mask) const;
    bool exact(std::int64_t n_q, std::int64_t n_k) const { return options_.landmarks >= std::min(n_q, n_k); }
    // F, Z and B of the masked and scaled q and k, when m < n_q and m < n_k.
    NystromFactors approximate(const Tensor& q, const Tensor& k, const Tensor& key_mask);

    std::int64_t heads_;
    NystromOptions options_;
    BatchReductions batch_;
};

// Linformer (Wang et al. 2020, "Linformer: Self-Attention with Linear Complexity"): keys and values
// projected along the sequence to k rows by learned E and F, each [k, n_max].
enum class LinformerSharing {
    none,       // each head its own E and F
    headwise,   // one E and one F per layer, shared by its heads
    key_value,  // one matrix per layer, E = F, shared by its heads
    layerwise,  // one matrix for every layer, head, key and value (an encoder shares it)
};
struct LinformerOptions {
    std::int64_t projected_length = 256;  // k
    std::int64_t max_length = 0;          // n_max, the longest sequence; 0 = the encoder's max_len
    LinformerSharing sharing = LinformerSharing::headwise;
};

// Performer (Choromanski et al. 2021, "Rethinking Attention with Performers"): FAVOR+, softmax
// attention estimated with positive orthogonal random features.
struct PerformerOptions {
    std::int64_t features = 256;       // m, the number of random features
    std::int64_t redraw_interval = 1000;  // draw new features every this many forwards in training; 0 = never
};

using AttentionOptions = std::variant<SoftmaxOptions, NystromOptions, LinformerOptions, PerformerOptions>;
class LinformerProjection;

// x: [B, n, dim] → Q, K, V projections (with bias) → heads [B, h, n, d] → attention → merge → out projection.
// `shared_projection`: for Linformer's layerwise sharing, the one projection every layer uses (an
// encoder makes it; linformer.hpp); otherwise null.
class MultiHeadAttention : public Module {
  public:
    MultiHeadAttention(std::int64_t dim, std::int64_t heads, std::int64_t head_dim, const AttentionOptions& attention,
                       DType dtype = f32, Generator& generator = default_generator(),
                       std::shared_ptr<LinformerProjection> shared_projection = nullptr);
    Tensor forward(const Tensor& x, const Tensor& mask);
    Tensor operator()(const Tensor& x, const Tensor& mask) { return forward(x, mask); }

    std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
    std::shared_ptr<Attention> attention;

  private:
    std::int64_t heads_, head_dim_;
};

}  // namespace nyx::nn
