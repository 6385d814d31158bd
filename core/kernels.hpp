#pragma once
// Raw tensor kernels that record nothing on the tape. autograd's engine uses them to accumulate and
// un-broadcast gradients; ops/ wraps them into differentiable ops. Users call ops/, not these.
#include <string_view>
#include <vector>

#include "tensor.hpp"

namespace nyx::kernels {

void copy(const Tensor& destination, const Tensor& source);  // source broadcasts; dtypes may differ
void fill(const Tensor& destination, double value);
Tensor contiguous_copy(const Tensor& x);                      // a new contiguous tensor
Tensor contiguous(const Tensor& x);                           // x itself when contiguous, else contiguous_copy(x)
Tensor add(const Tensor& a, const Tensor& b);                 // broadcasting, same dtype
void add_in_place(const Tensor& destination, const Tensor& source, double alpha);  // destination += alpha * source
void scale(const Tensor& destination, double factor);                             // destination *= factor

// Which axes of a rank-`rank` tensor `axes` names (all when empty); throws naming `op` on an
// out-of-range or repeated axis.
std::vector<bool> reduced_axes(std::int64_t rank, const Shape& axes, std::string_view op);

// Sum over `axes` (all axes when empty); keepdim keeps them as size 1. Deterministic: each output
// is summed in a fixed order, whatever the thread count; f32 sums accumulate in double. Each sum
// is multiplied by `scale` (floating tensors only) before it is rounded to the dtype, so that a
// mean of f32 values near the largest f32 does not overflow on the way.
Tensor sum(const Tensor& x, const Shape& axes, bool keepdim, double scale = 1);

// Undoes broadcasting: sums x over the axes that broadcasting added or stretched to reach
// x.shape() from `shape`. Returns x itself when the shapes already agree.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace nyx::kernels
