#pragma once
// Initialisers, as torch.nn.init: each fills a tensor in place (without recording) from a
// Generator, and returns it. fan_in and fan_out follow PyTorch: for a weight [out, in, k...],
// fan_in = in·k..., fan_out = out·k....
#include <string_view>

#include <nyx/core/random.hpp>

namespace nyx::nn::init {

enum class Fan { in, out };

Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& constant_(Tensor& t, double value);
Tensor& normal_(Tensor& t, double mean = 0, double std = 1, Generator& generator = default_generator());
Tensor& uniform_(Tensor& t, double low = 0, double high = 1, Generator& generator = default_generator());
Tensor& xavier_uniform_(Tensor& t, double gain = 1, Generator& generator = default_generator());
Tensor& xavier_normal_(Tensor& t, double gain = 1, Generator& generator = default_generator());
// Kaiming (He) for a nonlinearity: "relu", "linear", or "leaky_relu" with slope a.
Tensor& kaiming_uniform_(Tensor& t, double a = 0, Fan fan = Fan::in, std::string_view nonlinearity = "leaky_relu",
                         Generator& generator = default_generator());
Tensor& kaiming_normal_(Tensor& t, double a = 0, Fan fan = Fan::in, std::string_view nonlinearity = "leaky_relu",
                        Generator& generator = default_generator());

double gain(std::string_view nonlinearity, double a = 0);  // torch.nn.init.calculate_gain
std::pair<std::int64_t, std::int64_t> fans(const Tensor& t);  // {fan_in, fan_out}

}  // namespace nyx::nn::init
