#pragma once
// Mixed precision, as PyTorch users know it from torch.autocast("cpu", dtype=torch.bfloat16).
//
//   {
//       nyx::AutocastGuard autocast;           // bf16 products on this thread while it lives
//       Tensor loss = model.loss(tokens, labels);
//   }
//   loss.backward();                           // each op's backward runs in its forward's precision
//
// Inside the guard, ops run in the precision this table gives them. An op not listed computes in
// the dtype of its inputs, f32 here, exactly as without autocast.
//
//   op                                   inputs read as   accumulates and returns
//   matmul (and @), linear;              bf16 copies      f32
//   so every attention product, the
//   feed-forward and the classifier
//   Nyström's pseudo-inverse iteration   f32              f32   (it runs with autocast off)
//   and the product F·Z with its result
//   softmax, log_softmax, layer_norm,    f32              f32
//   gelu, reductions, the losses,
//   everything elementwise
//
// Parameters, their gradients and the optimizer's state stay f32 (master weights): a product reads
// a bf16 copy of its f32 operands, made afresh at each call, and its backward multiplies bf16
// copies of the incoming gradient and of the saved operands, returning f32 gradients. Products of
// f64 tensors are left in f64, so gradcheck is unaffected; it also turns autocast off.
//
// bf16 keeps f32's range but only 8 bits of precision (a relative rounding error up to 2^-9), so
// results differ from f32 runs in the third significant digit. Why each op in the table stays f32,
// and the accuracy measured with it, is in docs/mixed_precision.md.
namespace nyx {

bool is_autocast_enabled();  // on this thread

// Turns autocast on (or off) for the current thread while it lives, then restores the previous
// setting. Nested guards work as in PyTorch: AutocastGuard(false) inside an autocast region runs
// its ops in their own dtypes.
class AutocastGuard {
  public:
    explicit AutocastGuard(bool enabled = true);
    ~AutocastGuard();
    AutocastGuard(const AutocastGuard&) = delete;
    AutocastGuard& operator=(const AutocastGuard&) = delete;

  private:
    bool previous_;
};

}  // namespace nyx
