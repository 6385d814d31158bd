// The tape: recording an op, and the backward walk over the records. What a pass does besides the
// walk (anomaly checks, hooks, callbacks) is in anomaly.cpp and hooks.cpp, called at named points.
#include <algorithm>
#include <atomic>
#include <limits>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nyx/core/kernels.hpp>

#include "backward_pass.hpp"
#include "grad.hpp"

namespace nyx::autograd {
namespace {
std::atomic<std::uint64_t> next_sequence{0};
std::atomic<std::int64_t> records_alive{0};
std::function<void(const std::string&)> record_check;  // set_record_check's
// While a recorded backward (create_graph) runs a record's closure on this thread: that record, so
// that Saved::get() can give the op's own outputs their history.
thread_local const std::shared_ptr<Record>* running_record = nullptr;
}  // namespace

Record::Record(std::string op_name, std::uint64_t number) : op(std::move(op_name)), sequence(number) { ++records_alive; }

Record::~Record() {
    --records_alive;
    // Letting `inputs` go would destroy a chain of records one inside the other, a stack frame
    // each: a graph of a million ops would overflow the stack. Unlink the records that only this
    // chain holds and destroy them one at a time instead. The closure goes first: what it saved
    // may hold input records too.
    std::vector<std::shared_ptr<Record>> unlinked;
    auto take_sole_inputs = [&](Record& r) {
        r.backward = nullptr;
        for (Edge& edge : r.inputs)
            if (edge.record && edge.record.use_count() == 1) unlinked.push_back(std::move(edge.record));
        r.inputs.clear();
    };
    take_sole_inputs(*this);
    while (!unlinked.empty()) {
        std::shared_ptr<Record> r = std::move(unlinked.back());
        unlinked.pop_back();
        take_sole_inputs(*r);
    }  // r is destroyed here with no records left to release
}

Saved::Saved(const Tensor& t) {
    if (!t.defined()) return;
    tensor_ = t.detach();
    version_ = t.impl()->storage->version();
    const std::shared_ptr<TensorImpl>& impl = t.impl();
    origin_ = impl;
    if (!impl->requires_grad) return;  // a constant, or an output of the op saving it (not marked yet)
    if (impl->grad_fn) grad_fn_ = impl->grad_fn, output_index_ = impl->output_index;
    else leaf_ = impl;
}

Saved::Saved(const Tensor& copy, const Tensor& source, bool converted) : Saved(copy) {
    if (copy.impl() == source.impl()) return;  // no copy was needed: the tensor itself
    source_ = source.impl()->storage;
    source_version_ = source.impl()->storage->version();
    grad_fn_ = nullptr, leaf_.reset();
    origin_ = source.impl();
    if (converted || copy.shape() != source.shape() || copy.dtype() != source.dtype()) {  // a recorded backward could not use it
        history_lost_ = true;
        return;
    }
    if (!source.requires_grad()) return;
    if (source.impl()->grad_fn) grad_fn_ = source.impl()->grad_fn, output_index_ = source.impl()->output_index;
    else leaf_ = source.impl();
}

Tensor Saved::get() const {
    NYX_CHECK(!tensor_.defined() || tensor_.impl()->storage->version() == version_,
              "a tensor saved for backward was modified in place after it was saved (version ", version_, ", now ",
              tensor_.impl()->storage->version(), "); its gradient would be wrong. Clone the tensor before writing "
              "to it, or do the in-place write after backward()");
    if (const auto source = source_.lock())
        NYX_CHECK(source->version() == source_version_,
                  "a tensor whose copy an op saved for backward (autocast's bf16 operand, say) was modified in place after the forward "
                  "(version ", source_version_, ", now ", source->version(), "); its gradient would be wrong. Clone "
                  "the tensor before writing to it, or do the in-place write after backward()");
    if (!tensor_.defined() || !is_grad_enabled() || !running_record) return tensor_;
    // Inside a recorded backward: the same data, with the history it had.
    NYX_CHECK(!history_lost_, "this backward cannot be recorded (create_graph): the op saved a converted copy of an "
              "input (autocast's bf16 operand), which a recorded backward cannot compute with or differentiate through. "
              "Compute the forward without AutocastGuard to take higher-order gradients");
    auto with_history = [this](std::shared_ptr<Record> rec, int index) {
        Tensor t = tensor_.detach();
        t.impl()->requires_grad = true;
        t.impl()->grad_fn = std::move(rec);
        t.impl()->output_index = index;
        return t;
    };
    if (grad_fn_) return with_history(grad_fn_, output_index_);
    if (const auto leaf = leaf_.lock(); leaf && leaf->shape == tensor_.shape() && leaf->dtype == tensor_.dtype()) return Tensor(leaf);
    const Record& running = **running_record;
    const auto same = [](const std::weak_ptr<TensorImpl>& a, const std::weak_ptr<TensorImpl>& b) {
        return !a.owner_before(b) && !b.owner_before(a);
    };
    for (std::size_t i = 0; i < running.output_ids.size(); ++i)
        if (is_floating(running.output_dtypes[i]) && same(running.output_ids[i], origin_))
            return with_history(*running_record, static_cast<int>(i));
    return tensor_;
}

std::int64_t live_records() { return records_alive.load(); }

void set_record_check(std::function<void(const std::string& op)> check) { record_check = std::move(check); }

bool should_record(const std::vector<Tensor>& inputs) {
    if (!is_grad_enabled()) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

bool recording_backward() { return running_record != nullptr && is_grad_enabled(); }

void record(std::string op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn backward) {
    const bool anomaly = is_anomaly_enabled() && !pass::inside();  // a backward's ops are checked as gradients
    if (!should_record(inputs)) {
        if (anomaly) pass::check_outputs(op, nullptr, inputs, outputs);
        return;
    }
    if (record_check) record_check(op);
    auto rec = std::make_shared<Record>(std::move(op), next_sequence++);
    rec->inputs.reserve(inputs.size());
    for (const Tensor& t : inputs) {
        Edge edge;
        if (t.defined()) edge.defined = true, edge.shape = t.shape(), edge.dtype = t.dtype();
        if (t.defined() && t.requires_grad()) {
            const auto& impl = t.impl();
            if (impl->grad_fn) edge.record = impl->grad_fn, edge.output_index = impl->output_index;
            else edge.leaf = impl;
        }
        rec->inputs.push_back(std::move(edge));
    }
    if (anomaly) pass::check_outputs(rec->op, rec.get(), inputs, outputs);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const auto& impl = outputs[i].impl();
        rec->output_shapes.push_back(impl->shape);
        rec->output_dtypes.push_back(impl->dtype);
        rec->output_ids.push_back(impl);
        if (!is_floating(impl->dtype)) continue;  // indices and masks carry no gradient
        impl->requires_grad = true;
        impl->grad_fn = rec;
        impl->output_index = static_cast<int>(i);
    }
    rec->backward = std::move(backward);
}

Tensor linear_backward(const std::string& op, const Tensor& dy, const std::function<Tensor(const Tensor&)>& kernel,
                       std::function<Tensor(const Tensor&)> forward) {
    Tensor dx = kernel(dy);
    if (is_grad_enabled() && dy.requires_grad())
        record(op + " backward", {dy}, {dx}, [forward = std::move(forward)](const Gradients& g) { return Gradients{forward(g[0])}; });
    return dx;
}

namespace {

// --- the walk's own arithmetic ------------------------------------------------------------------
// Summing the gradients that meet at a tensor, undoing broadcasting and copying into .grad. In a
// recorded backward these must record too, and autograd/ cannot call ops/, so each is a kernel
// recorded under the name of the op it equals (add, sum, expand, clone: each in the op table);
// outside one (grad mode is off in a plain backward) they are the plain kernels.

Tensor expand_to(const Tensor& g, const Shape& shape);

Tensor add(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::add(a, b);
    if (is_grad_enabled()) record("add", {a, b}, {y}, [](const Gradients& g) { return Gradients{g[0], g[0]}; });
    return y;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    Tensor y = kernels::sum_to(g, shape);
    if (is_grad_enabled()) record("sum", {g}, {y}, [from = g.shape()](const Gradients& gg) { return Gradients{expand_to(gg[0], from)}; });
    return y;
}

// g (of a shape that broadcasts to `shape`) as a broadcast view of that shape
Tensor expand_to(const Tensor& g, const Shape& shape) {
    Tensor y = g.as_strided(shape, broadcast_strides(g.shape(), g.strides(), shape), g.offset());
    if (is_grad_enabled()) record("expand", {g}, {y}, [](const Gradients& gg) { return Gradients{gg[0]}; });  // summed back by the walk
    return y;
}

Tensor contiguous_copy(const Tensor& g) {
    Tensor y = kernels::contiguous_copy(g);
    if (is_grad_enabled()) record("clone", {g}, {y}, [](const Gradients& gg) { return Gradients{gg[0]}; });
    return y;
}

// The records waiting to run, highest sequence number first, each with the gradients gathered so
// far for its outputs. A record's inputs were made before it, so this order is topological and no
// graph sort is needed. The gradients live here, not in the records, so that an exception part-way
// through leaves nothing stale behind for the next backward().
class ReadyQueue {
  public:
    void deliver(const std::shared_ptr<Record>& rec, int output, Tensor g) {
        auto [slot, first] = pending_.try_emplace(rec.get());
        if (first) {
            slot->second.resize(rec->output_shapes.size());
            ready_.push(rec);  // queued once: when its first gradient arrives
        }
        Tensor& sum = slot->second[static_cast<std::size_t>(output)];
        sum = sum.defined() ? add(sum, g) : std::move(g);
    }
    bool empty() const { return ready_.empty(); }
    // The next record, and the gradients its outputs received (undefined where none came).
    std::pair<std::shared_ptr<Record>, Gradients> pop() {
        std::shared_ptr<Record> rec = ready_.top();
        ready_.pop();
        Gradients grads = std::move(pending_.at(rec.get()));
        pending_.erase(rec.get());
        return {std::move(rec), std::move(grads)};
    }

  private:
    struct LaterFirst {
        bool operator()(const std::shared_ptr<Record>& a, const std::shared_ptr<Record>& b) const { return a->sequence < b->sequence; }
    };
    std::priority_queue<std::shared_ptr<Record>, std::vector<std::shared_ptr<Record>>, LaterFirst> ready_;
    std::unordered_map<Record*, Gradients> pending_;
};

// Whether every element of a floating tensor is zero (a constant zero gradient needs no history).
bool all_zero(const Tensor& t) {
    const Tensor c = kernels::contiguous(t);
    return dispatch_with_bf16(c.dtype(), [&]<class T>() {
        const T* p = c.data<T>();
        return std::all_of(p, p + c.numel(), [](T v) { return static_cast<double>(v) == 0; });
    });
}

// In a recorded backward a gradient is linear in the incoming one, so when that has history the
// result must have it too. One without, and not simply zero, was computed by a kernel that
// recorded nothing: its second derivative would be silently lost.
void check_recorded(const Record& rec, const Gradients& grad_outputs, const Gradients& grads) {
    if (std::none_of(grad_outputs.begin(), grad_outputs.end(), [](const Tensor& g) { return g.requires_grad(); })) return;
    for (std::size_t i = 0; i < grads.size(); ++i)
        NYX_CHECK(!grads[i].defined() || !rec.inputs[i].wants_gradient() || grads[i].requires_grad() || all_zero(grads[i]),
                  "op '", rec.op, "' has no double backward: its backward computed the gradient of input ", i,
                  " without recording (with a fused kernel, say), so create_graph would lose its second derivative. "
                  "Give the op a recorded backward (branch on autograd::recording_backward(), as ops/README.md shows), "
                  "or take only first derivatives through it");
}

// Runs a record's backward closure; an error names the op.
Gradients call_backward(const std::shared_ptr<Record>& rec, const Gradients& grad_outputs, bool create_graph) {
    NYX_CHECK(!rec->released, "backward: the records of op '", rec->op,
              "' were freed by an earlier backward(); if you need to backpropagate through the same graph twice, "
              "pass retain_graph=true to the first backward() or autograd::grad(), e.g. loss.backward({}, true)");
    struct Running {  // what Saved::get() reads, for the length of the closure
        const std::shared_ptr<Record>* previous = running_record;
        explicit Running(const std::shared_ptr<Record>* now) { running_record = now; }
        ~Running() { running_record = previous; }
    } running(create_graph ? &rec : nullptr);
    Gradients grads;
    try {
        grads = rec->backward(grad_outputs);
    } catch (const Error& e) {
        throw Error(detail::cat("backward of '", rec->op, "' (record ", rec->sequence, "): ", e.what()));
    }
    NYX_CHECK(grads.size() == rec->inputs.size(), "backward of '", rec->op, "' returned ", grads.size(), " gradients for ",
              rec->inputs.size(), " inputs");
    if (create_graph && is_grad_enabled()) check_recorded(*rec, grad_outputs, grads);
    return grads;
}

// A gradient must have its input's dtype and its shape or a broadcast of it.
void check_gradient(const Record& rec, std::size_t i, const Tensor& g) {
    const Edge& edge = rec.inputs[i];
    NYX_CHECK(g.dtype() == edge.dtype && broadcasts_to(edge.shape, g.shape()), "backward of '", rec.op,
              "' returned a gradient of shape ", to_string(g.shape()), " and dtype ", g.dtype(), " for input ", i, " of shape ",
              to_string(edge.shape), " and dtype ", edge.dtype, "; a gradient must have the input's dtype and its shape or a "
              "broadcast of it");
}

// Adds g into a leaf's .grad. The first gradient is taken over when nothing else holds it. In a
// recorded backward the sum is a new tensor (as in PyTorch), so that .grad can be differentiated.
// When .grad has history of its own it is a new tensor too, so that no tensor a graph saved is
// overwritten (PyTorch adds in place there): a .grad fetched before the backward is not updated.
void accumulate_into_leaf(TensorImpl& leaf, Tensor g) {
    if (leaf.grad) {
        const Tensor grad(leaf.grad);
        if (!is_grad_enabled() && !grad.requires_grad()) {
            kernels::add_in_place(grad, g, 1.0);
            return;
        }
        leaf.grad = add(grad, g).impl();
        return;
    }
    const bool unshared = g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1;
    if (!(unshared && g.is_contiguous())) g = contiguous_copy(g);
    if (!is_grad_enabled()) g.impl()->requires_grad = false;
    leaf.grad = g.impl();
}

// Frees what a record kept for backward, and lets go of its inputs' records.
void release(Record& rec) {
    rec.backward = nullptr;
    rec.inputs.clear();
    rec.released = true;
}

}  // namespace

// autograd::grad's inputs: where each one's gradient arrives, and the records that lie on a path
// from the outputs to one of them (the only ones that need to run).
class Targets {
  public:
    Targets(const std::vector<Tensor>& inputs, const std::vector<Tensor>& roots) : captured_(inputs.size()) {
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            const auto& impl = inputs[i].impl();
            if (impl->grad_fn) {
                slots_[{impl->grad_fn.get(), impl->output_index}].push_back(i);
                slot_records_.insert(impl->grad_fn.get());
                oldest_slot_ = std::min(oldest_slot_, impl->grad_fn->sequence);
            } else {
                leaves_[impl.get()].push_back(i);
            }
        }
        find_needed(roots);
    }
    // A record freed by an earlier backward that the search met where gradients may have to pass
    // through it (its edges are gone, so where they led is unknown). Null if none.
    const Record* freed_on_the_way() const { return freed_; }
    bool needed(const Record* rec) const { return needed_.count(rec) > 0; }
    bool is_slot(const Record* rec, int output) const { return slots_.count({rec, output}) > 0; }
    // Whether a gradient delivered to (rec, output) is of use.
    bool wanted(const Record* rec, int output) const { return needed(rec) || is_slot(rec, output); }
    // The gradients a record's outputs received, before it runs: those of inputs made there.
    void arrived_at_record(const Record* rec, const Gradients& grads) {
        for (std::size_t o = 0; o < grads.size(); ++o)
            if (const auto it = slots_.find({rec, static_cast<int>(o)}); it != slots_.end())
                for (std::size_t i : it->second) captured_[i] = grads[o];
    }
    // A gradient reached a leaf: kept if the leaf is an input (summed when several arrive).
    void arrived_at_leaf(const TensorImpl* leaf, const Tensor& g) {
        if (const auto it = leaves_.find(leaf); it != leaves_.end())
            for (std::size_t i : it->second) captured_[i] = captured_[i].defined() ? add(captured_[i], g) : g;
    }
    std::vector<Tensor>& captured() { return captured_; }

  private:
    struct SlotHash {
        std::size_t operator()(const std::pair<const Record*, int>& s) const {
            return std::hash<const Record*>()(s.first) ^ static_cast<std::size_t>(s.second);
        }
    };
    // Depth first from the roots' records, marking each record from which an input is reachable.
    // Iterative: a graph may be millions of records deep. When every input was made by a record
    // (none is a leaf), records older than the oldest of those cannot lead to one (a record's inputs
    // are older than it) and are not searched: gradients taken part-way down a deep graph cost what
    // that part costs.
    void find_needed(const std::vector<Tensor>& roots) {
        struct Frame {
            const Record* rec;
            std::size_t next = 0;
            bool leads = false;
        };
        std::unordered_set<const Record*> visited;
        std::vector<Frame> stack;
        auto visit = [&](const Record* rec) {
            if (leaves_.empty() && rec->sequence < oldest_slot_) return;
            if (!visited.insert(rec).second) return;
            // A freed record is harmless where an input's gradient stops at it and no other input
            // can lie beyond it.
            const bool stops_here = slot_records_.count(rec) && leaves_.empty() && oldest_slot_ >= rec->sequence;
            if (rec->released && !stops_here && !freed_) freed_ = rec;
            stack.push_back({rec, 0, false});
        };
        for (const Tensor& root : roots)
            if (root.impl()->grad_fn) visit(root.impl()->grad_fn.get());
        while (!stack.empty()) {
            Frame& top = stack.back();
            if (top.next < top.rec->inputs.size()) {
                const Edge& edge = top.rec->inputs[top.next++];
                if (const auto leaf = edge.leaf.lock(); leaf && leaves_.count(leaf.get())) top.leads = true;
                if (!edge.record) continue;
                if (is_slot(edge.record.get(), edge.output_index) || needed(edge.record.get())) top.leads = true;
                visit(edge.record.get());  // pushes it unless already done (the graph has no cycles)
                continue;
            }
            const Frame done = top;
            stack.pop_back();
            if (done.leads) needed_.insert(done.rec);
            if (!stack.empty() && done.leads) stack.back().leads = true;
        }
    }

    std::unordered_map<std::pair<const Record*, int>, std::vector<std::size_t>, SlotHash> slots_;
    std::unordered_map<const TensorImpl*, std::vector<std::size_t>> leaves_;
    std::unordered_set<const Record*> needed_;
    std::vector<Tensor> captured_;
    std::unordered_set<const Record*> slot_records_;
    std::uint64_t oldest_slot_ = std::numeric_limits<std::uint64_t>::max();
    const Record* freed_ = nullptr;
};

// The backward pass: run the records in reverse creation order, undo broadcasting, pass each
// gradient to the record that made the input and, for backward(), add it into the leaf. With
// `targets` (autograd::grad) only the records on a path to a target run, and the gradients arriving
// at the targets are kept there instead. Each record that ran is freed unless retain_graph.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients, bool retain_graph,
                  bool create_graph, Targets* targets) {
    const bool accumulate = targets == nullptr;
    pass::Scope pass(accumulate ? roots.front().impl() : nullptr, create_graph);  // recording, anomaly checks, hooks, callbacks
    ReadyQueue queue;
    for (std::size_t r = 0; r < roots.size(); ++r) {
        const auto& root = roots[r].impl();
        if (root->grad_fn) {
            if (accumulate || targets->wanted(root->grad_fn.get(), root->output_index))
                queue.deliver(root->grad_fn, root->output_index, gradients[r]);
        } else if (accumulate) {  // backward() of a leaf
            accumulate_into_leaf(*root, gradients[r]);
            pass.leaf_reached(root);
        } else {
            targets->arrived_at_leaf(root.get(), gradients[r]);
        }
    }
    while (!queue.empty()) {
        auto [rec, grad_outputs] = queue.pop();
        if (!accumulate) {
            targets->arrived_at_record(rec.get(), grad_outputs);
            if (!targets->needed(rec.get())) continue;
        }
        for (std::size_t i = 0; i < grad_outputs.size(); ++i)  // zeros for outputs that got none
            if (!grad_outputs[i].defined()) grad_outputs[i] = zeros(rec->output_shapes[i], rec->output_dtypes[i]);
        Gradients grads = call_backward(rec, grad_outputs, create_graph);
        pass.backward_returned(*rec, grad_outputs, grads);
        grad_outputs.clear();
        for (std::size_t i = 0; i < grads.size(); ++i) {
            const Edge& edge = rec->inputs[i];
            if (grads[i].defined() && edge.wants_gradient()) check_gradient(*rec, i, grads[i]);
            if (edge.record) {
                if (!grads[i].defined() || (!accumulate && !targets->wanted(edge.record.get(), edge.output_index))) continue;
                queue.deliver(edge.record, edge.output_index, sum_to(grads[i], edge.shape));  // broadcasting undone here, once
                continue;
            }
            const std::shared_ptr<TensorImpl> leaf = edge.leaf.lock();
            if (!leaf) continue;
            if (!accumulate) {
                if (grads[i].defined()) targets->arrived_at_leaf(leaf.get(), sum_to(grads[i], edge.shape));
                continue;
            }
            if (grads[i].defined()) accumulate_into_leaf(*leaf, sum_to(grads[i], edge.shape));
            pass.leaf_reached(leaf);  // its gradient, or the news that none comes this way
        }
        if (!retain_graph) release(*rec);
    }
    pass.finish();
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs, const std::vector<Tensor>& grad_outputs,
                         std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
    NYX_CHECK(!outputs.empty(), "autograd::grad: no outputs given");
    NYX_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "autograd::grad: ", grad_outputs.size(),
              " grad_outputs for ", outputs.size(), " outputs; give one per output, or none");
    for (std::size_t i = 0; i < inputs.size(); ++i)
        NYX_CHECK(inputs[i].requires_grad(), "autograd::grad: input ", i, " does not require grad, so it has no gradient; "
                  "call .requires_grad_() on it before computing the outputs");
    std::vector<Tensor> seeds;
    for (std::size_t k = 0; k < outputs.size(); ++k)
        seeds.push_back(seed_gradient(outputs[k], grad_outputs.empty() ? Tensor() : grad_outputs[k], "autograd::grad"));
    Targets targets(inputs, outputs);
    if (const Record* freed = targets.freed_on_the_way())
        throw Error(detail::cat("autograd::grad: the records of op '", freed->op, "', on the way from the outputs to the "
                                "inputs, were freed by an earlier backward(); if you need to backpropagate through the "
                                "same graph twice, pass retain_graph=true to the first backward() or autograd::grad()"));
    run_backward(outputs, seeds, retain_graph.value_or(create_graph), create_graph, &targets);
    std::vector<Tensor> result = std::move(targets.captured());
    for (std::size_t i = 0; i < result.size(); ++i) {
        if (result[i].defined()) continue;
        NYX_CHECK(allow_unused, "autograd::grad: input ", i, " (shape ", to_string(inputs[i].shape()),
                  ") was not used to compute the outputs, so it has no gradient; pass allow_unused=true to get an "
                  "undefined tensor for it instead");
    }
    return result;
}

}  // namespace nyx::autograd
