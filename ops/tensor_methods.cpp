// Tensor's member functions that are ops: thin forwards to nyx::ops, so that x.transpose(0, 1) and
// ops::transpose(x, 0, 1) are one function. The in-place methods live here too: they write without
// recording, so they refuse tensors whose history the tape may need.
#include <nyx/autograd/grad_mode.hpp>
#include <nyx/core/kernels.hpp>

#include "ops.hpp"

namespace nyx {

Tensor Tensor::view(Shape shape) const { return ops::view(*this, std::move(shape)); }
Tensor Tensor::reshape(Shape shape) const { return ops::reshape(*this, std::move(shape)); }
Tensor Tensor::transpose(std::int64_t axis0, std::int64_t axis1) const { return ops::transpose(*this, axis0, axis1); }
Tensor Tensor::permute(Shape axes) const { return ops::permute(*this, std::move(axes)); }
Tensor Tensor::narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const { return ops::narrow(*this, axis, start, length); }
Tensor Tensor::slice(std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step) const {
    return ops::slice(*this, axis, start, end, step);
}
Tensor Tensor::select(std::int64_t axis, std::int64_t index) const { return ops::select(*this, axis, index); }
Tensor Tensor::expand(Shape shape) const { return ops::expand(*this, std::move(shape)); }
Tensor Tensor::squeeze() const { return ops::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t axis) const { return ops::squeeze(*this, axis); }
Tensor Tensor::unsqueeze(std::int64_t axis) const { return ops::unsqueeze(*this, axis); }
Tensor Tensor::contiguous() const { return ops::contiguous(*this); }
Tensor Tensor::clone() const { return ops::clone(*this); }
Tensor Tensor::to(DType dtype) const { return ops::to(*this, dtype); }
Tensor Tensor::sum() const { return ops::sum(*this); }
Tensor Tensor::sum(const Shape& axes, bool keepdim) const { return ops::sum(*this, axes, keepdim); }
Tensor Tensor::mean() const { return ops::mean(*this); }
Tensor Tensor::mean(const Shape& axes, bool keepdim) const { return ops::mean(*this, axes, keepdim); }
Tensor Tensor::matmul(const Tensor& other) const { return ops::matmul(*this, other); }
Tensor Tensor::exp() const { return ops::exp(*this); }
Tensor Tensor::log() const { return ops::log(*this); }
Tensor Tensor::relu() const { return ops::relu(*this); }
Tensor Tensor::tanh() const { return ops::tanh(*this); }

namespace {
// Checks that t may be written in place, and counts the write in its storage's version (which
// backward() compares against the versions of the tensors it saved).
void prepare_write(const Tensor& t, const char* op) {
    NYX_CHECK(!(t.requires_grad() && is_grad_enabled()), op, ": cannot modify a tensor that requires grad while "
              "recording (its history may be needed by backward()); do updates such as w -= lr * w.grad() inside a "
              "NoGradGuard scope");
    for (std::int64_t a = 0; a < t.dim(); ++a)
        NYX_CHECK(t.strides()[a] != 0 || t.shape()[a] <= 1, op, ": more than one element of the tensor being written "
                  "(shape ", to_string(t.shape()), ", strides ", to_string(t.strides()), ") refers to the same memory, "
                  "as in an expand()ed view; write to a .clone() instead");
    t.impl()->storage->bump_version();
}
}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
    prepare_write(*this, "fill_");
    kernels::fill(*this, value);
    return *this;
}

Tensor& Tensor::copy_(const Tensor& source) {
    prepare_write(*this, "copy_");
    kernels::copy(*this, source);
    return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
    prepare_write(*this, "add_");
    kernels::add_in_place(*this, other, alpha);
    return *this;
}

Tensor& Tensor::mul_(double factor) {
    prepare_write(*this, "mul_");
    kernels::scale(*this, factor);
    return *this;
}

}  // namespace nyx
