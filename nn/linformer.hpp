#pragma once
// Linformer attention (Wang et al. 2020, "Linformer: Self-Attention with Linear Complexity"):
//   K̄ = E·(K ⊙ M),  V̄ = F·(V ⊙ M),  softmax(Q K̄ᵀ / √d) · V̄
// with learned E, F [k, n_max] that project the sequence axis to k rows, so the scores are n×k,
// never n×n: time and memory linear in n. M zeroes the padded keys and values before the
// projection, so padding adds nothing to K̄ and V̄ and needs no penalty in the softmax. A sequence
// shorter than n_max uses the first n columns of E and F; a longer one is an error.
#include "attention.hpp"

namespace nyx::nn {

// E and F, for one layer or (layerwise sharing) for all: [h, k, n_max] with sharing none, else
// [1, k, n_max] (broadcast over the heads). F is undefined where E = F (key_value, layerwise).
// Initialised as in the authors' code (fairseq): Xavier-uniform with gain 1/√2, U(±√(3 / (n_max + k))).
class LinformerProjection : public Module {
  public:
    LinformerProjection(std::int64_t heads, const LinformerOptions& options, DType dtype = f32,
                        Generator& generator = default_generator());
    Tensor e, f;
    const Tensor& value_projection() const { return f.defined() ? f : e; }
    std::int64_t max_length() const { return e.size(-1); }

  protected:
    std::string extra_repr() const override;
};

class LinformerAttention : public Attention {
  public:
    // `shared`: the projection of layerwise sharing, made once by the encoder and registered here
    // too (a tied child: listed and trained once; state_dict holds it under each layer's name, as
    // PyTorch's does for tied weights). Null otherwise: this layer makes its own.
    // Throws nyx::Error when options.max_length or projected_length is < 1, or when `shared` is
    // given without layerwise sharing (or missing with it).
    LinformerAttention(std::int64_t heads, const LinformerOptions& options, DType dtype = f32,
                       Generator& generator = default_generator(), std::shared_ptr<LinformerProjection> shared = nullptr);
    // Throws nyx::Error when n exceeds max_length, naming both.
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) override;
    std::shared_ptr<LinformerProjection> projection;

  protected:
    std::string extra_repr() const override;

  private:
    std::int64_t heads_;
    LinformerOptions options_;
};

}  // namespace nyx::nn
