// nn (continued): Nyström cross-attention (n_q queries against n_k keys, landmarks from each side)
// and the attention matrix as factors F, Z, B: against exact softmax where m covers a side, against
// the dense product, through gradcheck, and read row by row at a length where n×n would not fit.
#include <cmath>

#include "test_util.hpp"

using namespace nyx;

namespace {

// softmax(Q Kᵀ / √d − 1e9·(1 − key mask)), written out: [B, h, n_q, n_k]
Tensor exact_weights(const Tensor& q, const Tensor& k, const Tensor& key_mask) {
    const Tensor penalty = ((1.0 - key_mask) * -1e9).unsqueeze(1).unsqueeze(1);
    return ops::softmax(q.matmul(k.transpose(-1, -2)) / std::sqrt(static_cast<double>(q.size(-1))) + penalty, -1);
}

double largest_difference(const Tensor& a, const Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("Nyström cross-attention: exact softmax when m covers either side, with padding on both") {
    Generator gen(21);
    const Tensor q = randn({2, 2, 5, 4}, f64, gen), k = randn({2, 2, 9, 4}, f64, gen), v = randn({2, 2, 9, 4}, f64, gen);
    const Tensor query_mask = mask_with_padding(2, 5, 1), key_mask = mask_with_padding(2, 9, 3);
    for (const std::int64_t m : {5, 9, 12}) {  // m = n_q, m = n_k, beyond both
        INFO("m = ", m);
        nn::NystromAttention attention(2, {.landmarks = m, .conv_kernel = 0}, f64, gen);
        const Tensor x = attention(q, k, v, query_mask, key_mask);
        CHECK(x.shape() == Shape{2, 2, 5, 4});
        // The queries that are tokens agree with softmax; the padded keys get no weight.
        CHECK(largest_difference(x.narrow(2, 0, 4), exact_weights(q, k, key_mask).matmul(v).narrow(2, 0, 4)) < 1e-12);
        const nn::NystromFactors p = attention.factors(q, k, query_mask, key_mask);
        // the exact matrix, and identities of the shorter length (5) beside it
        CHECK(p.f.shape() == Shape{2, 2, 5, 5});
        CHECK(p.z.shape() == Shape{2, 2, 5, 5});
        CHECK(p.b.shape() == Shape{2, 2, 5, 9});
        CHECK(largest_difference(p.to_dense().narrow(2, 0, 4), exact_weights(q, k, key_mask).narrow(2, 0, 4)) < 1e-12);
    }
}

TEST_CASE("Nyström factors when m covers the keys but not the queries: F is the exact matrix, Z and B identities of n_k") {
    Generator gen(26);
    const Tensor q = randn({1, 2, 12, 4}, f64, gen), k = randn({1, 2, 3, 4}, f64, gen);
    const Tensor query_mask = ones({1, 12}, f64), key_mask = ones({1, 3}, f64);
    nn::NystromAttention attention(2, {.landmarks = 4, .conv_kernel = 0}, f64, gen);
    const nn::NystromFactors p = attention.factors(q, k, query_mask, key_mask);
    CHECK(p.f.shape() == Shape{1, 2, 12, 3});
    CHECK(p.z.shape() == Shape{1, 2, 3, 3});
    CHECK(largest_difference(p.to_dense(), exact_weights(q, k, key_mask)) < 1e-12);
    CHECK(largest_difference(p.column(2), exact_weights(q, k, key_mask).select(3, 2)) < 1e-12);
}

TEST_CASE("Nyström cross-attention with m below both lengths: the factors are the forward's, and approach softmax as m grows") {
    Generator gen(22);
    const std::int64_t n_q = 24, n_k = 40, d = 8;
    // Keys in 4 runs of 10 around 4 centres, queries in 4 runs of 6, run r near centre (r + 1) mod 4:
    // positions that belong together lie together, as in text, so segment means make good landmarks.
    const Tensor centres = randn({4, d}, f64, gen);
    const auto runs = [&](const Tensor& of, std::int64_t length) {
        return of.unsqueeze(1).expand({4, length, d}).reshape({1, 1, 4 * length, d}) + randn({1, 1, 4 * length, d}, f64, gen) * 0.1;
    };
    const Tensor k = runs(centres, 10), q = runs(ops::concat({centres.narrow(0, 1, 3), centres.narrow(0, 0, 1)}, 0), 6);
    const Tensor v = randn({1, 1, n_k, d}, f64, gen);
    const Tensor query_mask = ones({1, n_q}, f64), key_mask = mask_with_padding(1, n_k, 5);
    const Tensor exact = exact_weights(q, k, key_mask);
    std::vector<double> errors;
    for (const std::int64_t m : {2, 4, 8, 20}) {
        INFO("m = ", m);
        nn::NystromAttention attention(1, {.landmarks = m, .pinv_iterations = 20, .pinv_start = nn::PinvStart::per_matrix, .conv_kernel = 0},
                                       f64, gen);
        const nn::NystromFactors p = attention.factors(q, k, query_mask, key_mask);
        CHECK(p.f.shape() == Shape{1, 1, n_q, m});
        CHECK(p.z.shape() == Shape{1, 1, m, m});
        CHECK(p.b.shape() == Shape{1, 1, m, n_k});
        // forward is (F Z)(B V): the dense matrix times V, to rounding
        CHECK(largest_difference(attention(q, k, v, query_mask, key_mask), p.to_dense().matmul(v)) < 1e-10);
        // a row and a column are the dense matrix's, without it
        CHECK(largest_difference(p.row(7), p.to_dense().select(2, 7)) < 1e-12);
        CHECK(largest_difference(p.column(11), p.to_dense().select(3, 11)) < 1e-12);
        CHECK(p.to_dense().narrow(3, n_k - 5, 5).abs().max().item<double>() < 1e-12);  // padded keys: no weight
        errors.push_back(largest_difference(p.to_dense(), exact));
    }
    INFO("largest |Nyström - softmax| for m = 2, 4, 8, 20: ", errors[0], " ", errors[1], " ", errors[2], " ", errors[3]);
    // Two landmarks merge runs; four or more keep each run apart and follow softmax closely.
    for (std::size_t i = 1; i < errors.size(); ++i) {
        CHECK(errors[i] < 0.02);
        CHECK(errors[0] > 4 * errors[i]);
    }
}

TEST_CASE("gradcheck through Nyström cross-attention and its factors, with padding on both sides") {
    Generator gen(23);
    nn::NystromAttention attention(2, {.landmarks = 2, .pinv_iterations = 6, .conv_kernel = 0}, f64, gen);
    Tensor q = randn({1, 2, 5, 3}, f64, gen).requires_grad_(), k = randn({1, 2, 7, 3}, f64, gen).requires_grad_(),
           v = randn({1, 2, 7, 3}, f64, gen).requires_grad_();
    const Tensor query_mask = mask_with_padding(1, 5, 1), key_mask = mask_with_padding(1, 7, 2);
    CHECK(gradcheck([&](const std::vector<Tensor>& x) { return attention(x[0], x[1], x[2], query_mask, key_mask); }, {q, k, v}));
    CHECK(gradcheck([&](const std::vector<Tensor>& x) { return attention.factors(x[0], x[1], query_mask, key_mask).row(3); }, {q, k}));
}

TEST_CASE("Nyström cross-attention and factors refuse what they cannot do, naming the fix") {
    Generator gen(24);
    const Tensor q = randn({1, 2, 5, 3}, f64, gen), k = randn({1, 2, 7, 3}, f64, gen);
    const Tensor query_mask = ones({1, 5}, f64), key_mask = ones({1, 7}, f64);
    nn::NystromAttention with_conv(2, {.landmarks = 2, .conv_kernel = 3}, f64, gen);
    CHECK_ERROR_CONTAINS(with_conv(q, k, k, query_mask, key_mask), "n_q = 5, n_k = 7", "conv_kernel = 0 for cross-attention");
    nn::NystromAttention attention(2, {.landmarks = 2, .conv_kernel = 0}, f64, gen);
    CHECK_ERROR_CONTAINS(attention(q, k, randn({1, 2, 6, 3}, f64, gen), query_mask, key_mask), "K and V [B, h, n_k, d]");
    CHECK_ERROR_CONTAINS(attention(q, randn({1, 2, 7, 4}, f64, gen), randn({1, 2, 7, 4}, f64, gen), query_mask, key_mask), "same B, h, d");
    CHECK_ERROR_CONTAINS(attention(q, k, k, key_mask, key_mask), "the masks must be [B, n_q] = [1, 5] and [B, n_k] = [1, 7]");
    CHECK_ERROR_CONTAINS(attention(q, k, k, ones({1, 5}), key_mask), "the masks must be", "f64");
    CHECK_ERROR_CONTAINS(attention.factors(randn({1, 3, 5, 3}, f64, gen), randn({1, 3, 7, 3}, f64, gen), query_mask, key_mask),
                         "built for 2 heads, got 3");
    const nn::NystromFactors p = attention.factors(q, k, query_mask, key_mask);
    CHECK_ERROR_CONTAINS(p.row(5), "NystromFactors::row: query 5 is not in 0..4");
    CHECK_ERROR_CONTAINS(p.column(-1), "NystromFactors::column: key -1 is not in 0..6");
}

TEST_CASE("NystromFactors read rows and columns at n = 16384 far below the memory of one n×n matrix") {
    // n×n in f32 would be 1 GiB: the factors and a row and a column must stay under 64 MiB.
    Generator gen(25);
    const std::int64_t n = sanitized ? 4096 : 16384;
    nn::NystromAttention attention(2, {.landmarks = 64, .conv_kernel = 0}, f32, gen);
    const Tensor q = randn({1, 2, n, 32}, f32, gen), k = randn({1, 2, n, 32}, f32, gen), mask = ones({1, n});
    const std::size_t before = memory::stats().live_bytes;
    memory::reset_peak();
    const nn::NystromFactors p = attention.factors(q, k, mask);
    const Tensor row = p.row(n / 2), column = p.column(17);
    const double peak_mib = static_cast<double>(memory::stats().peak_live_bytes - before) / (1 << 20);
    INFO("peak above the inputs: ", peak_mib, " MiB");
    CHECK(peak_mib < 64);
    CHECK(row.shape() == Shape{1, 2, n});
    CHECK(column.shape() == Shape{1, 2, n});
    // A row of the approximation sums to about 1, as a row of softmax does.
    for (const double sum : values(row.sum({-1}))) CHECK(sum == doctest::Approx(1).epsilon(0.05));
}

}  // TEST_SUITE
