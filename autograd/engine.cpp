// The engine: recording ops, the Tensor's autograd methods, and backward().
#include <atomic>
#include <cmath>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <nyx/core/kernels.hpp>

#include "grad_mode.hpp"
#include "record.hpp"

namespace nyx::autograd {
namespace {
std::atomic<std::uint64_t> next_sequence{0};
std::atomic<std::int64_t> records_alive{0};
std::atomic<std::uint64_t> next_hook_id{1};
std::atomic<std::int64_t> hooks_alive{0};  // post-accumulate-grad hooks on any leaf: backward() looks for them only then
// The callbacks queued (queue_callback) during the backward() running on this thread, if any.
thread_local std::vector<std::function<void()>>* queued_callbacks = nullptr;
thread_local std::uint64_t passes_started = 0;
thread_local bool in_backward = false;  // the ops inside backward closures: anomaly mode checks their results as gradients

// --- anomaly detection (detect_anomaly, grad_mode.hpp) ---

std::string describe(const Shape& shape, DType dtype) { return detail::cat(to_string(shape), " ", dtype); }

// "[2, 3] f32, none, [4] i64": the inputs of an op (from its tensors, or from its record's edges).
template <class Inputs, class Describe>
std::string describe_all(const Inputs& inputs, Describe describe_one) {
    std::string out;
    for (const auto& input : inputs) out += (out.empty() ? "" : ", ") + describe_one(input);
    return out.empty() ? "none" : out;
}

std::string describe(const std::vector<Tensor>& tensors) {
    return describe_all(tensors, [](const Tensor& t) { return t.defined() ? describe(t.shape(), t.dtype()) : std::string("none"); });
}

std::string describe(const std::vector<Edge>& edges) {
    return describe_all(edges, [](const Edge& e) { return e.defined ? describe(e.shape, e.dtype) : std::string("none"); });
}

std::string where(const std::string& op, const Record* rec) {
    return rec ? detail::cat("'", op, "' (record ", rec->sequence, " on the tape)")
               : detail::cat("'", op, "' (not on the tape: no input requires grad)");
}

// Forward: the first op whose output is non-finite while its inputs are finite made the anomaly.
void check_outputs(const std::string& op, const Record* rec, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
    for (std::size_t o = 0; o < outputs.size(); ++o) {
        const std::string bad = first_non_finite(outputs[o]);
        if (bad.empty()) continue;
        std::string cause = "its inputs are finite, so this op made the first non-finite value";
        for (std::size_t i = 0; i < inputs.size(); ++i)
            if (const std::string in = first_non_finite(inputs[i]); !in.empty()) {
                cause = detail::cat("its input ", i, " already holds ", in, ", which no checked op computed (data, a parameter, or a "
                                    "result from before detect_anomaly was on)");
                break;
            }
        throw Error(detail::cat("detect_anomaly: ", where(op, rec), " returned ", bad, " in output ", o, " (",
                                describe(outputs[o].shape(), outputs[o].dtype()), "); its inputs: ", describe(inputs), "; ", cause));
    }
}

// Backward: the first backward closure that returns a non-finite gradient from finite ones made the anomaly.
// Only gradients that go somewhere are checked: an op may return one for an input that wants none.
void check_gradients(const Record& rec, const Gradients& grad_outputs, const Gradients& grads) {
    for (std::size_t i = 0; i < grads.size() && i < rec.inputs.size(); ++i) {
        if (!rec.inputs[i].wants_gradient()) continue;
        const std::string bad = first_non_finite(grads[i]);
        if (bad.empty()) continue;
        std::string cause = "the gradients it received are finite, so its backward made the first non-finite value";
        for (std::size_t o = 0; o < grad_outputs.size(); ++o)
            if (const std::string in = first_non_finite(grad_outputs[o]); !in.empty()) {
                // Every backward's results are checked, so this came from the gradient given to backward()
                // or from adding up the finite gradients that reached this output.
                cause = detail::cat("the gradient it received for output ", o, " already holds ", in,
                                    ": the gradient passed to backward(), or a sum of gradients reaching that output, overflowed");
                break;
            }
        throw Error(detail::cat("detect_anomaly: the backward of ", where(rec.op, &rec), " returned ", bad, " in the gradient for input ",
                                i, " (", describe(grads[i].shape(), grads[i].dtype()), "); the op's inputs: ", describe(rec.inputs), "; ",
                                cause));
    }
}
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

std::string first_non_finite(const Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype())) return {};
    const Tensor c = kernels::contiguous(t);
    return dispatch_floating(c.dtype(), "detect_anomaly", [&]<class T>() -> std::string {
        const T* p = c.data<T>();
        for (std::int64_t i = 0; i < c.numel(); ++i)
            if (!std::isfinite(p[i])) return detail::cat(std::isnan(p[i]) ? "NaN" : p[i] > 0 ? "Inf" : "-Inf", " at element ", i);
        return {};
    });
}

bool should_record(const std::vector<Tensor>& inputs) {
    if (!is_grad_enabled()) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

void record(std::string op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn backward) {
    const bool anomaly = is_anomaly_enabled() && !in_backward;
    if (!should_record(inputs)) {
        if (anomaly) check_outputs(op, nullptr, inputs, outputs);
        return;
    }
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
    if (anomaly) check_outputs(rec->op, rec.get(), inputs, outputs);
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

// The leaves with post-accumulate-grad hooks that a backward() will reach, each with the number of
// gradients it awaits (one per edge into it): its hooks run when the last has arrived. Leaves whose
// edges are never all reached (a backward closure returned no gradient on the way) get theirs when
// the pass ends, so every hooked leaf in the graph hears once.
class HookedLeaves {
  public:
    explicit HookedLeaves(const std::shared_ptr<Record>& root) {
        std::vector<Record*> stack{root.get()};
        std::unordered_set<Record*> seen{root.get()};
        while (!stack.empty()) {
            Record* rec = stack.back();
            stack.pop_back();
            for (const Edge& edge : rec->inputs) {
                if (edge.record && seen.insert(edge.record.get()).second) stack.push_back(edge.record.get());
                if (!edge.leaf || edge.leaf->post_accumulate_grad_hooks.empty()) continue;
                const auto [it, first] = index_.try_emplace(edge.leaf.get(), leaves_.size());
                if (first) leaves_.push_back({edge.leaf, 0});
                ++leaves_[it->second].second;
            }
        }
    }
    // One gradient (or the news that there is none) has reached `leaf`.
    void arrived(const std::shared_ptr<TensorImpl>& leaf) {
        const auto it = index_.find(leaf.get());
        if (it != index_.end() && --leaves_[it->second].second == 0) run_hooks(leaf);
    }
    void finish() {
        for (auto& [leaf, awaited] : leaves_)
            if (awaited > 0) awaited = 0, run_hooks(leaf);
    }
    static void run_hooks(const std::shared_ptr<TensorImpl>& leaf) {
        const auto hooks = leaf->post_accumulate_grad_hooks;  // a copy: a hook may remove itself
        const Tensor tensor(leaf);
        for (const auto& [id, hook] : hooks) hook(tensor);
    }

  private:
    std::vector<std::pair<std::shared_ptr<TensorImpl>, std::int64_t>> leaves_;  // in the order found, for a fixed order at finish()
    std::unordered_map<TensorImpl*, std::size_t> index_;
};

struct LaterFirst {
    bool operator()(const std::shared_ptr<Record>& a, const std::shared_ptr<Record>& b) const {
        return a->sequence < b->sequence;
    }
};

void run_backward(const Tensor& root, Tensor gradient, bool retain_graph) {
    NoGradGuard no_grad;  // backward closures compute with ops, which must not record themselves
    struct InBackward {
        bool previous = in_backward;
        InBackward() { in_backward = true; }
        ~InBackward() { in_backward = previous; }
    } in_backward_scope;
    const bool anomaly = is_anomaly_enabled();
    ++passes_started;
    std::vector<std::function<void()>> callbacks;
    struct CallbackScope {
        std::vector<std::function<void()>>* previous = queued_callbacks;
        explicit CallbackScope(std::vector<std::function<void()>>* mine) { queued_callbacks = mine; }
        ~CallbackScope() { queued_callbacks = previous; }
    } callback_scope(&callbacks);
    const auto run_callbacks = [&] {  // each may queue more
        for (std::size_t i = 0; i < callbacks.size(); ++i) {
            const std::function<void()> callback = callbacks[i];  // a copy: the vector may grow meanwhile
            callback();
        }
    };
    const auto& root_impl = root.impl();
    if (!root_impl->grad_fn) {
        accumulate_into_leaf(*root_impl, std::move(gradient));
        if (!root_impl->post_accumulate_grad_hooks.empty()) HookedLeaves::run_hooks(root_impl);
        run_callbacks();
        return;
    }
    std::optional<HookedLeaves> hooked;
    if (hooks_alive.load() > 0) hooked.emplace(root_impl->grad_fn);
    // The gradients gathered for each queued record's outputs. They live here, not in the records,
    // so that an exception part-way through leaves no stale state behind for the next backward().
    std::unordered_map<Record*, Gradients> pending;
    std::priority_queue<std::shared_ptr<Record>, std::vector<std::shared_ptr<Record>>, LaterFirst> ready;
    auto deliver = [&](const std::shared_ptr<Record>& rec, int index, Tensor g) {
        auto [slot, first] = pending.try_emplace(rec.get());
        if (first) {
            slot->second.resize(rec->output_shapes.size());
            ready.push(rec);  // queued once: a record is pushed when its first gradient arrives
        }
        Tensor& sum = slot->second[static_cast<std::size_t>(index)];
        sum = sum.defined() ? kernels::add(sum, g) : std::move(g);
    };
    deliver(root_impl->grad_fn, root_impl->output_index, std::move(gradient));

    while (!ready.empty()) {
        std::shared_ptr<Record> rec = ready.top();
        ready.pop();
        NYX_CHECK(!rec->released, "backward: the records of op '", rec->op,
                  "' were freed by an earlier backward(); if you need to backpropagate through the same graph twice, "
                  "pass retain_graph=true to the first backward(), e.g. loss.backward({}, true)");
        Gradients grad_outputs = std::move(pending.at(rec.get()));
        pending.erase(rec.get());
        for (std::size_t i = 0; i < grad_outputs.size(); ++i)
            if (!grad_outputs[i].defined()) grad_outputs[i] = zeros(rec->output_shapes[i], rec->output_dtypes[i]);
        Gradients grads;
        try {
            grads = rec->backward(grad_outputs);
        } catch (const Error& e) {
            throw Error(detail::cat("backward of '", rec->op, "' (record ", rec->sequence, "): ", e.what()));
        }
        if (anomaly) check_gradients(*rec, grad_outputs, grads);
        grad_outputs.clear();
        NYX_CHECK(grads.size() == rec->inputs.size(), "backward of '", rec->op, "' returned ", grads.size(),
                  " gradients for ", rec->inputs.size(), " inputs");
        for (std::size_t i = 0; i < grads.size(); ++i) {
            const Edge& edge = rec->inputs[i];
            if (!edge.wants_gradient()) continue;
            if (!grads[i].defined()) {
                if (hooked && edge.leaf) hooked->arrived(edge.leaf);
                continue;
            }
            const Shape& shape = grads[i].shape();
            NYX_CHECK(grads[i].dtype() == edge.dtype && broadcasts_to(edge.shape, shape),
                      "backward of '", rec->op, "' returned a gradient of shape ", to_string(shape), " and dtype ",
                      grads[i].dtype(), " for input ", i, " of shape ", to_string(edge.shape), " and dtype ", edge.dtype,
                      "; a gradient must have the input's dtype and its shape or a broadcast of it");
            Tensor g = kernels::sum_to(std::move(grads[i]), edge.shape);  // broadcasting undone here, once
            if (edge.record) {
                deliver(edge.record, edge.output_index, std::move(g));
            } else {
                accumulate_into_leaf(*edge.leaf, std::move(g));
                if (hooked) hooked->arrived(edge.leaf);
            }
        }
        if (!retain_graph) {  // free the saved tensors and let go of the inputs' records
            rec->backward = nullptr;
            rec->inputs.clear();
            rec->released = true;
        }
    }
    if (hooked) hooked->finish();
    run_callbacks();
}

}  // namespace

std::uint64_t backward_pass() { return passes_started; }

void queue_callback(std::function<void()> callback) {
    NYX_CHECK(queued_callbacks, "queue_callback: call it from inside a backward() (from a hook), where there is a pass to follow");
    queued_callbacks->push_back(std::move(callback));
}

}  // namespace nyx::autograd

namespace nyx {

HookHandle& HookHandle::operator=(HookHandle&& other) noexcept {
    if (this != &other) {
        remove();
        tensor_ = std::move(other.tensor_);
        id_ = std::exchange(other.id_, 0);
    }
    return *this;
}

void HookHandle::remove() {
    if (id_ == 0) return;
    if (const auto impl = tensor_.lock()) {
        auto& hooks = impl->post_accumulate_grad_hooks;
        std::erase_if(hooks, [&](const auto& entry) { return entry.first == id_; });
    }
    --autograd::hooks_alive;
    id_ = 0;
}

HookHandle Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
    NYX_CHECK(requires_grad() && is_leaf(), "register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad "
              "(a parameter); gradients are accumulated only there");
    NYX_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook: the hook is empty");
    const std::uint64_t id = autograd::next_hook_id++;
    impl_->post_accumulate_grad_hooks.emplace_back(id, std::move(hook));
    ++autograd::hooks_alive;
    return HookHandle(impl_, id);
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
