#include "op_table.hpp"

#include "ops.hpp"

namespace nyx::ops {
namespace {

using Inputs = std::vector<Tensor>;

Tensor normal(const Shape& shape, Generator& gen) { return randn(shape, f64, gen); }

// Random values of `shape` laid out with stride 2 on the last axis (or transposed when
// `transposed`): the same numbers a contiguous tensor would hold, reached through a view.
Tensor strided(const Shape& shape, Generator& gen, bool transposed = false) {
    if (shape.empty()) return normal(shape, gen);
    if (transposed && shape.size() >= 2) {
        Shape swapped = shape;
        std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
        Tensor base = normal(swapped, gen);
        Shape strides = base.strides();
        std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
        return base.as_strided(shape, strides, 0);
    }
    Shape wide = shape;
    wide.back() *= 2;
    Tensor base = normal(wide, gen);
    Shape strides = base.strides();
    strides.back() = 2;
    return base.as_strided(shape, strides, 1);
}

// Values at least `margin` away from zero (for ops with a kink or pole there), or positive only.
Tensor away_from_zero(const Shape& shape, Generator& gen, double margin, bool positive = false) {
    Tensor t = normal(shape, gen);
    double* v = t.data<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) v[i] = (positive ? std::abs(v[i]) : v[i]) + (v[i] < 0 && !positive ? -margin : margin);
    return t;
}

OpSample sample(std::string label, Inputs inputs, TensorFunction call) {
    return {std::move(label), std::move(inputs), std::move(call)};
}

// Samples for a binary elementwise op; `right` makes valid right-hand operands.
template <class Op, class Right>
std::function<std::vector<OpSample>(Generator&)> binary_samples(Op op, Right right) {
    return [op, right](Generator& g) {
        auto call = [op](const Inputs& x) { return op(x[0], x[1]); };
        return std::vector<OpSample>{
            sample("same shape [3, 4]", {normal({3, 4}, g), right({3, 4}, g)}, call),
            sample("broadcast [3, 1] with [4]", {normal({3, 1}, g), right({4}, g)}, call),
            sample("broadcast [1, 3] with [2, 1]", {normal({1, 3}, g), right({2, 1}, g)}, call),
            sample("rank 0 with [2, 3]", {normal({}, g), right({2, 3}, g)}, call),
            sample("[2, 3] with rank 0", {normal({2, 3}, g), right({}, g)}, call),
            sample("non-contiguous [3, 4] with transposed [3, 4]", {strided({3, 4}, g), right({4, 3}, g).transpose(0, 1)}, call),
        };
    };
}

template <class Op, class Input>
std::function<std::vector<OpSample>(Generator&)> unary_samples(Op op, Input input) {
    return [op, input](Generator& g) {
        auto call = [op](const Inputs& x) { return op(x[0]); };
        Tensor base = input(Shape{6, 8}, g);
        return std::vector<OpSample>{
            sample("[3, 4]", {input({3, 4}, g)}, call),
            sample("rank 0", {input({}, g)}, call),
            sample("size-1 axes [1, 3, 1]", {input({1, 3, 1}, g)}, call),
            sample("non-contiguous [3, 4] (strides 16, 2)", {base.as_strided({3, 4}, {16, 2}, 1)}, call),
            sample("transposed [8, 6]", {base.transpose(0, 1)}, call),
        };
    };
}

template <class Op>
std::function<std::vector<OpSample>(Generator&)> reduction_samples(Op op) {
    return [op](Generator& g) {
        auto over = [op](Shape axes, bool keepdim) {
            return [op, axes, keepdim](const Inputs& x) { return op(x[0], axes, keepdim); };
        };
        auto all = [op](const Inputs& x) { return op(x[0], Shape{}, false); };
        return std::vector<OpSample>{
            sample("all of [3, 4]", {normal({3, 4}, g)}, all),
            sample("all of rank 0", {normal({}, g)}, all),
            sample("axis 1 of [3, 4]", {normal({3, 4}, g)}, over({1}, false)),
            sample("axis 0 of [3, 4] (leading)", {normal({3, 4}, g)}, over({0}, false)),
            sample("axes {0, 2} of [2, 3, 4], keepdim", {normal({2, 3, 4}, g)}, over({0, 2}, true)),
            sample("axis -1 of non-contiguous [3, 4]", {strided({3, 4}, g)}, over({-1}, false)),
            sample("axis 1 of transposed [3, 4], keepdim", {strided({3, 4}, g, true)}, over({1}, true)),
            sample("size-1 axis 1 of [3, 1, 2]", {normal({3, 1, 2}, g)}, over({1}, false)),
        };
    };
}

std::function<std::vector<OpSample>(Generator&)> matmul_samples() {
    return [](Generator& g) {
        auto call = [](const Inputs& x) { return matmul(x[0], x[1]); };
        Tensor wide = normal({4, 10}, g);
        return std::vector<OpSample>{
            sample("[3, 4] @ [4, 5]", {normal({3, 4}, g), normal({4, 5}, g)}, call),
            sample("transposed [3, 4] @ transposed [4, 2]", {strided({3, 4}, g, true), strided({4, 2}, g, true)}, call),
            sample("[2, 3, 4] @ [2, 4, 5]", {normal({2, 3, 4}, g), normal({2, 4, 5}, g)}, call),
            sample("broadcast batch [2, 1, 3, 4] @ [3, 4, 2]", {normal({2, 1, 3, 4}, g), normal({3, 4, 2}, g)}, call),
            sample("[2, 3, 4] @ [4, 2] (shared matrix)", {normal({2, 3, 4}, g), normal({4, 2}, g)}, call),
            sample("[4] @ [4] (dot)", {normal({4}, g), normal({4}, g)}, call),
            sample("[4] @ [4, 3]", {normal({4}, g), normal({4, 3}, g)}, call),
            sample("[3, 4] @ [4]", {normal({3, 4}, g), normal({4}, g)}, call),
            sample("[2, 3, 4] @ [4]", {normal({2, 3, 4}, g), normal({4}, g)}, call),
            sample("size-1 axes [1, 4] @ [4, 1]", {normal({1, 4}, g), normal({4, 1}, g)}, call),
            sample("stride-2 columns (copied for BLAS)", {normal({3, 4}, g), wide.as_strided({4, 5}, {10, 2}, 0)}, call),
        };
    };
}

std::vector<OpInfo> build_table() {
    auto any = [](const Shape& s, Generator& g) { return normal(s, g); };
    auto nonzero = [](const Shape& s, Generator& g) { return away_from_zero(s, g, 0.5); };
    auto positive = [](const Shape& s, Generator& g) { return away_from_zero(s, g, 0.2, true); };
    auto kinked = [](const Shape& s, Generator& g) { return away_from_zero(s, g, 0.1); };
    auto one = [](auto call) { return [call](const Inputs& x) { return call(x[0]); }; };
    using Samples = std::vector<OpSample>;

    return {
        {"add", {true, true}, binary_samples([](auto& a, auto& b) { return add(a, b); }, any)},
        {"sub", {true, true}, binary_samples([](auto& a, auto& b) { return sub(a, b); }, any)},
        {"mul", {true, true}, binary_samples([](auto& a, auto& b) { return mul(a, b); }, any)},
        {"div", {true, true}, binary_samples([](auto& a, auto& b) { return div(a, b); }, nonzero)},
        {"neg", {true}, unary_samples([](auto& x) { return neg(x); }, any)},
        {"exp", {true}, unary_samples([](auto& x) { return exp(x); }, any)},
        {"log", {true}, unary_samples([](auto& x) { return log(x); }, positive)},
        {"relu", {true}, unary_samples([](auto& x) { return relu(x); }, kinked)},
        {"tanh", {true}, unary_samples([](auto& x) { return tanh(x); }, any)},
        {"sum", {true}, reduction_samples([](auto& x, const Shape& axes, bool keepdim) { return sum(x, axes, keepdim); })},
        {"mean", {true}, reduction_samples([](auto& x, const Shape& axes, bool keepdim) { return mean(x, axes, keepdim); })},
        {"matmul", {true, true}, matmul_samples()},
        {"view", {true}, [=](Generator& g) {
             return Samples{sample("[2, 6] as [3, 4]", {normal({2, 6}, g)}, one([](auto& x) { return view(x, {3, 4}); })),
                            sample("[2, 3, 4] as [-1, 4]", {normal({2, 3, 4}, g)}, one([](auto& x) { return view(x, {-1, 4}); })),
                            sample("rank 0 as [1, 1]", {normal({}, g)}, one([](auto& x) { return view(x, {1, 1}); })),
                            sample("stride-2 [3, 4] as [3, 2, 2]", {strided({3, 4}, g)}, one([](auto& x) { return view(x, {3, 2, 2}); }))};
         }},
        {"reshape", {true}, [=](Generator& g) {
             return Samples{sample("[2, 6] to [4, 3]", {normal({2, 6}, g)}, one([](auto& x) { return reshape(x, {4, 3}); })),
                            sample("transposed [3, 4] to [12] (copies)", {strided({3, 4}, g, true)}, one([](auto& x) { return reshape(x, {12}); })),
                            sample("[1] to rank 0", {normal({1}, g)}, one([](auto& x) { return reshape(x, {}); }))};
         }},
        {"transpose", {true}, [=](Generator& g) {
             return Samples{sample("axes 0, 2 of [2, 3, 4]", {normal({2, 3, 4}, g)}, one([](auto& x) { return transpose(x, 0, 2); })),
                            sample("axes -1, -2 of stride-2 [3, 4]", {strided({3, 4}, g)}, one([](auto& x) { return transpose(x, -1, -2); }))};
         }},
        {"permute", {true}, [=](Generator& g) {
             return Samples{sample("[2, 3, 4] by {2, 0, 1}", {normal({2, 3, 4}, g)}, one([](auto& x) { return permute(x, {2, 0, 1}); })),
                            sample("transposed [3, 4] by {-1, 0}", {strided({3, 4}, g, true)}, one([](auto& x) { return permute(x, {-1, 0}); }))};
         }},
        {"slice", {true}, [=](Generator& g) {
             return Samples{sample("rows 1:4:2 of [5, 4]", {normal({5, 4}, g)}, one([](auto& x) { return slice(x, 0, 1, 4, 2); })),
                            sample("columns -3: of stride-2 [3, 4]", {strided({3, 4}, g)}, one([](auto& x) { return slice(x, -1, -3, 100); })),
                            sample("narrow axis 1 from 1, length 2", {normal({3, 4}, g)}, one([](auto& x) { return narrow(x, 1, 1, 2); }))};
         }},
        {"select", {true}, [=](Generator& g) {
             return Samples{sample("column -1 of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return select(x, 1, -1); })),
                            sample("element 2 of [3] (rank 0 result)", {normal({3}, g)}, one([](auto& x) { return select(x, 0, 2); })),
                            sample("row 1 of transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return select(x, 0, 1); }))};
         }},
        {"expand", {true}, [=](Generator& g) {
             return Samples{sample("[3, 1] to [2, 3, 4]", {normal({3, 1}, g)}, one([](auto& x) { return expand(x, {2, 3, 4}); })),
                            sample("rank 0 to [2, 2]", {normal({}, g)}, one([](auto& x) { return expand(x, {2, 2}); })),
                            sample("[1, 3] to [-1, 3] with a new axis", {normal({1, 3}, g)}, one([](auto& x) { return expand(x, {2, -1, 3}); }))};
         }},
        {"squeeze", {true}, [=](Generator& g) {
             return Samples{sample("all unit axes of [3, 1, 2, 1]", {normal({3, 1, 2, 1}, g)}, one([](auto& x) { return squeeze(x); })),
                            sample("axis 1 of [3, 1, 2]", {normal({3, 1, 2}, g)}, one([](auto& x) { return squeeze(x, 1); })),
                            sample("[1] to rank 0", {normal({1}, g)}, one([](auto& x) { return squeeze(x); }))};
         }},
        {"unsqueeze", {true}, [=](Generator& g) {
             return Samples{sample("axis 1 of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return unsqueeze(x, 1); })),
                            sample("axis -1 of stride-2 [3, 4]", {strided({3, 4}, g)}, one([](auto& x) { return unsqueeze(x, -1); })),
                            sample("axis 0 of rank 0", {normal({}, g)}, one([](auto& x) { return unsqueeze(x, 0); }))};
         }},
        {"contiguous", {true}, [=](Generator& g) {
             return Samples{sample("transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return contiguous(x); })),
                            sample("stride-2 [2, 3]", {strided({2, 3}, g)}, one([](auto& x) { return contiguous(x); }))};
         }},
        {"clone", {true}, [=](Generator& g) {
             return Samples{sample("[2, 3]", {normal({2, 3}, g)}, one([](auto& x) { return clone(x); })),
                            sample("transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return clone(x); }))};
         }},
    };
}

}  // namespace

const std::vector<OpInfo>& op_table() {
    static const std::vector<OpInfo> table = build_table();
    return table;
}

}  // namespace nyx::ops
