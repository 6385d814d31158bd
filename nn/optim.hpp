#pragma once
// Optimizers with PyTorch's defaults and update rules, their per-parameter state keyed by the
// parameter's name, learning-rate schedules, and gradient clipping.
//
//     optim::AdamW opt(model.named_parameters(), {.lr = 1e-4, .eps = 1e-6, .weight_decay = 0});
//     optim::LRScheduler schedule(opt, {.kind = optim::Schedule::linear, .warmup_steps = 1000, .total_steps = 5000});
//     loss.backward(); optim::clip_grad_norm(model.parameters(), 1.0); opt.step(); schedule.step(); opt.zero_grad();
#include <map>
#include <string>

#include "module.hpp"

namespace nyx::optim {

// A parameter's optimizer state: named tensors ("exp_avg", "momentum_buffer", "step", ...).
using ParameterState = std::map<std::string, Tensor>;

class Optimizer {
  public:
    Optimizer(nn::NamedTensors parameters, double lr, const char* kind);
    virtual ~Optimizer() = default;

    void step();       // updates every parameter that has a gradient (under NoGradGuard)
    void zero_grad();  // clears the gradients (PyTorch's set_to_none)
    double lr() const { return lr_; }
    void set_lr(double lr);
    const nn::NamedTensors& parameters() const { return parameters_; }

    // The state of every parameter, keyed "<parameter name>:<slot>" (for checkpoints). These are the
    // live tensors, as in PyTorch: the next step() changes them, so write or clone them first.
    // load_state_dict checks every entry (known parameter and slot, a complete set per parameter,
    // shapes and dtypes) before it changes anything.
    nn::StateDict state_dict() const;
    void load_state_dict(const nn::StateDict& state);

  protected:
    // One parameter's update, given its gradient and its state (empty on the first step).
    virtual void update(Tensor& parameter, const Tensor& grad, ParameterState& state) = 0;
    // The slots a parameter's state holds once it has one ("step" is a rank-0 i64; the others
    // have the parameter's shape and dtype). load_state_dict checks a file against them.
    virtual std::vector<std::string> slots() const = 0;

  private:
    nn::NamedTensors parameters_;
    std::map<std::string, ParameterState> state_;
    double lr_;
    const char* kind_;
};

struct SGDOptions {
    double lr = 1e-3;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;
};

// d = g + wd·p; with momentum: b = μ·b + (1 - dampening)·d (b = d at first), d = nesterov ? d + μ·b : b; p -= lr·d
class SGD : public Optimizer {
  public:
    SGD(nn::NamedTensors parameters, SGDOptions options);

  protected:
    void update(Tensor& parameter, const Tensor& grad, ParameterState& state) override;
    std::vector<std::string> slots() const override;

  private:
    SGDOptions options_;
};

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;  // added to the gradient (L2), as torch.optim.Adam
};

struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;  // decoupled: p ← p·(1 - lr·wd) before the Adam step, as torch.optim.AdamW
};

// m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², p -= (lr / (1-β1ᵗ)) · m / (√v / √(1-β2ᵗ) + eps)
class Adam : public Optimizer {
  public:
    Adam(nn::NamedTensors parameters, AdamOptions options);

  protected:
    void update(Tensor& parameter, const Tensor& grad, ParameterState& state) override;
    std::vector<std::string> slots() const override { return {"step", "exp_avg", "exp_avg_sq"}; }
    Adam(nn::NamedTensors parameters, AdamOptions options, double decoupled_weight_decay, const char* kind);

  private:
    AdamOptions options_;
    double decoupled_weight_decay_ = 0;
};

class AdamW : public Adam {
  public:
    AdamW(nn::NamedTensors parameters, AdamWOptions options);
};

// --- learning-rate schedules ----------------------------------------------------------------------

enum class Schedule {
    constant,  // linear warm-up, then 1
    linear,    // linear warm-up, then linear decay to 0 at total_steps
    cosine,    // linear warm-up, then half a cosine down to 0 at total_steps
};

struct ScheduleOptions {
    Schedule kind = Schedule::constant;
    std::int64_t warmup_steps = 0;
    std::int64_t total_steps = 0;  // needed by linear and cosine
};

// The multiplier of the base learning rate at a (0-based) step, as Hugging Face's schedules.
double lr_factor(const ScheduleOptions& options, std::int64_t step);

// Sets the optimizer's learning rate to base·factor(step): at construction for step 0, then at
// every step(). position() is what a checkpoint saves.
class LRScheduler {
  public:
    LRScheduler(Optimizer& optimizer, ScheduleOptions options);
    void step();
    std::int64_t position() const { return step_; }
    void set_position(std::int64_t step);

  private:
    Optimizer& optimizer_;
    ScheduleOptions options_;
    double base_lr_;
    std::int64_t step_ = 0;
};

// Scales the gradients so that their global 2-norm is at most max_norm; returns the norm before
// clipping (as torch.nn.utils.clip_grad_norm_). Parameters without a gradient are skipped.
double clip_grad_norm(const std::vector<Tensor>& parameters, double max_norm);

}  // namespace nyx::optim
