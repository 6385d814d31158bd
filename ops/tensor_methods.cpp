// Tensor's member functions that are ops: thin forwards to nyx::ops, so that x.transpose(0, 1) and
// ops::transpose(x, 0, 1) are one function. The in-place methods live here too: they write without
// recording, so they refuse tensors whose history the tape may need.
#include <type_traits>
#include <variant>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/core/kernels.hpp>

#include "ops.hpp"

namespace nyx {

Tensor Tensor::view(Shape shape) const { return ops::view(*this, std::move(shape)); }
Tensor Tensor::reshape(Shape shape) const { return ops::reshape(*this, std::move(shape)); }
Tensor Tensor::flatten(std::int64_t start_axis, std::int64_t end_axis) const { return ops::flatten(*this, start_axis, end_axis); }
Tensor Tensor::transpose(std::int64_t axis0, std::int64_t axis1) const { return ops::transpose(*this, axis0, axis1); }
Tensor Tensor::t() const {
    NYX_CHECK(dim() <= 2, "t: expects a tensor of rank 2 at most, got shape ", nyx::to_string(shape()), "; use transpose(a, b)");
    return dim() < 2 ? *this : transpose(0, 1);
}
Tensor Tensor::permute(Shape axes) const { return ops::permute(*this, std::move(axes)); }
Tensor Tensor::narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const { return ops::narrow(*this, axis, start, length); }
Tensor Tensor::slice(std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step) const {
    return ops::slice(*this, axis, start, end, step);
}
Tensor Tensor::select(std::int64_t axis, std::int64_t index) const { return ops::select(*this, axis, index); }
Tensor Tensor::operator[](std::int64_t index) const {
    NYX_CHECK(dim() > 0, "operator[]: a rank-0 tensor has no axis to index; use item()");
    return select(0, index);
}
Tensor Tensor::expand(Shape shape) const { return ops::expand(*this, std::move(shape)); }
Tensor Tensor::squeeze() const { return ops::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t axis) const { return ops::squeeze(*this, axis); }
Tensor Tensor::unsqueeze(std::int64_t axis) const { return ops::unsqueeze(*this, axis); }
std::vector<Tensor> Tensor::split(std::int64_t size, std::int64_t axis) const { return ops::split(*this, size, axis); }
std::vector<Tensor> Tensor::chunk(std::int64_t chunks, std::int64_t axis) const { return ops::chunk(*this, chunks, axis); }
Tensor Tensor::index_select(std::int64_t axis, const Tensor& index) const { return ops::index_select(*this, axis, index); }
Tensor Tensor::gather(std::int64_t axis, const Tensor& index) const { return ops::gather(*this, axis, index); }
Tensor Tensor::contiguous() const { return ops::contiguous(*this); }
Tensor Tensor::clone() const { return ops::clone(*this); }
Tensor Tensor::to(DType dtype) const { return ops::to(*this, dtype); }

Tensor Tensor::sum() const { return ops::sum(*this); }
Tensor Tensor::sum(const Shape& axes, bool keepdim) const { return ops::sum(*this, axes, keepdim); }
Tensor Tensor::mean() const { return ops::mean(*this); }
Tensor Tensor::mean(const Shape& axes, bool keepdim) const { return ops::mean(*this, axes, keepdim); }
Tensor Tensor::amax(const Shape& axes, bool keepdim) const { return ops::amax(*this, axes, keepdim); }
Tensor Tensor::amin(const Shape& axes, bool keepdim) const { return ops::amin(*this, axes, keepdim); }
Tensor Tensor::max() const { return ops::amax(*this); }
Tensor Tensor::min() const { return ops::amin(*this); }
ValuesIndices Tensor::max(std::int64_t axis, bool keepdim) const { return ops::max(*this, axis, keepdim); }
ValuesIndices Tensor::min(std::int64_t axis, bool keepdim) const { return ops::min(*this, axis, keepdim); }
Tensor Tensor::argmax() const { return ops::argmax(reshape({-1}), 0); }
Tensor Tensor::argmin() const { return ops::argmin(reshape({-1}), 0); }
Tensor Tensor::argmax(std::int64_t axis, bool keepdim) const { return ops::argmax(*this, axis, keepdim); }
Tensor Tensor::argmin(std::int64_t axis, bool keepdim) const { return ops::argmin(*this, axis, keepdim); }
Tensor Tensor::var(const Shape& axes, double correction, bool keepdim) const { return ops::var(*this, axes, correction, keepdim); }
Tensor Tensor::logsumexp(const Shape& axes, bool keepdim) const { return ops::logsumexp(*this, axes, keepdim); }

Tensor Tensor::matmul(const Tensor& other) const { return ops::matmul(*this, other); }
Tensor Tensor::neg() const { return ops::neg(*this); }
Tensor Tensor::abs() const { return ops::abs(*this); }
Tensor Tensor::exp() const { return ops::exp(*this); }
Tensor Tensor::log() const { return ops::log(*this); }
Tensor Tensor::sqrt() const { return ops::sqrt(*this); }
Tensor Tensor::rsqrt() const { return ops::rsqrt(*this); }
Tensor Tensor::pow(double exponent) const { return ops::pow(*this, exponent); }
Tensor Tensor::erf() const { return ops::erf(*this); }
Tensor Tensor::sigmoid() const { return ops::sigmoid(*this); }
Tensor Tensor::relu() const { return ops::relu(*this); }
Tensor Tensor::tanh() const { return ops::tanh(*this); }
Tensor Tensor::clamp(double low, double high) const { return ops::clamp(*this, low, high); }
Tensor Tensor::maximum(const Tensor& other) const { return ops::maximum(*this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return ops::minimum(*this, other); }
Tensor Tensor::softmax(std::int64_t axis) const { return ops::softmax(*this, axis); }
Tensor Tensor::log_softmax(std::int64_t axis) const { return ops::log_softmax(*this, axis); }
Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return ops::masked_fill(*this, mask, value); }
Tensor Tensor::where(const Tensor& condition, const Tensor& other) const { return ops::where(condition, *this, other); }

// Python's rules over views: an integer selects (the axis goes), a Slice slices, None adds a
// size-1 axis, and one Ellipsis stands for the axes the others leave.
Tensor Tensor::index(std::initializer_list<TensorIndex> indices) const {
    std::int64_t consumed = 0, ellipses = 0;
    for (const TensorIndex& i : indices) {
        consumed += std::holds_alternative<std::int64_t>(i.value()) || std::holds_alternative<indexing::Slice>(i.value());
        ellipses += std::holds_alternative<indexing::EllipsisType>(i.value());
    }
    NYX_CHECK(ellipses <= 1, "index: at most one Ellipsis, got ", ellipses);
    NYX_CHECK(consumed <= dim(), "index: ", consumed, " indices for a tensor of rank ", dim(), " (shape ",
              nyx::to_string(shape()), ")");
    Tensor out = *this;
    std::int64_t axis = 0;  // out's axis that the next index applies to
    for (const TensorIndex& i : indices) {
        std::visit(
            [&]<class I>(const I& index) {
                if constexpr (std::is_same_v<I, std::int64_t>) {
                    out = out.select(axis, index);
                } else if constexpr (std::is_same_v<I, indexing::Slice>) {
                    NYX_CHECK(index.step > 0, "index: a Slice's step must be positive, got ", index.step);
                    out = out.slice(axis, index.start.value_or(0), index.end.value_or(out.size(axis)), index.step);
                    ++axis;
                } else if constexpr (std::is_same_v<I, indexing::NoneType>) {
                    out = out.unsqueeze(axis);
                    ++axis;
                } else {
                    axis += dim() - consumed;
                }
            },
            i.value());
    }
    return out;
}

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

namespace {
// x op= y as x.copy_(x op y). Checked first: x must not require grad while recording (in-place
// operators are not recorded, so an activation written in place would get a silently wrong
// gradient), nor may y (its gradient would be lost); and the result must keep x's shape.
template <class Compute>
Tensor& assign(Tensor& x, const Tensor& other, const char* op, Compute compute) {
    const char symbol = op[0];
    NYX_CHECK(!(x.requires_grad() && is_grad_enabled()), op, ": the left-hand side requires grad, and in-place operators are not ",
              "recorded; write x = x ", symbol, " y (a parameter update belongs in a NoGradGuard scope)");
    NYX_CHECK(!(other.defined() && other.requires_grad() && is_grad_enabled()), op, ": the right-hand side requires grad, and ",
              "in-place operators are not recorded, so its gradient would be lost; write x = x ", symbol, " y instead");
    const Tensor result = compute();
    NYX_CHECK(result.shape() == x.shape(), op, ": the result has shape ", to_string(result.shape()), ", not the left-hand side's ",
              to_string(x.shape()), "; an in-place operator cannot change the shape (write x = x ", symbol, " y)");
    return x.copy_(result);
}
}  // namespace

Tensor& Tensor::operator+=(const Tensor& other) { return assign(*this, other, "+=", [&] { return *this + other; }); }
Tensor& Tensor::operator-=(const Tensor& other) { return assign(*this, other, "-=", [&] { return *this - other; }); }
Tensor& Tensor::operator*=(const Tensor& other) { return assign(*this, other, "*=", [&] { return *this * other; }); }
Tensor& Tensor::operator/=(const Tensor& other) { return assign(*this, other, "/=", [&] { return *this / other; }); }
Tensor& Tensor::operator+=(double other) { return assign(*this, {}, "+=", [&] { return *this + other; }); }
Tensor& Tensor::operator-=(double other) { return assign(*this, {}, "-=", [&] { return *this - other; }); }
Tensor& Tensor::operator*=(double other) { return assign(*this, {}, "*=", [&] { return *this * other; }); }
Tensor& Tensor::operator/=(double other) { return assign(*this, {}, "/=", [&] { return *this / other; }); }

// x[0] = y: a temporary view takes y's values (y broadcasts to its shape), as in libtorch.
Tensor& Tensor::operator=(const Tensor& source) && {
    NYX_CHECK(!(source.requires_grad() && is_grad_enabled()), "x[...] = y: y requires grad, and writes into a view are not "
              "recorded, so its gradient would be lost; build the tensor with ops (concat, where) instead");
    return copy_(source);
}

Tensor& Tensor::operator=(double value) && { return fill_(value); }

}  // namespace nyx
