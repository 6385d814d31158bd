// ops: values against direct computations, the parallel paths, determinism, and the errors.
#include <cmath>
#include <limits>

#include "test_util.hpp"

using namespace nyx;

namespace {

// C = A·B by three loops over at<double>, for any operands of rank 2.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
    const Tensor a64 = a.to(f64), b64 = b.to(f64);
    std::vector<double> c;
    for (std::int64_t i = 0; i < a.size(0); ++i)
        for (std::int64_t j = 0; j < b.size(1); ++j) {
            double s = 0;
            for (std::int64_t k = 0; k < a.size(1); ++k) s += a64.at<double>({i, k}) * b64.at<double>({k, j});
            c.push_back(s);
        }
    return c;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected, double tolerance) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element ", i);
        CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tolerance).scale(1.0));
    }
}

}  // namespace

TEST_SUITE("ops") {

TEST_CASE("elementwise ops compute their values, with broadcasting") {
    const Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, f64);
    const Tensor b = tensor({10, 20, 30}, f64);
    CHECK(values(a + b) == std::vector<double>{11, 22, 33, 14, 25, 36});
    CHECK(values(a - b) == std::vector<double>{-9, -18, -27, -6, -15, -24});
    CHECK(values(a * b) == std::vector<double>{10, 40, 90, 40, 100, 180});
    CHECK(values(b / a.select(0, 1)) == std::vector<double>{2.5, 4, 5});
    CHECK(values(-a.select(0, 0)) == std::vector<double>{-1, -2, -3});
    CHECK(values(2.0 * b - 1.0) == std::vector<double>{19, 39, 59});
    CHECK(values(1.0 / tensor({4, 8}, f64)) == std::vector<double>{0.25, 0.125});
    CHECK(values(ops::relu(tensor({-1, 0, 2}))) == std::vector<double>{0, 0, 2});
    CHECK(values(arange(3, i64) * arange(3, i64)) == std::vector<double>{0, 1, 4});
    const Tensor x = tensor({-1.5, 0.25, 2}, f64);
    for (std::int64_t i = 0; i < 3; ++i) {
        const double v = x.at<double>({i});
        CHECK(ops::exp(x).at<double>({i}) == std::exp(v));
        CHECK(ops::tanh(x).at<double>({i}) == std::tanh(v));
    }
    CHECK(values(ops::log(tensor({1, std::exp(2.0)}, f64))) == std::vector<double>{0, 2});
    // Non-contiguous operands: a transposed view and a stride-2 slice.
    const Tensor t = arange(6, f64).reshape({2, 3}).transpose(0, 1);  // [[0, 3], [1, 4], [2, 5]]
    CHECK(values(t + arange(6, f64).slice(0, 0, 6, 3)) == std::vector<double>{0, 6, 1, 7, 2, 8});
}

TEST_CASE("reductions over all elements and over axes") {
    const Tensor x = arange(24, f64).reshape({2, 3, 4});
    CHECK(x.sum().item<double>() == 276);
    CHECK(x.mean().item<double>() == 11.5);
    CHECK(x.sum({2}).shape() == Shape{2, 3});
    CHECK(values(x.sum({2})) == std::vector<double>{6, 22, 38, 54, 70, 86});
    CHECK(values(x.sum({0})) == std::vector<double>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
    CHECK(x.sum({0, 2}, true).shape() == Shape{1, 3, 1});
    CHECK(values(x.sum({0, 2}, true)) == std::vector<double>{60, 92, 124});
    CHECK(values(x.mean({-1})) == std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
    CHECK(values(x.transpose(0, 2).sum({0})) == values(x.sum({2}).transpose(0, 1)));
    CHECK(values(arange(5, i64).sum()) == std::vector<double>{10});
    CHECK(scalar(7).sum().item<float>() == 7);
    CHECK(zeros({0, 3}).sum({0}).shape() == Shape{3});
    CHECK(values(zeros({0, 3}).sum({0})) == std::vector<double>{0, 0, 0});
}

TEST_CASE("matmul matches a direct product in every shape") {
    Generator gen(11);
    for (DType dtype : {f32, f64}) {
        const double tolerance = dtype == f32 ? 1e-5 : 1e-12;
        const Tensor a = randn({5, 7}, dtype, gen), b = randn({7, 3}, dtype, gen);
        check_close(values(a.matmul(b)), naive_matmul(a, b), tolerance);
        // Transposed operands go to BLAS as flags.
        const Tensor at = randn({7, 5}, dtype, gen).transpose(0, 1), bt = randn({3, 7}, dtype, gen).transpose(0, 1);
        check_close(values(at.matmul(bt)), naive_matmul(at, bt), tolerance);
        // Stride-2 columns have no BLAS layout and are copied first.
        const Tensor bs = randn({7, 6}, dtype, gen).slice(1, 0, 6, 2);
        check_close(values(a.matmul(bs)), naive_matmul(a, bs), tolerance);
    }
    const Tensor batch_a = randn({2, 1, 4, 3}, f64, gen), batch_b = randn({3, 3, 2}, f64, gen);
    const Tensor c = batch_a.matmul(batch_b);
    REQUIRE(c.shape() == Shape{2, 3, 4, 2});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            check_close(values(c.select(0, i).select(0, j)), naive_matmul(batch_a.select(0, i).select(0, 0), batch_b.select(0, j)), 1e-12);

    const Tensor v = tensor({1, 2, 3}, f64), m = arange(6, f64).reshape({3, 2});
    CHECK(v.matmul(v).shape() == Shape{});
    CHECK(v.matmul(v).item<double>() == 14);
    CHECK(values(v.matmul(m)) == std::vector<double>{16, 22});
    CHECK(values(m.transpose(0, 1).matmul(v)) == std::vector<double>{16, 22});
    CHECK(randn({4, 2, 3}, f64, gen).matmul(v).shape() == Shape{4, 2});
    CHECK(values(zeros({2, 0}).matmul(zeros({0, 3}))) == std::vector<double>(6, 0.0));
}

TEST_CASE("large ops take the parallel paths and stay exact") {
    Generator gen(5);
    // One large product is split into row blocks over the threads.
    const Tensor a = randn({512, 128}, f64, gen), b = randn({128, 96}, f64, gen);
    const Tensor c = a.matmul(b);
    const std::vector<double> expected = naive_matmul(a, b);
    check_close(values(c), expected, 1e-12);
    // A batch of products is split over the batch.
    const Tensor ab = randn({16, 33, 20}, f64, gen), bb = randn({16, 20, 17}, f64, gen);
    const Tensor cb = ab.matmul(bb);
    for (std::int64_t i : {0, 7, 15})
        check_close(values(cb.select(0, i)), naive_matmul(ab.select(0, i), bb.select(0, i)), 1e-12);
    // Elementwise loops over more than one grain, contiguous and strided.
    const Tensor x = randn({600, 200}, f64, gen);
    const std::vector<double> xs = values(x), ys = values(x.transpose(0, 1) * 2.0);
    CHECK(ys[1] == 2 * xs[200]);
    CHECK(ys[199 * 600 + 599] == 2 * xs[599 * 200 + 199]);
    const std::vector<double> e = values(ops::exp(x));
    CHECK(e[112345] == std::exp(xs[112345]));
}

TEST_CASE("parallel reductions are bitwise deterministic") {
    Generator gen(8);
    const Tensor x = randn({3, 400000}, f32, gen);
    const int threads = num_threads();
    set_num_threads(2);
    const std::vector<double> first = values(x.sum({1})), all = values(x.sum()), columns = values(x.transpose(0, 1).sum({0}));
    CHECK(values(x.sum({1})) == first);
    CHECK(values(x.sum()) == all);
    set_num_threads(1);
    CHECK(values(x.sum({1})) == first);
    CHECK(values(x.sum()) == all);
    CHECK(values(x.transpose(0, 1).sum({0})) == columns);
    set_num_threads(threads);
    // f32 sums accumulate in double: the sum of 400,000 ones is exact.
    CHECK(ones({400000}).sum().item<float>() == 400000.0f);
}

TEST_CASE("ops reject bad shapes, dtypes, axes and indices, naming the op") {
    const Tensor a = ones({2, 3}), d = ones({2, 3}, f64), i = arange(6, i64).reshape({2, 3});
    CHECK_ERROR_CONTAINS(a + d, "add", "f32", "f64", ".to(");
    CHECK_ERROR_CONTAINS(a * ones({4}), "mul", "[2, 3]", "[4]", "do not broadcast");
    CHECK_ERROR_CONTAINS(i / i, "div", "floating", "i64");
    CHECK_ERROR_CONTAINS(ops::exp(i), "exp", "i64");
    CHECK_ERROR_CONTAINS(i.mean(), "mean", "i64");
    CHECK_ERROR_CONTAINS(ones({8, 64}).matmul(ones({32, 64})), "matmul", "inner dimensions differ", "[8, 64] @ [32, 64]",
                         "transpose the second operand");
    CHECK_ERROR_CONTAINS(ones({64, 8}).matmul(ones({64, 32})), "matmul", "transpose the first operand");
    CHECK_ERROR_CONTAINS(ones({2, 3, 4}).matmul(ones({3, 4, 5})), "matmul", "[2]", "[3]", "do not broadcast");
    CHECK_ERROR_CONTAINS(scalar(1).matmul(ones({2})), "matmul", "rank >= 1");
    CHECK_ERROR_CONTAINS(a.matmul(ones({3, 2}, f64)), "matmul", "dtypes differ");
    CHECK_ERROR_CONTAINS(i.matmul(i.transpose(0, 1)), "matmul", "i64");
    CHECK_ERROR_CONTAINS(a.sum({2}), "sum", "axis 2", "rank 2");
    CHECK_ERROR_CONTAINS(a.sum({1, -1}), "sum", "twice");
    CHECK_ERROR_CONTAINS(a.transpose(0, 2), "transpose", "axis 2");
    CHECK_ERROR_CONTAINS(a.permute({0}), "permute", "rank 2");
    CHECK_ERROR_CONTAINS(a.permute({1, 1}), "permute", "twice");
    CHECK_ERROR_CONTAINS(a.slice(0, 0, 2, 0), "slice", "step 0");
    CHECK_ERROR_CONTAINS(a.select(1, 3), "select", "index 3", "size 3");
    CHECK_ERROR_CONTAINS(a.narrow(1, 2, 2), "narrow", "length 2", "size 3");
    CHECK_ERROR_CONTAINS(a.narrow(1, 1, std::numeric_limits<std::int64_t>::max()), "narrow", "size 3");
    CHECK_ERROR_CONTAINS(tensor({1, 2, 3}).matmul(ones({4, 5})), "matmul", "[3] @ [4, 5]", "3 != 4");
    CHECK_ERROR_CONTAINS(arange(4, i64) * 0.5, "mul", "not whole", "i64");
    CHECK(values(arange(3, i64) * 2.0) == std::vector<double>{0, 2, 4});
    CHECK_ERROR_CONTAINS(a.expand({4, 3}), "expand", "size 2", "4");
    CHECK_ERROR_CONTAINS(a.expand({3}), "expand", "lower rank");
    CHECK_ERROR_CONTAINS(a.view({4, 2}), "view", "[4, 2]", "6");
    CHECK_ERROR_CONTAINS(a.reshape({-1, -1}), "reshape", "only one size may be -1");
    CHECK_ERROR_CONTAINS(a.reshape({4, -1}), "reshape", "cannot infer");
    CHECK_ERROR_CONTAINS(a.unsqueeze(3), "unsqueeze", "axis 3");
}

}  // TEST_SUITE
