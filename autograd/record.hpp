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
#include <string>
#include <vector>

#include <nyx/core/tensor.hpp>

namespace nyx::autograd {

struct Record;

using Gradients = std::vector<Tensor>;

// What a backward closure keeps of a tensor: its data without its history (an op that kept its own
// output with history would own itself through its record), and the storage's version at the time,
// so that reading it after an in-place write is an error instead of a silently wrong gradient.
//
// It also notes where the tensor came from, so that a backward that is itself recorded
// (backward(create_graph=true), autograd::grad) can differentiate through what it saved: an input
// gets back the record that made it (or its leaf); the op's own output gets the record running the
// backward, matched by identity, which is how the cycle above is avoided. Only then does get()
// return a tensor with history; otherwise it returns the detached one, as before.
class Saved {
  public:
    Saved() = default;
    explicit Saved(const Tensor& t);
    // Keeps `copy`, a copy of `source`, and checks `source`'s version too, without keeping its
    // memory alive: writing the original in place after the forward is the same error as writing a
    // saved tensor. A plain copy (contiguous, reshaped) has the source's values and its history,
    // which a recorded backward uses when the copy also has the source's shape and dtype. A
    // `converted` copy (autocast's rounded operand) has other values: a recorded backward refuses it.
    Saved(const Tensor& copy, const Tensor& source, bool converted = false);
    // Throws when the storage was written in place since saving. Inside a recorded backward the
    // result carries the saved tensor's history.
    Tensor get() const;
    operator Tensor() const { return get(); }
    bool defined() const { return tensor_.defined(); }

  private:
    Tensor tensor_;
    std::uint64_t version_ = 0;
    std::weak_ptr<Storage> source_;  // set for a copy only
    std::uint64_t source_version_ = 0;
    // Where the tensor came from (see above): the record and output it was made by, or its leaf
    // (held weakly, as edges hold leaves), or, for an output of the op saving it, its identity
    // (weak, so that another tensor made later at the same address is never taken for it).
    std::shared_ptr<Record> grad_fn_;
    int output_index_ = 0;
    std::weak_ptr<TensorImpl> leaf_;
    std::weak_ptr<TensorImpl> origin_;
    bool history_lost_ = false;  // a converted copy, or one of another dtype or shape: no use to a recorded backward
};

inline Saved saved(const Tensor& t) { return Saved(t); }
inline Saved saved(const Tensor& copy, const Tensor& source, bool converted = false) { return Saved(copy, source, converted); }
// Receives one gradient per output (zeros for outputs that got none) and returns one per input,
// in the shape of the op's broadcast result: the engine sums each back to its input's shape.
// An undefined tensor means "no gradient for this input". Incoming gradients may be any view
// (transposed, expanded): backward closures must not assume they are contiguous.
using BackwardFn = std::function<Gradients(const Gradients& grad_outputs)>;

// Where one input's gradient goes: into the record that produced it, or into a leaf's .grad. A
// leaf is held weakly: a gradient for a leaf nobody holds has nowhere to go, and a strong hold
// would make a cycle of leaf -> .grad -> its graph -> leaf after backward(create_graph=true).
struct Edge {
    std::shared_ptr<Record> record;
    int output_index = 0;
    std::weak_ptr<TensorImpl> leaf;
    bool defined = false;  // the op got a tensor here (optional inputs may be undefined)
    Shape shape;           // the input's shape (to undo broadcasting) and dtype, when defined
    DType dtype = f32;
    bool wants_gradient() const { return record || !leaf.expired(); }
};

struct Record {
    std::string op;
    std::uint64_t sequence;
    std::vector<Edge> inputs;
    std::vector<Shape> output_shapes;
    std::vector<DType> output_dtypes;
    std::vector<std::weak_ptr<TensorImpl>> output_ids;  // the outputs' identities, for Saved (compared, never read)
    BackwardFn backward;    // reset when backward() frees the record
    bool released = false;  // backward() ran without retain_graph

    Record(std::string op, std::uint64_t sequence);
    ~Record();  // releases long chains of input records iteratively, not recursively
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;
};

// True when recording is on and some input requires grad: the op should record.
bool should_record(const std::vector<Tensor>& inputs);

// Records `op` if should_record(inputs), and marks the floating outputs as its results.
// Saved tensors go into `backward`'s captures as Saved (see saved()).
void record(std::string op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn backward);

// The backward of an op that is linear in an input, y = A(x), whose closure applies Aᵀ with a
// kernel: returns kernel(dy), recorded as the op "<op> backward", whose own backward is `forward`
// (A again, made of recorded ops). So a recorded backward (create_graph) stays differentiable, and
// outside one this is just kernel(dy). Gather's backward scatters, and the scatter's backward
// gathers.
Tensor linear_backward(const std::string& op, const Tensor& dy, const std::function<Tensor(const Tensor&)>& kernel,
                       std::function<Tensor(const Tensor&)> forward);

// Inside a backward closure: true when the backward is being recorded (create_graph), so the
// gradients must be computed with ops that record, not with a fused kernel that leaves no history.
// A closure whose backward uses such a kernel branches on this (ops/README.md shows how); without
// the branch its second derivative is lost: an error naming the op where the incoming gradient has
// history, and otherwise found by gradgradcheck. A closure must keep the
// tensors it needs as Saved (saved()), never as Tensor: a tensor with history held by its own
// record's closure would keep that graph alive after backward(create_graph).
bool recording_backward();

// From inside a backward() (a post-accumulate-grad hook, say): runs `callback` once that pass has
// run all its records and hooks, before backward() returns (PyTorch's queue_callback). Data-parallel
// training waits there for the last gradients to be averaged.
void queue_callback(std::function<void()> callback);

// How many backward() passes this thread has started: a hook can tell a new pass from the rest of
// one that threw part-way (its queued callbacks never ran).
std::uint64_t backward_pass();

// For test builds: from now on `check` sees the name of every op that records, and may throw to
// refuse it (the test binaries refuse ops their op table does not list, so that every recorded
// backward is gradchecked). Set it before other threads record; empty turns it off.
void set_record_check(std::function<void(const std::string& op)> check);

// Records alive now: a test checks that backward() frees them.
std::int64_t live_records();

// Where a floating tensor first holds a non-finite value, as "NaN at element 3"; empty when it
// holds none (or is not floating). Anomaly detection's check (grad_mode.hpp).
std::string first_non_finite(const Tensor& t);

}  // namespace nyx::autograd
