// Stops a training run and resumes it exactly. One run trains a small encoder for 2N steps and saves
// its training state after N; a second run starts from fresh objects, loads that file, and trains
// from N to 2N. Its losses must equal the first run's bit for bit.
// Run: ./checkpoint_resume [--steps N] [--seed S]   (exits 1 if any loss or weight differs)
//
// What has to come back for that: the weights, AdamW's moments and step counts, the schedule's
// position and the learning rate, and the position of the generator that draws the dropout masks.
// nn::save_training_state writes all of it to one safetensors file (nn/checkpoint.hpp).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;
namespace fs = std::filesystem;

// A small encoder, with dropout on, so that resuming also depends on the generator's position.
const models::EncoderConfig config{.vocab = 8, .max_len = 12, .dim = 16, .heads = 2, .head_dim = 8, .hidden = 32, .layers = 2,
                                   .dropout = 0.1, .attention = nn::NystromOptions{.landmarks = 4, .conv_kernel = 3}};

// Everything a run holds. The seed matters only for a fresh start: a resumed run overwrites the
// weights, the optimizer's state, the schedule and the generator from the file.
struct Training {
    Generator generator;  // initialises the weights, then draws every dropout mask
    models::EncoderClassifier model;
    optim::AdamW optimizer;
    optim::LRScheduler schedule;

    Training(std::uint64_t seed, std::int64_t total_steps)
        : generator(seed), model(config, /*classes=*/3, generator),
          optimizer(model.named_parameters(), {.lr = 3e-3, .eps = 1e-6, .weight_decay = 0.01}),
          schedule(optimizer, {.kind = optim::Schedule::linear, .warmup_steps = 5, .total_steps = total_steps}) {}

    // One training step on the batch of step `step`; returns the loss.
    double train_step(std::int64_t step) {
        // The batch is a function of the step number alone, so both runs see the same data. (A real
        // data loader has a position of its own, which a resumed run must restore too.)
        Generator data(1000 + static_cast<std::uint64_t>(step));
        const Tensor ids = randint(0, config.vocab, {8, config.max_len}, data);  // [8, 12]
        const Tensor labels = randint(0, 3, {8}, data);                            // [8]
        const Tensor loss = ops::cross_entropy(model(ids, ones({8, config.max_len})), labels);
        optimizer.zero_grad();
        loss.backward();
        optim::clip_grad_norm(model.parameters(), 1.0);
        optimizer.step();
        schedule.step();
        return loss.item<double>();
    }
};

// A folder of our own under the system's temporary directory, removed on every way out.
struct TemporaryFolder {
    const fs::path path = fs::temp_directory_path() / ("nyx-checkpoint-resume-" + std::to_string(::getpid()));
    TemporaryFolder() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TemporaryFolder() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
};

int run(int steps, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 10, /*seed=*/7, run); }

int run(int steps, std::uint64_t seed) {
    const std::int64_t n = steps;  // N: the run stops after N steps and resumes to 2N
    const TemporaryFolder folder;
    const std::string checkpoint = folder.path / "state.safetensors";

    // The uninterrupted run: 2N steps, saving the training state once N steps are done.
    Training first(seed, 2 * n);
    std::vector<double> uninterrupted;
    for (std::int64_t step = 0; step < 2 * n; ++step) {
        if (step == n) nn::save_training_state(checkpoint, /*step=*/n, first.model, first.optimizer, &first.schedule, first.generator);
        const double loss = first.train_step(step);
        if (step >= n) uninterrupted.push_back(loss);
    }
    std::printf("saved the training state after step %lld to %s\n", static_cast<long long>(n), checkpoint.c_str());

    // The resumed run, as a new process would do it: new objects built with another seed, so that
    // everything that matters has to come from the file.
    Training second(seed + 12345, 2 * n);
    const std::int64_t start = nn::load_training_state(checkpoint, second.model, second.optimizer, &second.schedule, second.generator);
    std::vector<double> resumed;
    for (std::int64_t step = start; step < 2 * n; ++step) resumed.push_back(second.train_step(step));

    // The losses, side by side, must be the same numbers (compared with ==, not a tolerance).
    bool same = start == n && resumed == uninterrupted;
    std::printf("step  uninterrupted  resumed\n");
    for (std::size_t i = 0; i < uninterrupted.size() && i < resumed.size(); ++i)
        std::printf("%4lld  %.9g  %.9g%s\n", static_cast<long long>(n) + static_cast<long long>(i), uninterrupted[i], resumed[i],
                    uninterrupted[i] == resumed[i] ? "" : "  <- differs");
    // And so must the weights they end with.
    const nn::StateDict a = first.model.state_dict(), b = second.model.state_dict();
    for (const auto& [name, tensor] : a)
        if (tensor.to_vector() != b.at(name).to_vector()) {
            std::printf("weight %s differs after step %lld\n", name.c_str(), static_cast<long long>(2 * n));
            same = false;
        }
    std::printf("%s\n", same ? "the resumed run matches bit for bit" : "the resumed run DIFFERS");
    return same ? 0 : 1;
}
