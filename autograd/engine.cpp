// The tape: recording an op, and the backward walk over the records. What a pass does besides the
// walk (anomaly checks, hooks, callbacks) is in anomaly.cpp and hooks.cpp, called at named points.
#include <atomic>
#include <queue>
#include <unordered_map>
#include <utility>

#include <nyx/core/kernels.hpp>

#include "backward_pass.hpp"

namespace nyx::autograd {
namespace {
std::atomic<std::uint64_t> next_sequence{0};
std::atomic<std::int64_t> records_alive{0};
std::function<void(const std::string&)> record_check;  // set_record_check's
}  // namespace

Record::Record(std::string op_name, std::uint64_t number) : op(std::move(op_name)), sequence(number) { ++records_alive; }

Record::~Record() {
    --records_alive;
    // Letting `inputs` go would destroy a chain of records one inside the other, a stack frame
    // each: a graph of a million ops would overflow the stack. Unlink the records that only this
    // chain holds and destroy them one at a time instead.
    std::vector<std::shared_ptr<Record>> unlinked;
    auto take_sole_inputs = [&](Record& r) {
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

const Tensor& Saved::get() const {
    NYX_CHECK(!tensor_.defined() || tensor_.impl()->storage->version() == version_,
              "a tensor saved for backward was modified in place after it was saved (version ", version_, ", now ",
              tensor_.impl()->storage->version(), "); its gradient would be wrong. Clone the tensor before writing "
              "to it, or do the in-place write after backward()");
    if (const auto source = source_.lock())
        NYX_CHECK(source->version() == source_version_,
                  "a tensor whose bf16 copy autocast saved for backward was modified in place after the forward "
                  "(version ", source_version_, ", now ", source->version(), "); its gradient would be wrong. Clone "
                  "the tensor before writing to it, or do the in-place write after backward()");
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
        if (!is_floating(impl->dtype)) continue;  // indices and masks carry no gradient
        impl->requires_grad = true;
        impl->grad_fn = rec;
        impl->output_index = static_cast<int>(i);
    }
    rec->backward = std::move(backward);
}

namespace {

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
        sum = sum.defined() ? kernels::add(sum, g) : std::move(g);
    }
    bool empty() const { return ready_.empty(); }
    // The next record, and its outputs' gradients (zeros for outputs that got none).
    std::pair<std::shared_ptr<Record>, Gradients> pop() {
        std::shared_ptr<Record> rec = ready_.top();
        ready_.pop();
        Gradients grads = std::move(pending_.at(rec.get()));
        pending_.erase(rec.get());
        for (std::size_t i = 0; i < grads.size(); ++i)
            if (!grads[i].defined()) grads[i] = zeros(rec->output_shapes[i], rec->output_dtypes[i]);
        return {std::move(rec), std::move(grads)};
    }

  private:
    struct LaterFirst {
        bool operator()(const std::shared_ptr<Record>& a, const std::shared_ptr<Record>& b) const { return a->sequence < b->sequence; }
    };
    std::priority_queue<std::shared_ptr<Record>, std::vector<std::shared_ptr<Record>>, LaterFirst> ready_;
    std::unordered_map<Record*, Gradients> pending_;
};

// Runs a record's backward closure; an error names the op.
Gradients call_backward(const Record& rec, const Gradients& grad_outputs) {
    NYX_CHECK(!rec.released, "backward: the records of op '", rec.op,
              "' were freed by an earlier backward(); if you need to backpropagate through the same graph twice, "
              "pass retain_graph=true to the first backward(), e.g. loss.backward({}, true)");
    Gradients grads;
    try {
        grads = rec.backward(grad_outputs);
    } catch (const Error& e) {
        throw Error(detail::cat("backward of '", rec.op, "' (record ", rec.sequence, "): ", e.what()));
    }
    NYX_CHECK(grads.size() == rec.inputs.size(), "backward of '", rec.op, "' returned ", grads.size(), " gradients for ",
              rec.inputs.size(), " inputs");
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

// Adds g into a leaf's .grad; the first gradient is taken over when nothing else holds it.
void accumulate_into_leaf(TensorImpl& leaf, Tensor g) {
    if (leaf.grad) {
        kernels::add_in_place(Tensor(leaf.grad), g, 1.0);
        return;
    }
    const bool unshared = g.impl().use_count() == 1 && g.impl()->storage.use_count() == 1;
    if (!(unshared && g.is_contiguous())) g = kernels::contiguous_copy(g);
    g.impl()->requires_grad = false;
    leaf.grad = g.impl();
}

// Frees what a record kept for backward, and lets go of its inputs' records.
void release(Record& rec) {
    rec.backward = nullptr;
    rec.inputs.clear();
    rec.released = true;
}

}  // namespace

// The backward pass: run the records in reverse creation order, undo broadcasting, pass each
// gradient to the record that made the input or add it into the leaf, and free each record.
void run_backward(const Tensor& root, Tensor gradient, bool retain_graph) {
    pass::Scope pass(root.impl());  // recording off; anomaly checks, hooks, callbacks (backward_pass.hpp)
    if (!root.impl()->grad_fn) {    // the root is a leaf
        accumulate_into_leaf(*root.impl(), std::move(gradient));
        pass.leaf_reached(root.impl());
        return pass.finish();
    }
    ReadyQueue queue;
    queue.deliver(root.impl()->grad_fn, root.impl()->output_index, std::move(gradient));
    while (!queue.empty()) {
        auto [rec, grad_outputs] = queue.pop();
        Gradients grads = call_backward(*rec, grad_outputs);
        pass.backward_returned(*rec, grad_outputs, grads);
        grad_outputs.clear();
        for (std::size_t i = 0; i < grads.size(); ++i) {
            const Edge& edge = rec->inputs[i];
            if (!edge.wants_gradient()) continue;
            if (grads[i].defined()) {
                check_gradient(*rec, i, grads[i]);
                Tensor g = kernels::sum_to(grads[i], edge.shape);  // broadcasting undone here, once
                if (edge.record) {
                    queue.deliver(edge.record, edge.output_index, std::move(g));
                    continue;
                }
                accumulate_into_leaf(*edge.leaf, std::move(g));
            }
            if (edge.leaf) pass.leaf_reached(edge.leaf);  // its gradient, or the news that none comes this way
        }
        if (!retain_graph) release(*rec);
    }
    pass.finish();
}

}  // namespace nyx::autograd
