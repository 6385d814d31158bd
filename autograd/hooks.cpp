// What a backward pass does around its walk (backward_pass.hpp): post-accumulate-grad hooks on
// leaves, callbacks that hooks queue for the end of the pass, and the scope that holds them.
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "backward_pass.hpp"

namespace nyx::autograd {
namespace {
std::atomic<std::uint64_t> next_hook_id{1};
std::atomic<std::int64_t> hooks_alive{0};  // hooks on any leaf: a pass looks for hooked leaves only then
thread_local std::vector<std::function<void()>>* queued_callbacks = nullptr;  // the running pass's, if any
thread_local std::uint64_t passes_started = 0;
thread_local bool in_backward = false;
}  // namespace

// The leaves with post-accumulate-grad hooks that a backward() will reach, each with the number of
// gradients it awaits (one per edge into it): its hooks run when the last has arrived. Leaves whose
// edges are never all reached (a backward closure returned no gradient on the way) get theirs when
// the pass ends, so every hooked leaf in the graph hears once.
class pass::HookedLeaves {
  public:
    explicit HookedLeaves(const std::shared_ptr<TensorImpl>& root) {
        if (!root->grad_fn) {  // backward() of a leaf: it awaits its own gradient
            if (!root->post_accumulate_grad_hooks.empty()) add(root);
            return;
        }
        std::vector<Record*> stack{root->grad_fn.get()};
        std::unordered_set<Record*> seen{root->grad_fn.get()};
        while (!stack.empty()) {
            Record* rec = stack.back();
            stack.pop_back();
            for (const Edge& edge : rec->inputs) {
                if (edge.record && seen.insert(edge.record.get()).second) stack.push_back(edge.record.get());
                if (const auto leaf = edge.leaf.lock(); leaf && !leaf->post_accumulate_grad_hooks.empty()) add(leaf);
            }
        }
    }
    void arrived(const std::shared_ptr<TensorImpl>& leaf) {
        const auto it = index_.find(leaf.get());
        if (it != index_.end() && --leaves_[it->second].second == 0) run_hooks(leaf);
    }
    void finish() {
        for (auto& [leaf, awaited] : leaves_)
            if (awaited > 0) awaited = 0, run_hooks(leaf);
    }

  private:
    void add(const std::shared_ptr<TensorImpl>& leaf) {
        const auto [it, first] = index_.try_emplace(leaf.get(), leaves_.size());
        if (first) leaves_.push_back({leaf, 0});
        ++leaves_[it->second].second;
    }
    static void run_hooks(const std::shared_ptr<TensorImpl>& leaf) {
        const auto hooks = leaf->post_accumulate_grad_hooks;  // a copy: a hook may remove itself
        const Tensor tensor(leaf);
        for (const auto& [id, hook] : hooks) hook(tensor);
    }

    std::vector<std::pair<std::shared_ptr<TensorImpl>, std::int64_t>> leaves_;  // in the order found, for a fixed order at finish()
    std::unordered_map<TensorImpl*, std::size_t> index_;
};

bool pass::inside() { return in_backward; }

pass::Scope::Scope(const std::shared_ptr<TensorImpl>& root, bool create_graph)
    : grad_mode_(create_graph), previous_inside_(in_backward), anomaly_(is_anomaly_enabled()), previous_callbacks_(queued_callbacks) {
    if (root && hooks_alive.load() > 0) hooked_ = std::make_unique<HookedLeaves>(root);  // first: it may throw
    if (create_graph) autocast_.emplace(false);
    in_backward = true;
    queued_callbacks = &callbacks_;
    ++passes_started;
}

pass::Scope::~Scope() {
    in_backward = previous_inside_;
    queued_callbacks = previous_callbacks_;
}

void pass::Scope::backward_returned(const Record& rec, const Gradients& grad_outputs, const Gradients& grads) const {
    if (anomaly_) check_gradients(rec, grad_outputs, grads);
}

void pass::Scope::leaf_reached(const std::shared_ptr<TensorImpl>& leaf) {
    if (hooked_) hooked_->arrived(leaf);
}

void pass::Scope::finish() {
    if (hooked_) hooked_->finish();
    for (std::size_t i = 0; i < callbacks_.size(); ++i) {  // each may queue more
        const std::function<void()> callback = callbacks_[i];  // a copy: the vector may grow meanwhile
        callback();
    }
}

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

}  // namespace nyx
