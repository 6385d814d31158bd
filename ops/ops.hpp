#pragma once
// nyx::ops: every differentiable function of tensors. Each records itself on the tape when recording
// is on and an input requires grad; its backward is written next to its forward in the .cpp file.
// Binary ops broadcast with NumPy's rules and need both operands of one dtype (nyx never promotes
// silently: convert with .to()). Axes may be negative (counted from the end).
#include <vector>

#include <nyx/core/random.hpp>
#include <nyx/core/tensor.hpp>

namespace nyx::ops {

// --- elementwise (ops/elementwise.cpp) ---------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);      // floating only
Tensor maximum(const Tensor& a, const Tensor& b);  // ties share the gradient equally, as in PyTorch
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);                     // 1 / sqrt(x)
Tensor pow(const Tensor& x, double exponent);
Tensor erf(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
// GELU: x·Φ(x) with the exact erf form, or PyTorch's approximate="tanh" form.
enum class GeluApproximation { none, tanh };
Tensor gelu(const Tensor& x, GeluApproximation approximation = GeluApproximation::none);
// Limits x to [low, high]; the gradient passes where low <= x <= high. Use ±infinity for one bound.
Tensor clamp(const Tensor& x, double low, double high);

// Comparisons give masks: tensors of the operands' dtype holding 1 where true and 0 where false.
// They are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// a where mask is non-zero, else b (all three broadcast); the gradient follows the choice.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
// x with `value` where mask is non-zero (mask broadcasts to x's shape).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// --- reductions (ops/reduce.cpp) ---------------------------------------------------------------
// Over all elements, or over `axes` (all of them when empty); keepdim keeps them as size 1.
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& axes, bool keepdim = false);
// x minus its mean over `axes` (all when empty), of x's shape. x is shifted first by its mean rounded
// to the dtype, then by the mean of what is left, so the deviations are right to their own last
// places; subtracting the rounded mean alone would be off by up to half the mean's last place (4 for
// f32 values near 1e8). var and layer norm's composite form centre with it.
Tensor deviations(const Tensor& x, const Shape& axes = {});
// Variance with Bessel's correction by default (correction = 1), as torch.var.
Tensor var(const Tensor& x, const Shape& axes = {}, double correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Shape& axes, bool keepdim = false);  // log Σ exp, stably

// The largest (smallest) entry along one axis and its index (the first, on ties), as nyx::ValuesIndices
// (core/tensor.hpp); the gradient goes to the selected element.
using nyx::ValuesIndices;
ValuesIndices max(const Tensor& x, std::int64_t axis, bool keepdim = false);
ValuesIndices min(const Tensor& x, std::int64_t axis, bool keepdim = false);
// The largest (smallest) value over several axes (all when empty); the gradient is shared equally
// by the elements equal to it, as in PyTorch.
Tensor amax(const Tensor& x, const Shape& axes = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& axes = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim = false);

// --- linear algebra (ops/matmul.cpp) -----------------------------------------------------------
// NumPy/PyTorch matmul: 1-D @ 1-D is a dot product; 2-D @ 2-D a matrix product; higher ranks are
// batches of matrices whose batch axes broadcast; a 1-D operand gains (then loses) a unit axis.
Tensor matmul(const Tensor& a, const Tensor& b);
// x·Wᵀ + b over x: [..., in], weight W: [out, in], bias b: [out] (optional); one GEMM, no copy of x.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// --- views and copies (ops/views.cpp) ----------------------------------------------------------
Tensor view(const Tensor& x, Shape shape);     // no copy; one size may be -1; fails when strides forbid
Tensor reshape(const Tensor& x, Shape shape);  // a view when strides allow, else a contiguous copy
Tensor flatten(const Tensor& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1);
Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1);
Tensor permute(const Tensor& x, Shape axes);
// Entries start, start + step, ... before end along axis; start and end are clamped like Python's.
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor narrow(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length);
Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index);  // drops the axis
Tensor expand(const Tensor& x, Shape shape);   // size-1 axes stretch (stride 0); -1 keeps a size
Tensor squeeze(const Tensor& x);               // drops every size-1 axis
Tensor squeeze(const Tensor& x, std::int64_t axis);  // drops axis if its size is 1
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
// Pieces of `size` entries along axis (the last may be shorter), or `chunks` near-equal pieces; views.
std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t axis = 0);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis = 0);
Tensor contiguous(const Tensor& x);            // x itself when already contiguous
Tensor clone(const Tensor& x);
Tensor to(const Tensor& x, DType dtype);       // x itself when dtype matches; f32 <-> f64 is differentiable

// --- joining, padding and indexing (ops/indexing.cpp) ------------------------------------------
Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis = 0);
// Constant padding as torch.nn.functional.pad: {before, after} pairs from the last axis backwards.
Tensor pad(const Tensor& x, const Shape& padding, double value = 0);
// Entries of x at `index` (1-D, i64) along axis.
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);
// out[i][j] = x[index[i][j]][j] for axis 0 (likewise for any axis); index is i64 of x's rank.
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
// ids (i64, any shape) as one-hot vectors: [..., classes], of `dtype`. Not differentiable.
Tensor one_hot(const Tensor& ids, std::int64_t classes, DType dtype = i64);

// --- neural-network ops (ops/nn.cpp) -----------------------------------------------------------
Tensor softmax(const Tensor& x, std::int64_t axis);
Tensor log_softmax(const Tensor& x, std::int64_t axis);
// Normalises over the trailing axes of `normalized_shape`, then scales by weight and adds bias
// (each optional, of that shape). The backward keeps only the mean and 1/std of each row (in f64).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Rows of weight [vocabulary, dim] for ids (i64, any shape): [..., dim]. Rows of padding_index
// (if >= 0) get no gradient.
Tensor embedding(const Tensor& ids, const Tensor& weight, std::int64_t padding_index = -1);
// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p) when
// training; x itself otherwise. The mask comes from `generator` (seeded, thread-count independent).
Tensor dropout(const Tensor& x, double p, bool training, Generator& generator);
// Depthwise 1-D convolution along axis 2 of x [B, C, L, ...]: one length-k filter per channel
// (weight [C, k]), shared across the trailing axes, zero padding on both ends (default k / 2),
// optional bias [C]. Output [B, C, L + 2·padding - k + 1, ...].
Tensor depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t padding = -1);
// Means of `segments` contiguous segments along axis. When segments does not divide the length n,
// with s = n / segments (rounded down) and r = (s + 1) · segments - n, the first r segments hold
// s entries and the others s + 1 (the Nyströmformer authors' rule).
Tensor segment_mean(const Tensor& x, std::int64_t axis, std::int64_t segments);

// --- losses (ops/loss.cpp; cross_entropy's fused kernel is in ops/nn.cpp) ------------------------
// As torch.nn.functional's. `reduction`: the mean over all elements (rows for cross_entropy and
// nll_loss), their sum, or none (the loss of each element, in the input's shape). Input and target
// must have one shape (nyx does not broadcast them: an [N, 1] prediction against an [N] target
// would silently compare every pair) and, except for the class losses, one floating dtype.
enum class Reduction { mean, sum, none };
// (input - target)²
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// |input - target|
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// Smooth L1 (Girshick 2015): with d = |input - target|, 0.5 d² / beta where d < beta, else
// d - 0.5 beta; beta = 0 is l1_loss. beta >= 0.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, double beta = 1.0);
// Huber (1964): 0.5 d² where d < delta, else delta · (d - 0.5 delta); smooth_l1_loss times delta
// when beta = delta. delta > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, double delta = 1.0);
// -(y log p + (1 - y) log(1 - p)) of probabilities p in [0, 1] (checked) against targets y in [0, 1],
// with each log clamped at -100 as in PyTorch (so p = 0 costs 100, not ∞). `weight` (optional,
// broadcast to the input's shape) rescales each element's loss; it is a constant.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            Reduction reduction = Reduction::mean);
// The same on logits x (p = sigmoid(x)) in the stable form (1 - y) x + l · log(1 + e^(-x)), with
// l = 1 + (pos_weight - 1) y: no overflow for any finite x, and the limits at x = ±∞. pos_weight
// (optional, broadcast to the input's shape: one per class for [N, C]) weighs the positive class,
// as PyTorch's. Prefer it to sigmoid followed by binary_cross_entropy.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        Reduction reduction = Reduction::mean, const Tensor& pos_weight = {});
struct CrossEntropyOptions {
    Reduction reduction = Reduction::mean;
    std::int64_t ignore_index = -100;  // targets equal to it add nothing (and are not counted by mean)
    double label_smoothing = 0.0;      // in [0, 1]
};
// Cross-entropy of logits [N, C] (or [C]) against class targets [N] (or []), i64; fused
// log-softmax and negative log-likelihood, as torch.nn.functional.cross_entropy.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
struct NllLossOptions {
    Reduction reduction = Reduction::mean;
    std::int64_t ignore_index = -100;  // targets equal to it add nothing (and are not counted by mean)
};
// Negative log-likelihood of log-probabilities [N, C] (or [C]; log_softmax's output) against class
// targets [N] (or []), i64: -log_probs[i, target_i]. cross_entropy is log_softmax then nll_loss, fused.
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, const NllLossOptions& options = {});

}  // namespace nyx::ops

namespace nyx {

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
// With a number: the number becomes a rank-0 tensor of the tensor's dtype.
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
// Comparisons give masks, as ops::eq and the others: 1 where true, 0 where false, in the operands'
// dtype (x > 0.0 on an f32 tensor is an f32 mask). Not differentiable.
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator==(double a, const Tensor& b);
Tensor operator!=(double a, const Tensor& b);
Tensor operator<(double a, const Tensor& b);
Tensor operator<=(double a, const Tensor& b);
Tensor operator>(double a, const Tensor& b);
Tensor operator>=(double a, const Tensor& b);

}  // namespace nyx
