#include "init.hpp"

#include <cmath>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/ops/ops.hpp>

namespace nyx::nn::init {
namespace {
// Writes `values` into t without recording (an initialiser is not part of the model).
Tensor& assign(Tensor& t, const Tensor& values) {
    NoGradGuard no_grad;
    t.copy_(values);
    return t;
}

void check_floating(const Tensor& t, const char* op) {
    NYX_CHECK(t.defined() && is_floating(t.dtype()), op, ": needs a floating tensor");
}
}  // namespace

Tensor& zeros_(Tensor& t) { return constant_(t, 0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1); }

Tensor& constant_(Tensor& t, double value) {
    NoGradGuard no_grad;
    t.fill_(value);
    return t;
}

Tensor& normal_(Tensor& t, double mean, double std, Generator& generator) {
    check_floating(t, "normal_");
    NYX_CHECK(std >= 0, "normal_: std ", std, " must be >= 0");
    return assign(t, randn(t.shape(), t.dtype(), generator) * std + mean);
}

Tensor& uniform_(Tensor& t, double low, double high, Generator& generator) {
    check_floating(t, "uniform_");
    NYX_CHECK(low <= high, "uniform_: low ", low, " is above high ", high);
    return assign(t, rand(t.shape(), t.dtype(), generator) * (high - low) + low);
}

std::pair<std::int64_t, std::int64_t> fans(const Tensor& t) {
    NYX_CHECK(t.dim() >= 2, "fan_in and fan_out need a tensor of rank >= 2, got shape ", to_string(t.shape()));
    std::int64_t receptive = 1;
    for (std::int64_t a = 2; a < t.dim(); ++a) receptive *= t.size(a);
    return {t.size(1) * receptive, t.size(0) * receptive};
}

double gain(std::string_view nonlinearity, double a) {
    if (nonlinearity == "linear" || nonlinearity == "sigmoid") return 1;
    if (nonlinearity == "tanh") return 5.0 / 3;
    if (nonlinearity == "relu") return std::sqrt(2.0);
    if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + a * a));
    throw Error(detail::cat("gain: unknown nonlinearity \"", nonlinearity, "\" (linear, sigmoid, tanh, relu, leaky_relu)"));
}

Tensor& xavier_uniform_(Tensor& t, double g, Generator& generator) {
    const auto [in, out] = fans(t);
    const double bound = g * std::sqrt(6.0 / static_cast<double>(in + out));
    return uniform_(t, -bound, bound, generator);
}

Tensor& xavier_normal_(Tensor& t, double g, Generator& generator) {
    const auto [in, out] = fans(t);
    return normal_(t, 0, g * std::sqrt(2.0 / static_cast<double>(in + out)), generator);
}

Tensor& kaiming_uniform_(Tensor& t, double a, Fan fan, std::string_view nonlinearity, Generator& generator) {
    const auto [in, out] = fans(t);
    const double std = gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan == Fan::in ? in : out));
    return uniform_(t, -std::sqrt(3.0) * std, std::sqrt(3.0) * std, generator);
}

Tensor& kaiming_normal_(Tensor& t, double a, Fan fan, std::string_view nonlinearity, Generator& generator) {
    const auto [in, out] = fans(t);
    return normal_(t, 0, gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan == Fan::in ? in : out)), generator);
}

}  // namespace nyx::nn::init
