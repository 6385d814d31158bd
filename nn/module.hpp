#pragma once
// nn::Module: the base of every layer and model. A module registers its parameters, buffers and
// child modules by name; named_parameters() walks the tree and joins the names with dots
// ("blocks.0.attn.q_proj.weight"), which is what optimizers and checkpoints key on.
//
//     struct Mlp : nn::Module {
//         std::shared_ptr<nn::Linear> up = register_module("up", std::make_shared<nn::Linear>(64, 128));
//         Tensor scale = register_parameter("scale", ones({128}));
//     };
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nyx/core/tensor.hpp>

namespace nyx::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using StateDict = std::map<std::string, Tensor>;  // name -> tensor, as in PyTorch's state_dict

// How a statistic over the rows of a batch is completed when data-parallel training has split the
// batch across processes: each function takes this process's value and returns the whole batch's,
// differentiably. Empty functions: the whole batch is here.
struct BatchReductions {
    std::function<Tensor(const Tensor&)> max;  // the largest of one-element values (dist::max_over_ranks)
};

class Module {
  public:
    explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Registration: the returned handle is the registered tensor (the same storage and history).
    Tensor register_parameter(const std::string& name, Tensor value);  // made a leaf that requires grad
    Tensor register_buffer(const std::string& name, Tensor value);     // saved in state_dict, never trained
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
        add_child(name, child);
        return child;
    }

    // The tree, in registration order, with dotted names; a tensor reached twice is listed once.
    NamedTensors named_parameters() const;
    std::vector<Tensor> parameters() const;
    NamedTensors named_buffers() const;
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
    std::int64_t parameter_count() const;  // elements over all parameters

    // Training mode (dropout is active) or evaluation mode, for this module and all below it.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    void zero_grad();  // clears every parameter's gradient (PyTorch's set_to_none)

    // Converts every floating parameter and buffer to `dtype` (f32 or f64) in place, as PyTorch's
    // module.to(dtype): the tensors keep their identity (handles held by the module, its parent or
    // the caller see the new values) and lose their gradients. Integer buffers stay as they are.
    // Call it first, before any forward, optimizer or DataParallel: views taken earlier keep the
    // old values, graphs recorded earlier the old dtype, and an optimizer's state its old dtype (a
    // parameter with a DataParallel hook is refused). A model's config() keeps the dtype it was
    // built with. Returns *this.
    Module& to(DType dtype);

    // Calls fn on this module and every module below it, parents before children (PyTorch's apply).
    void apply(const std::function<void(Module&)>& fn);

    // For a module whose forward couples the rows of a batch (a maximum or a mean over the whole
    // batch, as Nyström's original pseudo-inverse start or batch norm): dist::DataParallel calls it
    // on every module with the reductions over all ranks, and again with empty ones when it goes, so
    // that K ranks compute what one process computes. Modules whose rows are independent need
    // nothing, and the default ignores it.
    virtual void set_batch_reductions(const BatchReductions& reductions) { (void)reductions; }

    // Parameters and buffers by dotted name: views of the live tensors, as in PyTorch (the next
    // optimizer step changes them, so write or clone them first). load_state_dict copies values in
    // place; with strict, a missing or unexpected name is an error; a shape or dtype that differs
    // always is. The error lists every problem at once.
    StateDict state_dict() const;
    void load_state_dict(const StateDict& state, bool strict = true);

    // The tree as PyTorch prints it: Linear(in_features=64, out_features=128, bias=true), nested.
    std::string to_string() const;
    const std::string& type_name() const { return type_name_; }

  protected:
    // One line of settings for to_string(), e.g. "in_features=64, out_features=128, bias=true".
    virtual std::string extra_repr() const { return ""; }

  private:
    void add_child(const std::string& name, std::shared_ptr<Module> child);
    void check_name(const std::string& name, const char* what) const;
    template <class Visit>
    void walk(const std::string& prefix, const Visit& visit) const;
    void print(std::string& out, int indent) const;

    std::string type_name_;
    NamedTensors parameters_, buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

std::ostream& operator<<(std::ostream& out, const Module& module);

}  // namespace nyx::nn
