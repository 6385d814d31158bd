// A Hessian-vector product of a small MLP's loss, by differentiating the gradient once more
// (autograd::grad with create_graph), checked against central differences of the gradient. No
// n×n Hessian is formed: H·v costs about two backward passes.
// Run: ./hessian_vector [--steps N] [--seed S]   (N: random directions v to check)
#include <cmath>
#include <cstdio>
#include <vector>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;

int run(int directions, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 5, /*seed=*/3, run); }

namespace {

// Σ_k <a_k, b_k> over lists of tensors
Tensor dot(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    Tensor total = (a[0] * b[0]).sum();
    for (std::size_t k = 1; k < a.size(); ++k) total = total + (a[k] * b[k]).sum();
    return total;
}

double norm(const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x * x;
    return std::sqrt(sum);
}

std::vector<double> flatten(const std::vector<Tensor>& tensors) {
    std::vector<double> out;
    for (const Tensor& t : tensors)
        for (double x : t.to_vector()) out.push_back(x);
    return out;
}

}  // namespace

int run(int directions, std::uint64_t seed) {
    // A 4 -> 16 (GELU) -> 16 (tanh) -> 1 MLP in f64, and a regression loss on 32 random points.
    Generator gen(seed);
    nn::Sequential model({std::make_shared<nn::Linear>(4, 16, nn::LinearOptions{}, gen), std::make_shared<nn::GELU>(),
                          std::make_shared<nn::Linear>(16, 16, nn::LinearOptions{}, gen), std::make_shared<nn::Tanh>(),
                          std::make_shared<nn::Linear>(16, 1, nn::LinearOptions{}, gen)});
    model.to(f64);  // second derivatives are checked in f64, as gradcheck does
    const Tensor x = randn({32, 4}, f64, gen), y = randn({32, 1}, f64, gen);
    std::vector<Tensor> params;
    for (const auto& [name, p] : model.named_parameters()) params.push_back(p);
    auto loss = [&] { return ops::mse_loss(model(x), y); };

    bool all_close = true;
    for (int d = 0; d < directions; ++d) {
        std::vector<Tensor> v;
        for (const Tensor& p : params) v.push_back(randn(p.shape(), f64, gen));

        // H·v = d/dθ <∇L(θ), v>: the gradient keeps its graph (create_graph), then is differentiated again.
        const std::vector<Tensor> g = autograd::grad({loss()}, params, {}, {}, /*create_graph=*/true);
        const std::vector<double> hv = flatten(autograd::grad({dot(g, v)}, params));

        // The same by central differences of the gradient along v: (∇L(θ + εv) - ∇L(θ - εv)) / 2ε.
        const double eps = 1e-4;
        auto gradient_at = [&](double step) {
            {
                NoGradGuard no_grad;
                for (std::size_t k = 0; k < params.size(); ++k) params[k].add_(v[k], step);
            }
            const std::vector<double> grad = flatten(autograd::grad({loss()}, params));
            NoGradGuard no_grad;
            for (std::size_t k = 0; k < params.size(); ++k) params[k].add_(v[k], -step);
            return grad;
        };
        const std::vector<double> plus = gradient_at(eps), minus = gradient_at(-eps);
        std::vector<double> difference(hv.size());
        for (std::size_t i = 0; i < hv.size(); ++i) difference[i] = hv[i] - (plus[i] - minus[i]) / (2 * eps);
        const double relative = norm(difference) / norm(hv);
        const bool close = relative <= 1e-6;
        all_close = all_close && close;
        std::printf("direction %d: |H·v| = %.6g, |H·v - finite differences| / |H·v| = %.2e%s\n", d + 1, norm(hv), relative,
                    close ? "" : "  (above 1e-6)");
    }
    std::printf(all_close ? "H·v agrees with finite differences of the gradient to 1e-6 relative in every direction\n"
                          : "H·v disagrees with finite differences\n");
    return all_close ? 0 : 1;
}
