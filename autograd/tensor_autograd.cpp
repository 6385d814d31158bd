// The Tensor's autograd methods (declared in core/tensor.hpp, whose README says why they live here):
// requires_grad_, grad, set_grad, detach and backward, the entry to the walk in engine.cpp, and
// the checks of the gradient a walk starts with, which autograd::grad shares.
#include "backward_pass.hpp"

namespace nyx {

Tensor autograd::seed_gradient(const Tensor& output, const Tensor& gradient, const char* caller) {
    NYX_CHECK(output.requires_grad(), caller, ": this tensor does not require grad, so there is nothing to backpropagate. "
              "Call .requires_grad_() on the leaves you want gradients for before computing it, and do not compute "
              "it under NoGradGuard. (A gradient taken with create_graph=true has no history when it does not depend "
              "on the inputs, as a linear function's does not, and then its derivative is zero; or when an op on the "
              "way computed its backward without recording, as a custom op's kernel does: see "
              "autograd::recording_backward.)");
    if (!gradient.defined()) {
        NYX_CHECK(output.numel() == 1, caller, ": a gradient can be implied only for a one-element output, and this one has "
                  "shape ", to_string(output.shape()), "; reduce it first (e.g. loss.sum() or loss.mean()), or pass the "
                  "gradient explicitly: y.backward(ones_like(y))");
        return ones(output.shape(), output.dtype());
    }
    NYX_CHECK(gradient.shape() == output.shape() && gradient.dtype() == output.dtype(), caller, ": the gradient has shape ",
              to_string(gradient.shape()), " and dtype ", gradient.dtype(), " but the tensor has shape ",
              to_string(output.shape()), " and dtype ", output.dtype());
    return gradient;
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
    NYX_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors of f32 or f64 can require gradients; "
              "this one is ", dtype(), dtype() == bf16 ? " (autocast keeps parameters f32 and makes bf16 copies itself)" : "");
    NYX_CHECK(is_leaf(), "requires_grad_: this tensor is the result of '", grad_fn_name(),
              "', not a leaf; gradients flow to it already. To start a new leaf from it, call .detach() first");
    impl_->requires_grad = on;
    return *this;
}

bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }

Tensor Tensor::grad() const { return checked().grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
    checked();
    if (grad.defined()) {
        NYX_CHECK(grad.shape() == shape() && grad.dtype() == dtype(), "set_grad: a gradient of shape ",
                  nyx::to_string(grad.shape()), " and dtype ", grad.dtype(), " does not fit a tensor of shape ",
                  nyx::to_string(shape()), " and dtype ", dtype());
        NYX_CHECK(grad.is_contiguous(), "set_grad: the gradient must be contiguous (backward() accumulates into it "
                  "in place); pass .contiguous()");
    }
    impl_->grad = grad.impl();
}

std::string Tensor::grad_fn_name() const { return impl_ && impl_->grad_fn ? impl_->grad_fn->op : std::string(); }

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph) const {
    const Tensor seed = autograd::seed_gradient(*this, gradient, "backward");
    autograd::run_backward({*this}, {seed}, retain_graph.value_or(create_graph), create_graph);
}

}  // namespace nyx
