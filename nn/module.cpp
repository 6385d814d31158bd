#include "module.hpp"

#include <algorithm>
#include <ostream>

#include <nyx/autograd/grad_mode.hpp>

namespace nyx::nn {

void Module::check_name(const std::string& name, const char* what) const {
    NYX_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name_, ": the ", what, " name \"", name,
              "\" must be non-empty and contain no '.'");
    auto taken = [&](const auto& list) {
        for (const auto& entry : list)
            if (entry.first == name) return true;
        return false;
    };
    NYX_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name_, ": the name \"", name,
              "\" is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
    check_name(name, "parameter");
    NYX_CHECK(value.defined() && is_floating(value.dtype()), type_name_, ": parameter \"", name,
              "\" must be a floating tensor (f32 or f64)");
    if (!value.is_leaf()) value = value.detach();
    value.requires_grad_();
    parameters_.emplace_back(name, value);
    return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
    check_name(name, "buffer");
    NYX_CHECK(value.defined(), type_name_, ": buffer \"", name, "\" is undefined");
    buffers_.emplace_back(name, value.detach());
    return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
    check_name(name, "module");
    NYX_CHECK(child, type_name_, ": module \"", name, "\" is null");
    children_.emplace_back(name, std::move(child));
}

// Calls visit(full_name, tensor, is_parameter) for every parameter and buffer, depth first.
template <class Visit>
void Module::walk(const std::string& prefix, const Visit& visit) const {
    for (const auto& [name, t] : parameters_) visit(prefix + name, t, true);
    for (const auto& [name, t] : buffers_) visit(prefix + name, t, false);
    for (const auto& [name, child] : children_) child->walk(prefix + name + ".", visit);
}

NamedTensors Module::named_parameters() const {
    // A parameter reached twice (a child registered in two places: tied weights) is listed once,
    // under its first name, as in PyTorch; state_dict keeps both names.
    NamedTensors out;
    std::vector<const TensorImpl*> seen;
    walk("", [&](const std::string& name, const Tensor& t, bool parameter) {
        if (!parameter || std::find(seen.begin(), seen.end(), t.impl().get()) != seen.end()) return;
        seen.push_back(t.impl().get());
        out.emplace_back(name, t);
    });
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
}

NamedTensors Module::named_buffers() const {
    NamedTensors out;
    walk("", [&](const std::string& name, const Tensor& t, bool parameter) {
        if (!parameter) out.emplace_back(name, t);
    });
    return out;
}

Module& Module::to(DType dtype) {
    NYX_CHECK(dtype == f32 || dtype == f64, type_name_, ".to: parameters are f32 or f64 (bf16 is for autocast's copies, "
                                                        "AutocastGuard); got ",
              name(dtype));
    NoGradGuard no_grad;
    walk("", [&](const std::string& tensor_name, const Tensor& t, bool) {
        // A tensor reached twice (tied weights) is converted at its first name; then its dtype matches.
        if (!is_floating(t.dtype()) || t.dtype() == dtype) return;
        TensorImpl& impl = *t.impl();
        NYX_CHECK(impl.post_accumulate_grad_hooks.empty(), type_name_, ".to: \"", tensor_name, "\" has a gradient hook (a "
                                                                                               "DataParallel's?); convert the module before wrapping it");
        const Tensor converted = t.detach().to(dtype).contiguous();  // a new storage: the dtype differs
        impl.storage = converted.impl()->storage;
        impl.shape = converted.shape();
        impl.strides = converted.strides();
        impl.offset = converted.offset();
        impl.dtype = dtype;
        impl.grad.reset();
    });
    return *this;
}

std::int64_t Module::parameter_count() const {
    std::int64_t total = 0;
    for (const Tensor& t : parameters()) total += t.numel();
    return total;
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::apply(const std::function<void(Module&)>& fn) {
    NYX_CHECK(static_cast<bool>(fn), "Module::apply: the function is empty; pass one to call on every module");
    fn(*this);
    for (auto& [name, child] : children_) child->apply(fn);
}

void Module::zero_grad() {
    for (Tensor& t : parameters()) t.set_grad(Tensor());
}

StateDict Module::state_dict() const {
    StateDict out;
    walk("", [&](const std::string& name, const Tensor& t, bool) { out.emplace(name, t.detach()); });
    return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
    std::vector<std::string> missing, unexpected, mismatched;
    StateDict own = state_dict();
    for (const auto& [name, t] : own) {
        const auto it = state.find(name);
        if (it == state.end()) missing.push_back(name);
        else if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
            mismatched.push_back(name + " (checkpoint " + nyx::to_string(it->second.shape()) + " " + std::string(nyx::name(it->second.dtype())) +
                                 ", model " + nyx::to_string(t.shape()) + " " + std::string(nyx::name(t.dtype())) + ")");
    }
    for (const auto& [name, t] : state)
        if (!own.count(name)) unexpected.push_back(name);
    if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
        auto list = [](const std::vector<std::string>& names) {
            std::string s;
            for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
            return s.empty() ? std::string("none") : s;
        };
        throw Error(detail::cat("load_state_dict into ", type_name_, ": the checkpoint does not fit the model. Missing: ",
                                list(missing), ". Unexpected: ", list(unexpected), ". Mis-shaped: ", list(mismatched), "."));
    }
    NoGradGuard no_grad;
    for (auto& [name, t] : own)
        if (const auto it = state.find(name); it != state.end()) t.copy_(it->second);
}

void Module::print(std::string& out, int indent) const {
    out += type_name_ + "(" + extra_repr();
    if (!children_.empty()) {
        out += "\n";
        for (const auto& [name, child] : children_) {
            out += std::string(static_cast<std::size_t>(indent + 2), ' ') + "(" + name + "): ";
            child->print(out, indent + 2);
            out += "\n";
        }
        out += std::string(static_cast<std::size_t>(indent), ' ');
    }
    out += ")";
}

std::string Module::to_string() const {
    std::string out;
    print(out, 0);
    return out;
}

std::ostream& operator<<(std::ostream& out, const Module& module) { return out << module.to_string(); }

}  // namespace nyx::nn
