// dist: the collectives (dist/distributed.hpp) and data-parallel training (nn/data_parallel.hpp). ctest runs this binary alone (a job of one
// rank) and under `mpirun -np 2`; every case holds for any number of ranks. A collective that
// waits more than a minute ends the job (dist::set_timeout), so a broken case cannot hang.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>

#include "op_table.hpp"
#include "test_util.hpp"

using namespace nyx;

namespace {

int ranks() { return dist::world_size(); }

// The whole batch every rank builds from one seed: ids and a mask with rows of different lengths.
struct WholeBatch {
    Tensor ids, mask, labels;
};
WholeBatch whole_batch(std::int64_t batch, std::int64_t n, std::uint64_t seed, DType dtype) {
    Generator g(seed);
    WholeBatch b{randint(0, 17, {batch, n}, g), ones({batch, n}, dtype), randint(0, 10, {batch}, g)};
    for (std::int64_t row = 0; row < batch; ++row)
        for (std::int64_t j = n - row % 4 * 3; j < n; ++j) b.mask.narrow(0, row, 1).narrow(1, j, 1).fill_(0);
    return b;
}

// This rank's share of a whole batch: rows [r·B/K, (r+1)·B/K).
Tensor share(const Tensor& t) {
    const std::int64_t part = t.size(0) / ranks();
    return t.narrow(0, dist::rank() * part, part).contiguous();
}

models::EncoderConfig small_encoder(DType dtype) {
    return {.vocab = 17, .max_len = 24, .dim = 16, .heads = 2, .head_dim = 8, .hidden = 24, .layers = 2, .dropout = 0,
            .attention = nn::NystromOptions{.landmarks = 4, .conv_kernel = 3}, .dtype = dtype};
}

}  // namespace

TEST_SUITE("dist") {

TEST_CASE("collectives: all_reduce, broadcast and all_gather across the ranks") {
    const int k = ranks(), r = dist::rank();
    Tensor a = full({3}, r + 1, f64);
    dist::all_reduce(a);
    CHECK(values(a) == std::vector<double>(3, k * (k + 1) / 2.0));
    Tensor b = tensor({static_cast<double>(r), -static_cast<double>(r)}, f32);
    dist::all_reduce(b, dist::ReduceOp::max);
    CHECK(values(b) == std::vector<double>{k - 1.0, 0});
    Tensor c = full({2}, r + 5, i64);
    dist::all_reduce(c, dist::ReduceOp::min);
    CHECK(values(c) == std::vector<double>{5, 5});

    Tensor d = r == 0 ? tensor({1, 2, 3}, f64) : zeros({3}, f64);
    dist::broadcast(d);
    CHECK(values(d) == std::vector<double>{1, 2, 3});
    std::string text = r == 0 ? std::string(3 << 20, 'x') + "end" : std::string("stale");
    dist::broadcast(text);
    CHECK(text.size() == (3u << 20) + 3);
    CHECK(text.ends_with("xend"));
    const std::vector<std::uint64_t> gathered = dist::all_gather(static_cast<std::uint64_t>(10 * r));
    REQUIRE(gathered.size() == static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) CHECK(gathered[static_cast<std::size_t>(i)] == static_cast<std::uint64_t>(10 * i));
    dist::barrier();

    // Refused before any message is sent (the same on every rank, so none is left waiting).
    Tensor transposed = zeros({2, 3}).transpose(0, 1);
    CHECK_ERROR_CONTAINS(dist::all_reduce(transposed), "contiguous");
    Tensor undefined;
    CHECK_ERROR_CONTAINS(dist::broadcast(undefined), "an undefined tensor");
    Tensor fine = zeros({1});
    CHECK_ERROR_CONTAINS(dist::broadcast(fine, k), "root ", "is not a rank");
    CHECK_ERROR_CONTAINS(dist::set_timeout(0), "positive number of seconds");
    CHECK_ERROR_CONTAINS(dist::max_over_ranks(zeros({2})), "dist::max_over_ranks", "one f32 or f64 value", "[2]");
    CHECK_ERROR_CONTAINS(dist::max_over_ranks(zeros({1}, i64)), "dist::max_over_ranks", "i64");
    Generator g(1);
    models::EncoderClassifier model(small_encoder(f32), 10, g);
    CHECK_ERROR_CONTAINS(dist::DataParallel(model, {.bucket_mb = 0}), "DataParallel", "bucket_mb");
}

TEST_CASE("DataParallel: the averaged gradients are one process's gradients of the whole batch (f64)") {
    const WholeBatch b = whole_batch(8, 12, 3, f64);
    Generator g1(7);
    models::EncoderClassifier reference(small_encoder(f64), 10, g1);
    ops::cross_entropy(reference(b.ids, b.mask), b.labels).backward();

    Generator g2(7);
    models::EncoderClassifier model(small_encoder(f64), 10, g2);
    dist::DataParallel parallel(model, {.bucket_mb = 0.01});  // 10 KiB: several buckets
    if (ranks() > 1) CHECK(parallel.buckets() > 2);
    else CHECK(parallel.buckets() == 0);
    for (int pass = 0; pass < 2; ++pass) {  // a second backward starts afresh
        model.zero_grad();
        ops::cross_entropy(model(share(b.ids), share(b.mask)), share(b.labels)).backward();
        const nn::NamedTensors expected = reference.named_parameters(), got = model.named_parameters();
        for (std::size_t i = 0; i < got.size(); ++i) {
            INFO(got[i].first);
            REQUIRE(got[i].second.grad().defined());
            const std::vector<double> want = values(expected[i].second.grad()), have = values(got[i].second.grad());
            for (std::size_t j = 0; j < want.size(); ++j) CHECK(have[j] == doctest::Approx(want[j]).epsilon(1e-9).scale(1e-12));
        }
    }
    CHECK(parallel.stats().steps == (ranks() > 1 ? 2 : 0));
}

TEST_CASE("DataParallel: K ranks train as one process does, and the replicas stay identical (f32)") {
    constexpr int steps = 12;
    Generator g1(11), g2(11);
    models::EncoderClassifier reference(small_encoder(f32), 10, g1), model(small_encoder(f32), 10, g2);
    optim::AdamW reference_optimizer(reference.named_parameters(), {.lr = 3e-3});
    optim::AdamW optimizer(model.named_parameters(), {.lr = 3e-3});
    dist::DataParallel parallel(model, {.bucket_mb = 0.02});
    double worst = 0;
    for (int step = 0; step < steps; ++step) {
        const WholeBatch b = whole_batch(8, 12, 100 + static_cast<std::uint64_t>(step), f32);
        reference_optimizer.zero_grad();
        const Tensor reference_loss = ops::cross_entropy(reference(b.ids, b.mask), b.labels);
        reference_loss.backward();
        optim::clip_grad_norm(reference.parameters(), 1.0);
        reference_optimizer.step();

        optimizer.zero_grad();
        const Tensor loss = ops::cross_entropy(model(share(b.ids), share(b.mask)), share(b.labels));
        loss.backward();
        optim::clip_grad_norm(model.parameters(), 1.0);
        optimizer.step();
        Tensor mean = full({1}, loss.item<float>() / ranks(), f64);
        dist::all_reduce(mean);
        const double expected = reference_loss.item<float>();
        worst = std::max(worst, std::abs(mean.item<double>() - expected) / std::abs(expected));
    }
    MESSAGE("rank ", dist::rank(), " of ", ranks(), ": largest relative difference of the loss from one process's ", worst,
            "; parameter hash ", dist::hash_parameters(model));
    CHECK(worst < 1e-4);  // the same sums in another order
    const std::vector<std::uint64_t> hashes = dist::all_gather(dist::hash_parameters(model));
    for (const std::uint64_t h : hashes) CHECK(h == hashes.front());
    CHECK_NOTHROW(dist::check_replicas_identical(model));
    if (ranks() == 1) CHECK(dist::hash_parameters(model) == dist::hash_parameters(reference));
}

TEST_CASE("DataParallel tells a batch-coupled module of one's own that the batch spans the ranks, and no more when it goes") {
    // A layer that scales by the largest value in its batch: one process sees the whole batch.
    struct BatchMaxScale : nn::UnaryModule {
        nn::BatchReductions batch;
        BatchMaxScale() : nn::UnaryModule("BatchMaxScale") {}
        void set_batch_reductions(const nn::BatchReductions& reductions) override { batch = reductions; }
        Tensor forward(const Tensor& x) override {
            Tensor top = ops::amax(x);
            if (batch.max) top = batch.max(top.reshape({1})).reshape({});
            return x / top;
        }
    };
    auto layer = std::make_shared<BatchMaxScale>();
    nn::Sequential model({layer});
    const Tensor whole = arange(1, 9, 1, f64).reshape({8, 1});  // the largest, 8, is on the last rank
    {
        dist::DataParallel parallel(model);
        CHECK(static_cast<bool>(layer->batch.max) == (ranks() > 1));
        const Tensor mine = layer->forward(share(whole));
        CHECK(values(mine) == values(share(whole) / 8.0));  // every rank divides by the whole batch's maximum
    }
    CHECK_FALSE(static_cast<bool>(layer->batch.max));
}

TEST_CASE("rank_stream: each rank draws its own dropout masks, from rank 0's position") {
    const Generator rank_0(42, 1000);
    Generator mine = dist::rank_stream(rank_0);
    CHECK(mine.offset() == rank_0.offset());
    if (dist::rank() == 0) CHECK(mine.seed() == rank_0.seed());
    else CHECK(mine.seed() != rank_0.seed());
    Generator again = dist::rank_stream(rank_0);  // a function of rank 0's state and the rank alone
    const Tensor a = ops::dropout(ones({256}), 0.5, true, mine), b = ops::dropout(ones({256}), 0.5, true, again);
    CHECK(values(a) == values(b));
    // A hash of the mask, gathered: no two ranks drop the same units.
    std::uint64_t mask = 0;
    for (std::size_t i = 0; i < 64; ++i) mask |= static_cast<std::uint64_t>(values(a)[i] != 0) << i;
    const std::vector<std::uint64_t> masks = dist::all_gather(mask);
    for (std::size_t i = 0; i < masks.size(); ++i)
        for (std::size_t j = i + 1; j < masks.size(); ++j) CHECK(masks[i] != masks[j]);
}

TEST_CASE("check_replicas_identical lists every rank's hash when a replica diverges") {
    Generator g(5);
    models::EncoderClassifier model(small_encoder(f32), 10, g);
    dist::DataParallel parallel(model);
    CHECK_NOTHROW(dist::check_replicas_identical(model));
    if (ranks() == 1) return;
    if (dist::rank() == 1) {
        NoGradGuard no_grad;
        model.parameters().front().add_(ones_like(model.parameters().front()), 1e-6);
    }
    CHECK_ERROR_CONTAINS(dist::check_replicas_identical(model), "the ranks' parameters differ", "rank 0: ", "rank 1: ", "diverged");
}

TEST_CASE("DataParallel: parameters that only some ranks' losses reach, or none, and no rank waits") {
    struct Heads : nn::Module {
        std::shared_ptr<nn::Linear> used = register_module("used", std::make_shared<nn::Linear>(4, 2));
        Tensor on_rank_0 = register_parameter("on_rank_0", ones({2}));
        Tensor unused = register_parameter("unused", ones({3}));
    } net;
    dist::DataParallel parallel(net, {.bucket_mb = 1e-5});  // a bucket each
    const Tensor x = full({2, 4}, dist::rank() + 1.0);
    Tensor loss = (*net.used)(x).sum();
    if (dist::rank() == 0) loss = loss + (net.on_rank_0 * 3.0).sum();
    loss.backward();
    // One rank's gradient of the sum over its rows, averaged: the mean of the ranks' inputs, twice.
    const double mean_input = (ranks() + 1) / 2.0;
    CHECK(values(net.used->weight.grad()) == std::vector<double>(8, 2 * mean_input));
    CHECK(values(net.on_rank_0.grad()) == std::vector<double>(2, 3.0 / ranks()));  // on every rank, the average
    CHECK_FALSE(net.unused.grad().defined());  // as in one process: no rank reached it
}

TEST_CASE("DataParallel: after a backward() that threw part-way, the next one averages afresh") {
    Generator g1(3), g2(3);
    models::EncoderClassifier reference(small_encoder(f64), 10, g1), model(small_encoder(f64), 10, g2);
    dist::DataParallel parallel(model, {.bucket_mb = 0.01});
    const WholeBatch b = whole_batch(8, 12, 9, f64);
    // An op whose backward throws after the whole model's (it was recorded first): every bucket but the
    // token embedding's has started by then.
    const Tensor hidden = model.token_embedding->forward(share(b.ids));
    Tensor passed = hidden.detach().clone();
    autograd::record("test_throws_in_backward", {hidden}, {passed}, [](const autograd::Gradients&) -> autograd::Gradients {
        throw Error("deliberately");
    });
    const Tensor broken = (passed.sum() + ops::cross_entropy(model(share(b.ids), share(b.mask)), share(b.labels)));
    CHECK_ERROR_CONTAINS(broken.backward(), "deliberately");
    model.zero_grad();
    ops::cross_entropy(model(share(b.ids), share(b.mask)), share(b.labels)).backward();
    ops::cross_entropy(reference(b.ids, b.mask), b.labels).backward();
    const nn::NamedTensors expected = reference.named_parameters(), got = model.named_parameters();
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(got[i].first);
        const std::vector<double> want = values(expected[i].second.grad()), have = values(got[i].second.grad());
        for (std::size_t j = 0; j < want.size(); ++j) CHECK(have[j] == doctest::Approx(want[j]).epsilon(1e-9).scale(1e-12));
    }
}

}  // TEST_SUITE

int main(int argc, char** argv) {
    dist::Session session(argc, argv);
    dist::set_timeout(60);
    ops::check_recorded_ops();
    doctest::Context context(argc, argv);
    const int failed = context.run();
    // Every rank ends with the job's verdict (a failure on one rank fails them all).
    Tensor verdict = full({1}, failed != 0 ? 1 : 0, i64);
    dist::all_reduce(verdict, dist::ReduceOp::max);
    if (dist::rank() == 0) std::printf("[dist] %d rank(s): %s\n", ranks(), verdict.item<std::int64_t>() ? "FAILED" : "passed");
    return verdict.item<std::int64_t>() != 0 ? 1 : 0;
}
