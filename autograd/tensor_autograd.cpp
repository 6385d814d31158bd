// The Tensor's autograd methods (declared in core/tensor.hpp, whose README says why they live here):
// requires_grad_, grad, set_grad, detach and backward, the entry to the walk in engine.cpp.
#include "backward_pass.hpp"

namespace nyx {

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

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
    NYX_CHECK(requires_grad(), "backward: this tensor does not require grad, so there is nothing to backpropagate. "
              "Call .requires_grad_() on the leaves you want gradients for before computing it, and do not compute "
              "it under NoGradGuard");
    Tensor seed = gradient;
    if (!seed.defined()) {
        NYX_CHECK(numel() == 1, "backward: a gradient can be implied only for a one-element output, and this one has shape ",
                  nyx::to_string(shape()), "; reduce it first (e.g. loss.sum() or loss.mean()), or pass the "
                  "gradient explicitly: y.backward(ones_like(y))");
        seed = ones(shape(), dtype());
    }
    NYX_CHECK(seed.shape() == shape() && seed.dtype() == dtype(), "backward: the gradient has shape ",
              nyx::to_string(seed.shape()), " and dtype ", seed.dtype(), " but the tensor has shape ",
              nyx::to_string(shape()), " and dtype ", dtype());
    autograd::run_backward(*this, seed, retain_graph);
}

}  // namespace nyx
