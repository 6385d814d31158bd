// Fits a small MLP to y = sin(3x) on [-1, 1] as one would in PyTorch: a TensorDataset of float
// features and targets, a shuffling Loader, nn::Sequential, ops::mse_loss and SGD with momentum,
// printing the falling loss. Run: ./mlp_regression [--steps N] [--seed S]   (N: epochs)
#include <cmath>
#include <cstdio>
#include <vector>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;

int run(int epochs, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 300, /*seed=*/7, run); }

int run(int epochs, std::uint64_t seed) {
    // The data: 256 points x in [-1, 1] and their targets sin(3x), as [256, 1] columns of f32.
    const std::int64_t points = 256;
    std::vector<float> xs, ys;
    for (std::int64_t i = 0; i < points; ++i) {
        xs.push_back(-1.0F + 2.0F * static_cast<float>(i) / (points - 1));
        ys.push_back(std::sin(3.0F * xs.back()));
    }
    const Tensor x = from_vector(xs, {points, 1}), y = from_vector(ys, {points, 1});
    const data::TensorDataset dataset(x, y);
    // Shuffled batches of 32, a new order every epoch. (Shuffling and drop_last are off unless
    // asked for, as in PyTorch: an evaluation loader sees every example once, in order.)
    data::Loader loader(dataset, {.batch_size = 32, .shuffle = true, .seed = seed});

    // The model: 1 -> 32 (tanh) -> 1.
    Generator gen(seed);
    nn::Sequential model({std::make_shared<nn::Linear>(1, 32, nn::LinearOptions{}, gen), std::make_shared<nn::Tanh>(),
                          std::make_shared<nn::Linear>(32, 1, nn::LinearOptions{}, gen)});
    optim::SGD optimizer(model.named_parameters(), {.lr = 0.1, .momentum = 0.9});

    auto full_loss = [&] {  // over the whole dataset, without recording
        NoGradGuard no_grad;
        return ops::mse_loss(model(x), y).item<double>();
    };
    const double first_loss = full_loss();
    for (int epoch = 1; epoch <= epochs; ++epoch) {
        for (const data::Batch& batch : loader) {  // one epoch: 8 batches of [32, 1]
            const Tensor loss = ops::mse_loss(model(batch.inputs), batch.targets);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        if (epoch % std::max(1, epochs / 10) == 0) std::printf("epoch %4d  loss %.6f\n", epoch, full_loss());
    }
    // The verdict: the fit explains over 96% of the targets' variance (a loss below 1/25 of it).
    const double variance = y.var({}, /*correction=*/0).item<double>(), last_loss = full_loss();
    const bool learned = last_loss < variance / 25;
    std::printf("loss fell from %.6f to %.6f (the targets' variance is %.6f)%s\n", first_loss, last_loss, variance,
                learned ? "" : ": not learning");
    return learned ? 0 : 1;
}
