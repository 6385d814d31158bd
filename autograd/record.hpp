#pragma once
// The tape. Each differentiable op that runs while recording is on, with an input that requires
// grad, leaves one Record: its name, where each input's gradient goes, and a backward closure that
// holds the tensors it saved. Records are numbered in creation order; backward() runs them from the
// highest number down, which is a valid topological order, so no graph sort is needed.
//
// The records are chained from the tensors that results hold (TensorImpl::grad_fn) rather than kept
// in one global list, so a graph that is never backpropagated (an evaluation that forgot
// NoGradGuard, say) is freed with its tensors instead of growing a tape forever.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <nyx/core/tensor.hpp>

namespace nyx::autograd {

using Gradients = std::vector<Tensor>;
// Receives one gradient per output (zeros for outputs that got none) and returns one per input,
// in the shape of the op's broadcast result: the engine sums each back to its input's shape.
// An undefined tensor means "no gradient for this input".
using BackwardFn = std::function<Gradients(const Gradients& grad_outputs)>;

struct Record;

// Where one input's gradient goes: into the record that produced it, or into a leaf's .grad.
struct Edge {
    std::shared_ptr<Record> record;
    int output_index = 0;
    std::shared_ptr<TensorImpl> leaf;
    Shape shape;  // the input's shape, to undo broadcasting
    DType dtype = f32;
    bool wants_gradient() const { return record || leaf; }
};

struct Record {
    const char* op;
    std::uint64_t sequence;
    std::vector<Edge> inputs;
    std::vector<Shape> output_shapes;
    std::vector<DType> output_dtypes;
    BackwardFn backward;          // reset when backward() frees the record
    bool released = false;        // backward() ran without retain_graph
    Gradients pending;            // gradients of the outputs, gathered during backward()

    Record(const char* op, std::uint64_t sequence);
    ~Record();
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;
};

// True when recording is on and some input requires grad: the op should record.
bool should_record(const std::vector<Tensor>& inputs);

// Records `op` if should_record(inputs), and marks the floating outputs as its results.
// Saved tensors go into `backward`'s captures, detached (see saved()).
void record(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn backward);

// What a backward closure keeps of a tensor: its data without its history. Saving an op's own
// output with its history would make the output and its record own each other.
inline Tensor saved(const Tensor& t) { return t.detach(); }

// Records alive now: a test checks that backward() frees them.
std::int64_t live_records();

}  // namespace nyx::autograd
