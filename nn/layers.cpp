#include "layers.hpp"

#include <cmath>

#include "init.hpp"

namespace nyx::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options, Generator& generator)
    : UnaryModule("Linear"), in_features_(in_features), out_features_(out_features) {
    NYX_CHECK(in_features >= 1 && out_features >= 1, "Linear: in_features ", in_features, " and out_features ",
              out_features, " must be at least 1");
    // PyTorch: kaiming_uniform_(a = √5) on the weight, which is U(±1/√in); the bias U(±1/√in) too.
    const double bound = 1 / std::sqrt(static_cast<double>(in_features));
    Tensor w = empty({out_features, in_features}, options.dtype);
    weight = register_parameter("weight", init::uniform_(w, -bound, bound, generator));
    if (options.bias) {
        Tensor b = empty({out_features}, options.dtype);
        bias = register_parameter("bias", init::uniform_(b, -bound, bound, generator));
    }
}

std::string Linear::extra_repr() const {
    return detail::cat("in_features=", in_features_, ", out_features=", out_features_, ", bias=", bias.defined() ? "true" : "false");
}

Embedding::Embedding(std::int64_t count, std::int64_t dim, std::int64_t padding_index, DType dtype, Generator& generator)
    : UnaryModule("Embedding"), padding_index_(padding_index) {
    NYX_CHECK(count >= 1 && dim >= 1, "Embedding: count ", count, " and dim ", dim, " must be at least 1");
    NYX_CHECK(padding_index < count, "Embedding: padding_index ", padding_index, " is outside the ", count, " rows");
    Tensor w = empty({count, dim}, dtype);
    init::normal_(w, 0, 1, generator);
    if (padding_index >= 0) {
        Tensor row = w.select(0, padding_index);
        init::zeros_(row);
    }
    weight = register_parameter("weight", w);
}

std::string Embedding::extra_repr() const {
    return detail::cat(weight.size(0), ", ", weight.size(1), padding_index_ >= 0 ? detail::cat(", padding_idx=", padding_index_) : "");
}

LayerNorm::LayerNorm(Shape shape, double eps, bool affine, DType dtype) : UnaryModule("LayerNorm"), shape_(std::move(shape)), eps_(eps) {
    NYX_CHECK(!shape_.empty(), "LayerNorm: the normalized shape must have at least one axis");
    if (affine) {
        weight = register_parameter("weight", ones(shape_, dtype));
        bias = register_parameter("bias", zeros(shape_, dtype));
    }
}

std::string LayerNorm::extra_repr() const {
    return detail::cat(nyx::to_string(shape_), ", eps=", eps_, ", elementwise_affine=", weight.defined() ? "true" : "false");
}

Dropout::Dropout(double p, Generator& generator) : UnaryModule("Dropout"), p_(p), generator_(&generator) {
    NYX_CHECK(p >= 0 && p <= 1, "Dropout: the probability ", p, " must be in [0, 1]");
}

std::string Dropout::extra_repr() const { return detail::cat("p=", p_); }

std::string GELU::extra_repr() const {
    return approximation_ == ops::GeluApproximation::tanh ? "approximate='tanh'" : "";
}

Sequential::Sequential(std::initializer_list<std::shared_ptr<UnaryModule>> modules) : Sequential() {
    for (const auto& m : modules) push_back(m);
}

Sequential& Sequential::push_back(std::shared_ptr<UnaryModule> module) {
    modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
    return *this;
}

Tensor Sequential::forward(const Tensor& x) {
    Tensor y = x;
    for (const auto& m : modules_) y = m->forward(y);
    return y;
}

UnaryModule& Sequential::operator[](std::size_t i) const {
    NYX_CHECK(i < modules_.size(), "Sequential: index ", i, " is out of range for ", modules_.size(), " modules");
    return *modules_[i];
}

}  // namespace nyx::nn
