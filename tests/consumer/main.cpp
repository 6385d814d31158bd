// Uses the installed nyx through its umbrella header: a gradient through matmul and tanh.
#include <cmath>
#include <cstdio>

#include <nyx/nyx.hpp>

int main() {
    nyx::Tensor w = nyx::tensor({0.5, -1.0, 2.0, 0.25}, {2, 2}, nyx::f64).requires_grad_();
    nyx::Tensor x = nyx::tensor({1.0, 2.0}, {1, 2}, nyx::f64);
    nyx::Tensor loss = nyx::ops::tanh(x.matmul(w)).sum();
    loss.backward();
    // d/dw[i][j] = x[i] * (1 - tanh(z_j)²) with z = x·w = [1·0.5 + 2·2, 1·(-1) + 2·0.25] = [4.5, -0.5]
    const double g = w.grad().at<double>({1, 0});
    const double expected = 2.0 * (1 - std::tanh(4.5) * std::tanh(4.5));
    std::printf("consumer: loss %.6f, dloss/dw[1][0] %.6f (expected %.6f)\n", loss.item<double>(), g, expected);
    return std::abs(g - expected) < 1e-12 ? 0 : 1;
}
