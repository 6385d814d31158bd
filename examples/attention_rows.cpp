// Where does a token look? Rows of Nyström attention's matrix read from its three factors
// (nn::NystromFactors: F [n, m], Z [m, m], B [m, n]) at n = 16,384, where the n×n matrix would take
// 1 GiB in f32. Each row read costs O(n·m) and is checked against exact softmax attention for that
// query, computed alone in O(n): the weight each query puts on each of 16 runs of keys agrees.
// Run: ./attention_rows [--steps N] [--seed S]   (N: query rows to check)
#include <cmath>
#include <cstdio>
#include <vector>

#include <nyx/nyx.hpp>

#include "example_main.hpp"

using namespace nyx;

int run(int rows, std::uint64_t seed);

int main(int argc, char** argv) { return example_main(argc, argv, 8, /*seed=*/1, run); }

int run(int rows, std::uint64_t seed) {
    const std::int64_t n = 16384, d = 32, runs_count = 16, m = 64;
    Generator gen(seed);
    // A long document of 16 topics, each a run of 1,024 positions: keys lie around their run's
    // centre, and the queries of run r look for topic (r + 5) mod 16, a dependency 5,120 positions
    // away. Queries and keys that belong together lie together, as in text.
    const std::int64_t run_length = n / runs_count;
    const Tensor centres = randn({runs_count, d}, f32, gen) * 1.5;
    const Tensor sought = ops::concat({centres.narrow(0, 5, runs_count - 5), centres.narrow(0, 0, 5)}, 0);  // run r: centre r + 5
    const auto runs = [&](const Tensor& of) {
        return (of.unsqueeze(1).expand({runs_count, run_length, d}).reshape({n, d}) + randn({n, d}, f32, gen) * 0.3).reshape({1, 1, n, d});
    };
    const Tensor k = runs(centres), q = runs(sought);
    const Tensor mask = ones({1, n});

    nn::NystromAttention attention(1, {.landmarks = m, .conv_kernel = 0});
    memory::reset_peak();
    const std::size_t before = memory::stats().live_bytes;
    const nn::NystromFactors factors = attention.factors(q, k, mask);  // F [1,1,n,m], Z [1,1,m,m], B [1,1,m,n]

    double worst = 0;
    for (int r = 0; r < rows; ++r) {
        const std::int64_t i = (static_cast<std::int64_t>(r) * 2477) % n;
        const std::vector<double> approx = factors.row(i).to_vector();  // [n]: query i's weights
        const Tensor scores = q.narrow(2, i, 1).matmul(k.transpose(-1, -2)) / std::sqrt(static_cast<double>(d));
        const std::vector<double> exact = ops::softmax(scores, -1).to_vector();
        // The weight on each run of keys, and the largest difference between the two.
        std::vector<double> approx_mass(runs_count), exact_mass(runs_count);
        for (std::int64_t j = 0; j < n; ++j) {
            approx_mass[static_cast<std::size_t>(j / run_length)] += approx[static_cast<std::size_t>(j)];
            exact_mass[static_cast<std::size_t>(j / run_length)] += exact[static_cast<std::size_t>(j)];
        }
        double difference = 0;
        std::size_t top = 0;
        for (std::size_t c = 0; c < approx_mass.size(); ++c) {
            difference = std::max(difference, std::abs(approx_mass[c] - exact_mass[c]));
            if (exact_mass[c] > exact_mass[top]) top = c;
        }
        worst = std::max(worst, difference);
        std::printf("query %5lld (run %2lld): run %2zu gets %.3f of its attention (exact %.3f); largest difference over the runs %.4f\n",
                    static_cast<long long>(i), static_cast<long long>(i / run_length), top, approx_mass[top], exact_mass[top], difference);
    }
    const double peak_mib = static_cast<double>(memory::stats().peak_live_bytes - before) / (1 << 20);
    const double dense_mib = static_cast<double>(n * n * 4) / (1 << 20);
    std::printf("peak memory for the factors and the rows: %.1f MiB (the n×n matrix alone: %.0f MiB)\n", peak_mib, dense_mib);
    const bool ok = worst < 0.05 && peak_mib < dense_mib / 16;
    std::printf("%s: every run's weight within %.4f of exact softmax attention (required: < 0.05)\n", ok ? "ok" : "FAILED", worst);
    return ok ? 0 : 1;
}
