#pragma once
// autograd::grad: the gradients of outputs with respect to chosen inputs, returned instead of added
// into .grad (torch.autograd.grad, and libtorch's torch::autograd::grad, with the same arguments).
// With create_graph the backward pass is itself recorded, so the gradients it returns have history
// and can be differentiated again: a Hessian-vector product is two calls,
//
//     Tensor g = autograd::grad({loss}, {w}, {}, {}, /*create_graph=*/true)[0];  // dloss/dw, with history
//     Tensor hv = autograd::grad({(g * v).sum()}, {w})[0];                       // H·v
//
// and a gradient penalty adds a function of g to the loss before loss.backward().
#include <optional>
#include <vector>

#include <nyx/core/tensor.hpp>

namespace nyx::autograd {

// Returns d(Σ_k <grad_outputs[k], outputs[k]>) / d inputs[i] for each input, in the input's shape
// and dtype. Leaves' .grad are not touched, and only the part of the graph between the outputs and
// the inputs runs.
//   - outputs: tensors that require grad. inputs: tensors that require grad, leaves or not (the
//     gradient of an intermediate result is the one arriving at it).
//   - grad_outputs: one per output, of its shape and dtype; empty, or an undefined entry, means
//     ones for a one-element output (an error for a larger one, which needs it given).
//   - retain_graph: keep the records for another backward through them; defaults to create_graph.
//   - create_graph: record the backward, so that the results can be differentiated again.
//   - allow_unused: an input the outputs do not depend on gets an undefined tensor instead of an
//     error.
// Errors (nyx::Error): an output or input that does not require grad; a grad_output of the wrong
// shape or dtype; an unused input without allow_unused; records freed by an earlier backward (pass
// retain_graph there); with create_graph, an op whose backward records nothing (a fused kernel
// without a recorded branch: record.hpp's recording_backward) where its incoming gradient has
// history, named.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

}  // namespace nyx::autograd
