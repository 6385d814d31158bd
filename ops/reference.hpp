#pragma once
// The composite forms of the fused ops, built only from primitive ops (each gradchecked). They say
// what the fused kernels compute, and the tests hold the two together to 1e-10 in f64, value and
// gradient. They are slower and keep more memory; use the fused ops in models. They also give the
// fused ops their second derivatives (backward_of).
#include <functional>
#include <vector>

#include <nyx/autograd/record.hpp>

#include "ops.hpp"

namespace nyx::ops::reference {

// A fused op's backward when the backward is being recorded (autograd::recording_backward()):
// the gradients of the composite form at `inputs` for `grad_output`, taken by the tape with
// create_graph, so that they have history and can be differentiated again. `inputs` are the
// saved tensors as Saved::get() returns them there (with their history); an input that does not
// require grad gets an undefined gradient. The fused backward stays the fast path; this one runs
// only for higher-order gradients, at the composite's cost.
autograd::Gradients backward_of(const std::function<Tensor(const std::vector<Tensor>& inputs)>& composite,
                                const std::vector<Tensor>& inputs, const Tensor& grad_output);

Tensor softmax(const Tensor& x, std::int64_t axis);
Tensor log_softmax(const Tensor& x, std::int64_t axis);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps);
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
Tensor gelu(const Tensor& x, GeluApproximation approximation = GeluApproximation::none);
Tensor depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t padding = -1);

}  // namespace nyx::ops::reference
