#pragma once
// The composite forms of the fused ops, built only from primitive ops (each gradchecked). They say
// what the fused kernels compute, and the tests hold the two together to 1e-10 in f64, value and
// gradient. They are slower and keep more memory; use the fused ops in models.
#include "ops.hpp"

namespace nyx::ops::reference {

Tensor softmax(const Tensor& x, std::int64_t axis);
Tensor log_softmax(const Tensor& x, std::int64_t axis);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps);
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
Tensor gelu(const Tensor& x, GeluApproximation approximation = GeluApproximation::none);

}  // namespace nyx::ops::reference
