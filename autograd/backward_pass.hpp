#pragma once
// Internal to autograd/ (installed, but not part of the API): everything a backward pass does besides
// the walk itself. The walk, run_backward in engine.cpp, calls these at named points:
//   - pass::Scope, entered first: recording off (on for create_graph, with autocast off, so that a
//     recorded backward computes in its forward's precision), anomaly checks, post-accumulate-grad
//     hooks and queued callbacks (hooks.cpp);
//   - check_outputs and check_gradients: detect_anomaly's checks of a forward op's results and of a
//     backward closure's gradients (anomaly.cpp).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nyx/core/tensor.hpp>

#include "autocast.hpp"
#include "grad_mode.hpp"
#include "record.hpp"

namespace nyx::autograd {

class Targets;

// The walk (engine.cpp): backpropagates `gradients` from `roots` through the records that made
// them, into the leaves' .grad, or with `targets` (autograd::grad) into those instead.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients, bool retain_graph,
                  bool create_graph, Targets* targets = nullptr);

// The gradient a backward starts `output` with: `gradient` checked against it, or ones for a
// one-element output when `gradient` is undefined (tensor_autograd.cpp). `caller` names the API.
Tensor seed_gradient(const Tensor& output, const Tensor& gradient, const char* caller);

}  // namespace nyx::autograd

namespace nyx::autograd::pass {

// detect_anomaly's forward check: throws, naming the op, when an output is non-finite. `rec` is the
// op's record, or null when the op did not record.
void check_outputs(const std::string& op, const Record* rec, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs);

// detect_anomaly's backward check: throws, naming the op, when the closure returned a non-finite
// gradient for an input that wants one.
void check_gradients(const Record& rec, const Gradients& grad_outputs, const Gradients& grads);

// True on a thread that is running a backward pass (the ops inside backward closures).
bool inside();

class HookedLeaves;

// One backward pass's surroundings, held for the length of run_backward.
class Scope {
  public:
    // `root`: the tensor backward() started from, whose graph's hooked leaves will hear; null for
    // autograd::grad, which accumulates into no leaf. `create_graph`: the closures record.
    Scope(const std::shared_ptr<TensorImpl>& root, bool create_graph);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    // A backward closure returned `grads` for `grad_outputs`: the anomaly check, when it is on.
    void backward_returned(const Record& rec, const Gradients& grad_outputs, const Gradients& grads) const;
    // A gradient, or the news that none will come from this edge, reached `leaf`: its hooks run
    // when the last one it awaits has arrived.
    void leaf_reached(const std::shared_ptr<TensorImpl>& leaf);
    // The walk is done: the hooks of leaves still waiting run, then the queued callbacks. Not called
    // when the walk throws, so a failed pass runs no callbacks.
    void finish();

  private:
    AutoGradMode grad_mode_;  // closures compute with ops, which record only for create_graph
    // Off for create_graph: a recorded backward's products run in the forward's dtype (a forward
    // under autocast cannot be recorded at all; Saved says so), not in bf16 because backward or
    // grad was called inside an AutocastGuard.
    std::optional<AutocastGuard> autocast_;
    bool previous_inside_;
    bool anomaly_;
    std::vector<std::function<void()>> callbacks_;
    std::vector<std::function<void()>>* previous_callbacks_;
    std::unique_ptr<HookedLeaves> hooked_;  // null when no leaf in the graph has hooks
};

}  // namespace nyx::autograd::pass
