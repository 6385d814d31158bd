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

using Gradients = std::vector<Tensor>;

// What a backward closure keeps of a tensor: its data without its history (an op that kept its own
// output with history would own itself through its record), and the storage's version at the time,
// so that reading it after an in-place write is an error instead of a silently wrong gradient.
class Saved {
  public:
    Saved() = default;
    explicit Saved(const Tensor& t) : tensor_(t.defined() ? t.detach() : Tensor()), version_(t.defined() ? t.impl()->storage->version() : 0) {}
    // Keeps `copy`, a converted copy of `source` (autocast's bf16 operands), and checks `source`'s
    // version too, without keeping its memory alive: writing the original in place after the
    // forward is the same error as writing a saved tensor.
    Saved(const Tensor& copy, const Tensor& source) : Saved(copy) {
        source_ = source.impl()->storage;
        source_version_ = source.impl()->storage->version();
    }
    const Tensor& get() const;  // throws when the storage was written in place since saving
    operator const Tensor&() const { return get(); }

  private:
    Tensor tensor_;
    std::uint64_t version_ = 0;
    std::weak_ptr<Storage> source_;
    std::uint64_t source_version_ = 0;
};

inline Saved saved(const Tensor& t) { return Saved(t); }
inline Saved saved(const Tensor& copy, const Tensor& source) { return Saved(copy, source); }
// Receives one gradient per output (zeros for outputs that got none) and returns one per input,
// in the shape of the op's broadcast result: the engine sums each back to its input's shape.
// An undefined tensor means "no gradient for this input". Incoming gradients may be any view
// (transposed, expanded): backward closures must not assume they are contiguous.
using BackwardFn = std::function<Gradients(const Gradients& grad_outputs)>;

struct Record;

// Where one input's gradient goes: into the record that produced it, or into a leaf's .grad.
struct Edge {
    std::shared_ptr<Record> record;
    int output_index = 0;
    std::shared_ptr<TensorImpl> leaf;
    bool defined = false;  // the op got a tensor here (optional inputs may be undefined)
    Shape shape;           // the input's shape (to undo broadcasting) and dtype, when defined
    DType dtype = f32;
    bool wants_gradient() const { return record || leaf; }
};

struct Record {
    std::string op;
    std::uint64_t sequence;
    std::vector<Edge> inputs;
    std::vector<Shape> output_shapes;
    std::vector<DType> output_dtypes;
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
