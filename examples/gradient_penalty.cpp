// Trains a critic with a gradient penalty (WGAN-GP, Gulrajani et al. 2017): the loss holds the
// norm of the critic's gradient with respect to its input, so training differentiates a gradient.
// The critic tells two point clouds apart (two Gaussians whose centres are 4 apart, so their
// Wasserstein-1 distance is about 4) while the penalty pulls its slope between them towards 1.
// The penalty is soft: a critic with slope s along the segment scores a gap of about 4s and pays
// λ(s - 1)², so the best slope is s* = 1 + 2/λ (1.2 for λ = 10) and the gap about 4s* (4.8).
// Run: ./gradient_penalty [--steps N] [--seed S]
#include <cmath>
#include <cstdio>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;

int run(int steps, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 600, /*seed=*/11, run); }

int run(int steps, std::uint64_t seed) {
    Generator gen(seed);
    nn::Sequential critic({std::make_shared<nn::Linear>(2, 64, nn::LinearOptions{}, gen), std::make_shared<nn::Tanh>(),
                           std::make_shared<nn::Linear>(64, 64, nn::LinearOptions{}, gen), std::make_shared<nn::Tanh>(),
                           std::make_shared<nn::Linear>(64, 1, nn::LinearOptions{}, gen)});
    optim::Adam optimizer(critic.named_parameters(), {.lr = 1e-3, .beta1 = 0.5, .beta2 = 0.9});
    const double penalty_weight = 10;
    const std::int64_t batch = 128;
    // Samples of N((+2, 0), 0.25²) ("real") and N((-2, 0), 0.25²) ("fake").
    auto cloud = [&](double centre) { return randn({batch, 2}, f32, gen) * 0.25 + tensor({centre, 0.0}); };

    // The critic's mean gradient norm on points between the clouds, and the penalty on them.
    struct Slope {
        Tensor penalty;  // mean (|∇ₓ critic(x̂)| - 1)², with history (create_graph)
        double mean_norm;
    };
    auto slope_between = [&](const Tensor& real, const Tensor& fake) {
        const Tensor t = rand({batch, 1}, f32, gen);
        const Tensor between = (real * t + fake * (1.0 - t)).requires_grad_();  // a leaf: the input to differentiate by
        const Tensor score = critic(between).sum();
        const Tensor g = autograd::grad({score}, {between}, {}, {}, /*create_graph=*/true)[0];
        const Tensor norms = ((g * g).sum(1) + 1e-12).sqrt();
        return Slope{((norms - 1.0) * (norms - 1.0)).mean(), norms.mean().item<double>()};
    };

    double gap = 0, mean_norm = 0;
    for (int step = 1; step <= steps; ++step) {
        const Tensor real = cloud(2), fake = cloud(-2);
        const Tensor score_gap = critic(real).mean() - critic(fake).mean();
        const Slope slope = slope_between(real, fake);
        const Tensor loss = -score_gap + slope.penalty * penalty_weight;  // the critic maximises the gap
        optimizer.zero_grad();
        loss.backward();  // through the penalty's recorded backward: second derivatives of the critic
        optimizer.step();
        gap = score_gap.item<double>(), mean_norm = slope.mean_norm;
        if (step % std::max(1, steps / 10) == 0)
            std::printf("step %4d  score gap %.4f  mean |grad| between %.4f  penalty %.5f\n", step, gap, mean_norm,
                        slope.penalty.item<double>());
    }
    // The verdict: the slope settles at s* and the gap at 4s*. Without the penalty (or with a
    // penalty whose gradient did not reach the weights) the slope and the gap would keep growing.
    const double best_slope = 1 + 2 / penalty_weight;
    const bool learned = std::abs(mean_norm - best_slope) < 0.1 && std::abs(gap - 4 * best_slope) < 0.5;
    std::printf("score gap %.4f (expected about %.2f), mean gradient norm %.4f (expected about %.2f)%s\n", gap,
                4 * best_slope, mean_norm, best_slope, learned ? "" : ": not learning");
    return learned ? 0 : 1;
}
