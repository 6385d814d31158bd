#pragma once
// The basic layers. Each is a Module with forward(); calling the module calls forward.
#include <memory>
#include <vector>

#include <nyx/ops/ops.hpp>

#include "module.hpp"

namespace nyx::nn {

// A module that maps one tensor to one tensor: what Sequential chains.
class UnaryModule : public Module {
  public:
    using Module::Module;
    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }
};

struct LinearOptions {
    bool bias = true;
    DType dtype = f32;
};

// y = x·Wᵀ + b. PyTorch's default initialisation: W and b uniform in ±1/√in_features.
class Linear : public UnaryModule {
  public:
    Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options = {},
           Generator& generator = default_generator());
    Tensor forward(const Tensor& x) override { return ops::linear(x, weight, bias); }
    Tensor weight, bias;  // [out, in], [out] (undefined without bias)

  protected:
    std::string extra_repr() const override;

  private:
    std::int64_t in_features_, out_features_;
};

// Rows of a table for i64 ids. Initialised N(0, 1) as in PyTorch; the padding row starts at zero
// and gets no gradient.
class Embedding : public UnaryModule {
  public:
    Embedding(std::int64_t count, std::int64_t dim, std::int64_t padding_index = -1, DType dtype = f32,
              Generator& generator = default_generator());
    Tensor forward(const Tensor& ids) override { return ops::embedding(ids, weight, padding_index_); }
    Tensor weight;  // [count, dim]

  protected:
    std::string extra_repr() const override;

  private:
    std::int64_t padding_index_;
};

// Layer normalisation over the trailing axes of `shape`, with a weight (ones) and bias (zeros).
class LayerNorm : public UnaryModule {
  public:
    explicit LayerNorm(Shape shape, double eps = 1e-5, bool affine = true, DType dtype = f32);
    Tensor forward(const Tensor& x) override { return ops::layer_norm(x, shape_, weight, bias, eps_); }
    Tensor weight, bias;

  protected:
    std::string extra_repr() const override;

  private:
    Shape shape_;
    double eps_;
};

// Inverted dropout in training mode, the identity in evaluation mode. It draws its masks from
// `generator`, which it keeps a reference to: the generator must outlive the module.
class Dropout : public UnaryModule {
  public:
    explicit Dropout(double p = 0.5, Generator& generator = default_generator());
    double p() const { return p_; }
    Tensor forward(const Tensor& x) override { return ops::dropout(x, p_, is_training(), *generator_); }

  protected:
    std::string extra_repr() const override;

  private:
    double p_;
    Generator* generator_;
};

class GELU : public UnaryModule {
  public:
    explicit GELU(ops::GeluApproximation approximation = ops::GeluApproximation::none)
        : UnaryModule("GELU"), approximation_(approximation) {}
    Tensor forward(const Tensor& x) override { return ops::gelu(x, approximation_); }

  protected:
    std::string extra_repr() const override;

  private:
    ops::GeluApproximation approximation_;
};

class ReLU : public UnaryModule {
  public:
    ReLU() : UnaryModule("ReLU") {}
    Tensor forward(const Tensor& x) override { return ops::relu(x); }
};

class Tanh : public UnaryModule {
  public:
    Tanh() : UnaryModule("Tanh") {}
    Tensor forward(const Tensor& x) override { return ops::tanh(x); }
};

class Sigmoid : public UnaryModule {
  public:
    Sigmoid() : UnaryModule("Sigmoid") {}
    Tensor forward(const Tensor& x) override { return ops::sigmoid(x); }
};

// Children run in order, each on the previous one's output; named "0", "1", ...
class Sequential : public UnaryModule {
  public:
    Sequential() : UnaryModule("Sequential") {}
    Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules);
    Sequential& push_back(std::shared_ptr<UnaryModule> module);
    Tensor forward(const Tensor& x) override;
    std::size_t size() const { return modules_.size(); }
    UnaryModule& operator[](std::size_t i) const;

  private:
    std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// A list of child modules of one type, named "0", "1", ...: the blocks of a transformer.
template <class M>
class ModuleList : public Module {
  public:
    ModuleList() : Module("ModuleList") {}
    ModuleList& push_back(std::shared_ptr<M> module) {
        modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
        return *this;
    }
    std::size_t size() const { return modules_.size(); }
    M& operator[](std::size_t i) const {
        NYX_CHECK(i < modules_.size(), "ModuleList: index ", i, " is out of range for ", modules_.size(), " modules");
        return *modules_[i];
    }
    auto begin() const { return modules_.begin(); }
    auto end() const { return modules_.end(); }

  private:
    std::vector<std::shared_ptr<M>> modules_;
};

}  // namespace nyx::nn
