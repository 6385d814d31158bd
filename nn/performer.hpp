#pragma once
// Performer attention (Choromanski et al. 2021, "Rethinking Attention with Performers"): FAVOR+,
// softmax attention estimated with m positive orthogonal random features ω₁…ω_m [m, d]:
//   φ(x) = (exp(ωx − |x|²/2 − s) + ε) / √m,   x = q/d^(1/4) or k/d^(1/4),  ε = 1e-4
//   out = φ(Q) · (φ(K)ᵀ V) / (φ(Q) · φ(K)ᵀ 1)
// E[φ(q)·φ(k)] = exp(q·k/√d) when s = 0. The stabiliser s (each query row's largest ωx; for the
// keys, the largest ωx over the tokens of each (batch, head), and at least 0) keeps exp finite; it
// cancels in the ratio up to ε, as in the authors' code, and it is differentiated, so gradients are
// those of what is computed. Padded keys get φ = 0, and a padded sequence's tokens get exactly what
// the tokens alone would. Time and memory are linear in n: the largest products are
// n×m and m×d, never n×n.
//
// The features are drawn as the authors do: blocks of d orthogonal rows (Gram–Schmidt of a
// Gaussian matrix), each row scaled to the norm of an independent Gaussian d-vector. Draw number
// r comes from (stream, r) alone, where `stream` is taken from the generator at construction, so a
// checkpoint that holds the buffers `features` and `draw_state` resumes bitwise, redraws included.
// Training redraws every redraw_interval forwards (1,000 by default, as in the authors' PyTorch
// code; 0 never redraws); evaluation never does.
#include "attention.hpp"

namespace nyx::nn {

class PerformerAttention : public Attention {
  public:
    // head_dim: d, the width of Q, K and V. Throws nyx::Error when d, features < 1 or redraw_interval < 0.
    PerformerAttention(std::int64_t head_dim, const PerformerOptions& options = {}, DType dtype = f32,
                       Generator& generator = default_generator());
    // Throws nyx::Error for inputs of another width than head_dim (and as Attention::check_inputs).
    // A sequence with no token at all gets zeros.
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) override;
    // Replaces the features by the next draw (what training does every redraw_interval forwards),
    // in place: a graph made before it and not yet backpropagated then reports the in-place write,
    // so take the redraws between optimizer steps (accumulate gradients within an interval).
    void redraw_features();

    Tensor features;  // buffer [m, d]: ω, one row per feature
    Tensor draw_state;  // buffer i64 [3]: the stream, the number of the current draw, training forwards since it

  protected:
    std::string extra_repr() const override;

  private:
    std::int64_t head_dim_;
    PerformerOptions options_;
};

}  // namespace nyx::nn
