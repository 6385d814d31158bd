#include "optim.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>
#include <nyx/core/vector_math.hpp>

namespace nyx::optim {
namespace {

void check_lr(double lr, const char* kind) {
    NYX_CHECK(std::isfinite(lr) && lr >= 0, kind, ": the learning rate ", lr, " must be finite and >= 0");
}

// Runs body(p, g, a, b, begin, end) over the elements of a parameter and its gradient and up to two
// state tensors of its shape (all contiguous), in parallel.
template <class Body>
void for_elements(const Tensor& p, const Tensor& g, const Tensor& a, const Tensor& b, const char* kind, const Body& body) {
    dispatch_floating(p.dtype(), kind, [&]<class T>() {
        T* pp = p.data<T>();
        const T* pg = g.data<T>();
        T* pa = a.defined() ? a.data<T>() : nullptr;
        T* pb = b.defined() ? b.data<T>() : nullptr;
        parallel_for(0, p.numel(), loops::grain, [&](std::int64_t s, std::int64_t e) { body(pp, pg, pa, pb, s, e); });
    });
}

}  // namespace

Optimizer::Optimizer(nn::NamedTensors parameters, double lr, const char* kind)
    : parameters_(std::move(parameters)), lr_(lr), kind_(kind) {
    check_lr(lr, kind);
    std::map<const TensorImpl*, std::string> seen;
    for (const auto& [name, p] : parameters_) {
        NYX_CHECK(p.defined() && p.requires_grad() && p.is_leaf() && p.is_contiguous(), kind, ": parameter \"", name,
                  "\" must be a contiguous leaf that requires grad");
        NYX_CHECK(state_.emplace(name, ParameterState{}).second, kind, ": the parameter name \"", name, "\" appears twice");
        const auto [it, fresh] = seen.emplace(p.impl().get(), name);
        NYX_CHECK(fresh, kind, ": parameters \"", it->second, "\" and \"", name, "\" are the same tensor; pass it once");
    }
}

void Optimizer::set_lr(double lr) {
    check_lr(lr, kind_);
    lr_ = lr;
}

void Optimizer::step() {
    NoGradGuard no_grad;
    for (auto& [name, p] : parameters_) {
        const Tensor g = p.grad();
        if (!g.defined()) continue;
        NYX_CHECK(g.is_contiguous() && g.shape() == p.shape(), kind_, ": the gradient of \"", name, "\" has shape ",
                  to_string(g.shape()), " (parameter ", to_string(p.shape()), ")");
        update(p, g, state_.at(name));
        p.impl()->storage->bump_version();
        if (is_anomaly_enabled())  // the updates are not ops on the tape: anomaly detection checks them here
            if (const std::string bad = autograd::first_non_finite(p); !bad.empty()) {
                const std::string grad_bad = autograd::first_non_finite(g);
                throw Error(detail::cat("detect_anomaly: ", kind_, ".step() left parameter \"", name, "\" (", to_string(p.shape()), " ",
                                        p.dtype(), ") holding ", bad, "; ",
                                        grad_bad.empty() ? "its gradient is finite, so the update overflowed: lower the learning rate"
                                                         : "its gradient holds " + grad_bad));
            }
    }
}

void Optimizer::zero_grad() {
    for (auto& [name, p] : parameters_) p.set_grad(Tensor());
}

nn::StateDict Optimizer::state_dict() const {
    nn::StateDict out;
    for (const auto& [name, slots] : state_)
        for (const auto& [slot, t] : slots) out.emplace(name + ":" + slot, t);
    return out;
}

void Optimizer::load_state_dict(const nn::StateDict& state) {
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, p] : parameters_) by_name[name] = &p;
    const std::vector<std::string> expected = slots();
    std::map<std::string, ParameterState> loaded;
    for (const auto& [key, t] : state) {
        const auto colon = key.rfind(':');
        const std::string name = colon == std::string::npos ? key : key.substr(0, colon);
        const std::string slot = colon == std::string::npos ? "" : key.substr(colon + 1);
        NYX_CHECK(colon != std::string::npos && by_name.count(name), kind_, ": the state entry \"", key,
                  "\" names no parameter of this optimizer");
        NYX_CHECK(std::find(expected.begin(), expected.end(), slot) != expected.end(), kind_, ": the state entry \"", key,
                  "\" is not a slot of ", kind_);
        const Tensor& p = *by_name[name];
        if (slot == "step")
            NYX_CHECK(t.dim() == 0 && t.dtype() == i64 && t.item<std::int64_t>() >= 0, kind_, ": \"", key,
                      "\" must be a rank-0 i64 >= 0");
        else
            NYX_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), kind_, ": \"", key, "\" has shape ",
                      to_string(t.shape()), " and dtype ", t.dtype(), " but the parameter has ", to_string(p.shape()), " and ", p.dtype());
        loaded[name][slot] = kernels::contiguous_copy(t);
    }
    for (const auto& [name, slots] : loaded)
        NYX_CHECK(slots.size() == expected.size(), kind_, ": the state of \"", name, "\" has ", slots.size(), " of the ",
                  expected.size(), " slots it needs");
    for (auto& [name, slots] : state_) slots = loaded.count(name) ? loaded[name] : ParameterState{};
}

// --- SGD -------------------------------------------------------------------------------------------

std::vector<std::string> SGD::slots() const {
    return options_.momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
}

SGD::SGD(nn::NamedTensors parameters, SGDOptions options) : Optimizer(std::move(parameters), options.lr, "SGD"), options_(options) {
    NYX_CHECK(options.momentum >= 0 && options.weight_decay >= 0, "SGD: momentum and weight_decay must be >= 0");
    NYX_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

void SGD::update(Tensor& p, const Tensor& g, ParameterState& state) {
    const bool first = !state.count("momentum_buffer");
    if (options_.momentum != 0 && first) state["momentum_buffer"] = zeros_like(p);
    const Tensor buffer = options_.momentum != 0 ? state["momentum_buffer"] : Tensor();
    const double lr = this->lr(), mu = options_.momentum, damp = options_.dampening, wd = options_.weight_decay;
    const bool nesterov = options_.nesterov;
    for_elements(p, g, buffer, {}, "SGD", [&](auto* pp, auto* pg, auto* pb, auto*, std::int64_t s, std::int64_t e) {
        using T = std::remove_pointer_t<decltype(pp)>;
        for (std::int64_t i = s; i < e; ++i) {
            T d = pg[i] + T(wd) * pp[i];
            if (pb) {
                pb[i] = first ? d : T(mu) * pb[i] + T(1 - damp) * d;
                d = nesterov ? d + T(mu) * pb[i] : pb[i];
            }
            pp[i] -= T(lr) * d;
        }
    });
}

// --- Adam and AdamW ----------------------------------------------------------------------------------

Adam::Adam(nn::NamedTensors parameters, AdamOptions options) : Adam(std::move(parameters), options, 0, "Adam") {}

Adam::Adam(nn::NamedTensors parameters, AdamOptions options, double decoupled_weight_decay, const char* kind)
    : Optimizer(std::move(parameters), options.lr, kind), options_(options), decoupled_weight_decay_(decoupled_weight_decay) {
    NYX_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1, kind, ": betas (",
              options.beta1, ", ", options.beta2, ") must be in [0, 1)");
    NYX_CHECK(options.eps >= 0 && options.weight_decay >= 0 && decoupled_weight_decay >= 0, kind,
              ": eps and weight_decay must be >= 0");
}

AdamW::AdamW(nn::NamedTensors parameters, AdamWOptions o)
    : Adam(std::move(parameters), {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = 0},
           o.weight_decay, "AdamW") {}

void Adam::update(Tensor& p, const Tensor& g, ParameterState& state) {
    if (!state.count("step")) {
        state["step"] = scalar(0, i64);
        state["exp_avg"] = zeros_like(p);
        state["exp_avg_sq"] = zeros_like(p);
    }
    const std::int64_t step = ++state["step"].at<std::int64_t>({});
    const double lr = this->lr(), b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
    const double wd = options_.weight_decay, decay = 1 - lr * decoupled_weight_decay_;
    const double step_size = lr / (1 - std::pow(b1, static_cast<double>(step)));
    const double root_correction = std::sqrt(1 - std::pow(b2, static_cast<double>(step)));
    for_elements(p, g, state["exp_avg"], state["exp_avg_sq"], "Adam",
                 [&](auto* pp, auto* pg, auto* m, auto* v, std::int64_t s, std::int64_t e) {
                     using T = std::remove_pointer_t<decltype(pp)>;
                     for (std::int64_t i = s; i < e; ++i) {
                         pp[i] *= T(decay);  // AdamW's decoupled decay (1 for Adam)
                         const T grad = pg[i] + T(wd) * pp[i];
                         m[i] = m[i] * T(b1) + grad * T(1 - b1);
                         v[i] = v[i] * T(b2) + grad * grad * T(1 - b2);
                         pp[i] -= T(step_size) * m[i] / (std::sqrt(v[i]) / T(root_correction) + T(eps));
                     }
                 });
}

// --- schedules -------------------------------------------------------------------------------------

double lr_factor(const ScheduleOptions& o, std::int64_t step) {
    NYX_CHECK(o.warmup_steps >= 0 && step >= 0, "lr_factor: warm-up steps and the step must be >= 0");
    if (step < o.warmup_steps) return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, o.warmup_steps));
    if (o.kind == Schedule::constant) return 1;
    NYX_CHECK(o.total_steps > 0, "lr_factor: the linear and cosine schedules need total_steps > 0");
    const double progress = static_cast<double>(step - o.warmup_steps) /
                            static_cast<double>(std::max<std::int64_t>(1, o.total_steps - o.warmup_steps));
    if (o.kind == Schedule::linear)
        return std::max(0.0, static_cast<double>(o.total_steps - step) / static_cast<double>(std::max<std::int64_t>(1, o.total_steps - o.warmup_steps)));
    return std::max(0.0, 0.5 * (1 + std::cos(std::numbers::pi * progress)));
}

LRScheduler::LRScheduler(Optimizer& optimizer, ScheduleOptions options)
    : optimizer_(optimizer), options_(options), base_lr_(optimizer.lr()) {
    set_position(0);
}

void LRScheduler::step() { set_position(step_ + 1); }

void LRScheduler::set_position(std::int64_t step) {
    step_ = step;
    optimizer_.set_lr(base_lr_ * lr_factor(options_, step_));
}

// --- clipping --------------------------------------------------------------------------------------

namespace {
// ‖g‖₂ over every gradient, in f64. The squares are summed in f64, which holds any f32 gradient; f64
// gradients beyond about 1e154 (or below 1e-154) would overflow (underflow) that sum, so then the sum is
// taken again of each element divided by the largest magnitude, and the norm scaled back, as LAPACK's
// nrm2 does.
double gradient_norm(const std::vector<Tensor>& gradients) {
    double squares = 0;  // parameter by parameter, in order: deterministic
    for (const Tensor& g : gradients)
        dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() { squares += vmath::dot(g.data<T>(), g.data<T>(), g.numel()); });
    if (std::isnan(squares) || (std::isfinite(squares) && squares >= 1e-290)) return std::sqrt(squares);
    double largest = 0;
    for (const Tensor& g : gradients)
        dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
            for (std::int64_t i = 0; i < g.numel(); ++i) largest = std::max<double>(largest, std::abs(g.data<T>()[i]));
        });
    if (largest == 0 || !std::isfinite(largest)) return largest;
    double scaled = 0;
    for (const Tensor& g : gradients)
        dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
            for (std::int64_t i = 0; i < g.numel(); ++i) {
                const double v = static_cast<double>(g.data<T>()[i]) / largest;
                scaled += v * v;
            }
        });
    return largest * std::sqrt(scaled);
}
}  // namespace

double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm) {
    NYX_CHECK(max_norm >= 0, "clip_grad_norm: max_norm ", max_norm, " must be >= 0");
    std::vector<Tensor> gradients;
    for (const Tensor& p : parameters)
        if (const Tensor g = p.grad(); g.defined()) gradients.push_back(kernels::contiguous(g));
    const double norm = gradient_norm(gradients);
    const double factor = max_norm / (norm + 1e-6);
    if (!(factor >= 1)) {  // a NaN norm makes every gradient NaN, as in PyTorch
        NoGradGuard no_grad;
        for (const Tensor& p : parameters)
            if (Tensor g = p.grad(); g.defined()) g.mul_(factor);
    }
    return norm;
}

}  // namespace nyx::optim
