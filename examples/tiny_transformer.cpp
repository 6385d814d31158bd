// Trains a tiny transformer classifier (models::EncoderClassifier with Nyström attention) on a
// synthetic sequence task, printing the loss and accuracy as it learns.
// Run: ./tiny_transformer [--steps N] [--seed S]   (exits 1 unless held-out accuracy ends clearly above chance)
//
// The task: a sequence of 16 to 32 tokens drawn from 1..6, padded with 0 to 32; the label is 1 when
// token 3 appears more often than token 4, else 0. The two classes are equally likely and never
// tied, so chance is 50%. The encoder mean-pools over positions, which makes counting natural.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;

constexpr std::int64_t max_length = 32, min_length = 16;

struct Batch {
    Tensor ids;     // [B, 32] i64, 0 = padding
    Tensor mask;    // [B, 32] f32, 1 = token, 0 = padding
    Tensor labels;  // [B] i64
};

// `size` fresh sequences; each draw advances `gen`, so every call gives new data.
Batch make_batch(std::int64_t size, Generator& gen) {
    const Tensor tokens = randint(1, 7, {size, max_length}, gen), lengths = randint(min_length, max_length + 1, {size}, gen),
                 coins = randint(0, 2, {size}, gen), spots = randint(0, max_length, {size}, gen);
    std::vector<std::int64_t> ids(static_cast<std::size_t>(size * max_length), 0), labels(static_cast<std::size_t>(size));
    std::vector<float> mask(ids.size(), 0.0f);
    for (std::int64_t s = 0; s < size; ++s) {
        const std::int64_t length = lengths.at<std::int64_t>({s}), wanted = coins.at<std::int64_t>({s}) ? 3 : 4;
        std::int64_t* row = &ids[static_cast<std::size_t>(s * max_length)];
        std::int64_t threes = 0, fours = 0;
        for (std::int64_t i = 0; i < length; ++i) {
            row[i] = tokens.at<std::int64_t>({s, i});
            mask[static_cast<std::size_t>(s * max_length + i)] = 1.0f;
            if (row[i] == 3) ++threes;
            if (row[i] == 4) ++fours;
        }
        // Make `wanted` the more frequent of 3 and 4. A tie is broken by writing `wanted` over one
        // token that is something else; otherwise swapping every 3 with every 4 swaps the counts.
        if (threes == fours) {
            std::int64_t i = spots.at<std::int64_t>({s}) % length;
            while (row[i] == wanted) i = (i + 1) % length;
            row[i] = wanted;
        } else if ((threes > fours) != (wanted == 3)) {
            for (std::int64_t i = 0; i < length; ++i) row[i] = row[i] == 3 ? 4 : row[i] == 4 ? 3 : row[i];
        }
        labels[static_cast<std::size_t>(s)] = wanted == 3;
    }
    return {from_vector(ids, {size, max_length}), from_vector(mask, {size, max_length}), from_vector(labels, {size})};
}

// The fraction of rows whose largest logit is the label.
double accuracy(const Tensor& logits, const Tensor& labels) {
    return ops::eq(ops::argmax(logits.detach(), 1), labels).to(f64).mean().item<double>();
}

int run(int steps, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 500, /*seed=*/1, run); }

int run(int steps, std::uint64_t seed) {
    // The model: 2 pre-LN blocks of width 32, 2 heads of 16; Nyström attention with 8 landmarks
    // (segment means of 4 tokens each) and a depthwise-convolution skip of width 5. No dropout.
    const models::EncoderConfig config{.vocab = 7, .max_len = max_length, .dim = 32, .heads = 2, .head_dim = 16, .hidden = 64,
                                       .layers = 2, .dropout = 0.0,
                                       .attention = nn::NystromOptions{.landmarks = 8, .conv_kernel = 5}};
    Generator init_gen(seed), data_gen(seed + 1), test_gen(seed + 2);
    models::EncoderClassifier model(config, /*classes=*/2, init_gen);
    std::printf("EncoderClassifier with %lld parameters\n", static_cast<long long>(model.parameter_count()));

    // AdamW with a 20-step linear warm-up to a constant learning rate.
    optim::AdamW opt(model.named_parameters(), {.lr = 3e-3, .weight_decay = 0});
    optim::LRScheduler schedule(opt, {.kind = optim::Schedule::constant, .warmup_steps = 20});

    const std::int64_t batch_size = 32;
    for (int step = 1; step <= steps; ++step) {
        const Batch batch = make_batch(batch_size, data_gen);
        const Tensor logits = model(batch.ids, batch.mask);  // [32, 2]
        const Tensor loss = ops::cross_entropy(logits, batch.labels);
        opt.zero_grad();
        loss.backward();
        optim::clip_grad_norm(model.parameters(), 1.0);
        opt.step();
        schedule.step();
        if (step % std::max(1, steps / 10) == 0 || step == 1)
            std::printf("step %4d  loss %.4f  batch accuracy %.2f\n", step, loss.item<double>(), accuracy(logits, batch.labels));
    }

    // Held-out accuracy on 1024 sequences the model has not seen, in evaluation mode, unrecorded.
    model.eval();
    NoGradGuard no_grad;
    const Batch test = make_batch(1024, test_gen);
    const double held_out = accuracy(model(test.ids, test.mask), test.labels);
    const bool learned = held_out >= 0.75;
    std::printf("held-out accuracy %.3f (chance 0.5)%s\n", held_out, learned ? "" : ": not learning");
    return learned ? 0 : 1;
}
