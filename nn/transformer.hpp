#pragma once
// The pre-LN transformer block of the LRA models (docs/nystrom.md):
//   x ← x + Dropout(W_o · Attention(LN1(x)))
//   x ← x + Dropout(Linear(Dropout(GELU(Linear(LN2(x))))))
#include "attention.hpp"

namespace nyx::nn {

struct TransformerBlockOptions {
    std::int64_t dim = 64, heads = 2, head_dim = 32, hidden = 128;
    double dropout = 0.1;
    AttentionOptions attention = NystromOptions{};
    DType dtype = f32;
    // Linformer's layerwise sharing only: the projection every block uses (models::EncoderClassifier
    // makes it); null otherwise.
    std::shared_ptr<LinformerProjection> shared_projection = nullptr;
};

class TransformerBlock : public Module {
  public:
    explicit TransformerBlock(const TransformerBlockOptions& options, Generator& generator = default_generator());
    Tensor forward(const Tensor& x, const Tensor& mask);  // x: [B, n, dim], mask: [B, n]
    Tensor operator()(const Tensor& x, const Tensor& mask) { return forward(x, mask); }

    std::shared_ptr<LayerNorm> norm1, norm2;
    std::shared_ptr<MultiHeadAttention> attn;
    std::shared_ptr<Dropout> attn_dropout;
    std::shared_ptr<Sequential> mlp;
};

}  // namespace nyx::nn
