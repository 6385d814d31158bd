#pragma once
// nyx::ops: every differentiable function of tensors. Each records itself on the tape when recording
// is on and an input requires grad; its backward is written next to its forward in the .cpp file.
// Binary ops broadcast with NumPy's rules and need both operands of one dtype (nyx never promotes
// silently: convert with .to()). Axes may be negative (counted from the end).
#include <nyx/core/tensor.hpp>

namespace nyx::ops {

// --- elementwise (ops/elementwise.cpp) ---------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // floating only
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor tanh(const Tensor& x);

// --- reductions (ops/reduce.cpp) ---------------------------------------------------------------
// Over all elements, or over `axes` (keepdim keeps them as size 1).
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& axes, bool keepdim = false);

// --- linear algebra (ops/matmul.cpp) -----------------------------------------------------------
// NumPy/PyTorch matmul: 1-D @ 1-D is a dot product; 2-D @ 2-D a matrix product; higher ranks are
// batches of matrices whose batch axes broadcast; a 1-D operand gains (then loses) a unit axis.
Tensor matmul(const Tensor& a, const Tensor& b);

// --- views and copies (ops/views.cpp) ----------------------------------------------------------
Tensor view(const Tensor& x, Shape shape);     // no copy; one size may be -1; fails when strides forbid
Tensor reshape(const Tensor& x, Shape shape);  // a view when strides allow, else a contiguous copy
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
Tensor contiguous(const Tensor& x);            // x itself when already contiguous
Tensor clone(const Tensor& x);
Tensor to(const Tensor& x, DType dtype);       // x itself when dtype matches; f32 <-> f64 is differentiable

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

}  // namespace nyx
