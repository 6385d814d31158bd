#include "op_table.hpp"

#include <cmath>
#include <memory>
#include <set>
#include <string_view>

#include <nyx/dist/distributed.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/ops/ops.hpp>

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
        {"maximum", {true, true}, binary_samples([](auto& a, auto& b) { return maximum(a, b); }, any)},
        {"minimum", {true, true}, binary_samples([](auto& a, auto& b) { return minimum(a, b); }, any)},
        {"abs", {true}, unary_samples([](auto& x) { return abs(x); }, kinked)},
        {"sqrt", {true}, unary_samples([](auto& x) { return sqrt(x); }, positive)},
        {"rsqrt", {true}, unary_samples([](auto& x) { return rsqrt(x); }, positive)},
        {"pow", {true}, [=](Generator& g) {
             return Samples{sample("x^3 of [3, 4] (any sign)", {normal({3, 4}, g)}, one([](auto& x) { return pow(x, 3); })),
                            sample("x^2.5 of positive [3]", {away_from_zero({3}, g, 0.2, true)}, one([](auto& x) { return pow(x, 2.5); })),
                            sample("x^-1.5 of positive transposed [2, 3]", {away_from_zero({3, 2}, g, 0.2, true).transpose(0, 1)},
                                   one([](auto& x) { return pow(x, -1.5); })),
                            sample("x^0 of rank 0", {normal({}, g)}, one([](auto& x) { return pow(x, 0); }))};
         }},
        {"erf", {true}, unary_samples([](auto& x) { return erf(x); }, any)},
        {"sigmoid", {true}, unary_samples([](auto& x) { return sigmoid(x); }, any)},
        {"gelu", {true}, [=](Generator& g) {
             Samples out = unary_samples([](auto& x) { return gelu(x); }, any)(g);
             for (OpSample& tanh_form : unary_samples([](auto& x) { return gelu(x, GeluApproximation::tanh); }, any)(g))
                 out.push_back(sample("tanh form, " + tanh_form.label, tanh_form.inputs, tanh_form.call));
             return out;
         }},
        {"clamp", {true}, [=](Generator& g) {
             return Samples{sample("[-0.5, 0.5] of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return clamp(x, -0.5, 0.5); })),
                            sample("lower bound only, stride-2 [3, 4]", {strided({3, 4}, g)}, one([](auto& x) { return clamp(x, 0.1, INFINITY); })),
                            sample("rank 0", {normal({}, g)}, one([](auto& x) { return clamp(x, -1, 1); }))};
         }},
        {"where", {false, true, true}, [=](Generator& g) {
             auto mask = [](const Shape& s, Generator& gen) { return gt(rand(s, f64, gen), scalar(0.5, f64)); };
             auto call = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
             return Samples{sample("[3, 4] masks", {mask({3, 4}, g), normal({3, 4}, g), normal({3, 4}, g)}, call),
                            sample("broadcast mask [3, 1], a [4], b rank 0", {mask({3, 1}, g), normal({4}, g), normal({}, g)}, call),
                            sample("transposed choices", {mask({4, 3}, g), strided({4, 3}, g, true), strided({4, 3}, g)}, call)};
         }},
        {"masked_fill", {true, false}, [=](Generator& g) {
             auto call = [](const Inputs& x) { return masked_fill(x[0], x[1], -2.5); };
             return Samples{sample("[3, 4] with a [3, 4] mask", {normal({3, 4}, g), gt(rand({3, 4}, f64, g), scalar(0.5, f64))}, call),
                            sample("[2, 3, 4] with a broadcast [1, 4] mask", {normal({2, 3, 4}, g), tensor({1, 0, 0, 1}, {1, 4}, f64)}, call)};
         }},
        {"max", {true}, [=](Generator& g) {
             return Samples{sample("axis 1 of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return max(x, 1).values; })),
                            sample("axis 0 of transposed [3, 4], keepdim", {strided({3, 4}, g, true)}, one([](auto& x) { return max(x, 0, true).values; })),
                            sample("rank 0", {normal({}, g)}, one([](auto& x) { return max(x, 0).values; }))};
         }},
        {"min", {true}, [=](Generator& g) {
             return Samples{sample("axis -1 of [2, 3, 4]", {normal({2, 3, 4}, g)}, one([](auto& x) { return min(x, -1).values; })),
                            sample("axis 1 of stride-2 [3, 4], keepdim", {strided({3, 4}, g)}, one([](auto& x) { return min(x, 1, true).values; }))};
         }},
        // At one rank the maximum over the ranks is the value itself; tests/distributed_test.cpp
        // checks it at two.
        {"max_over_ranks", {true}, [=](Generator& g) {
             return Samples{sample("one value [1]", {normal({1}, g)}, one([](auto& x) { return dist::max_over_ranks(x); })),
                            sample("rank 0", {normal({}, g)}, one([](auto& x) { return dist::max_over_ranks(x * 2.0); }))};
         }},
        {"amax", {true}, [=](Generator& g) {
             return Samples{sample("all of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return amax(x); })),
                            sample("axes {0, 2} of [2, 3, 4], keepdim", {normal({2, 3, 4}, g)}, one([](auto& x) { return amax(x, {0, 2}, true); }))};
         }},
        {"amin", {true}, [=](Generator& g) {
             return Samples{sample("all of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return amin(x); })),
                            sample("axis 1 of transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return amin(x, {1}); }))};
         }},
        {"deviations", {true}, [=](Generator& g) {
             return Samples{sample("all of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return deviations(x); })),
                            sample("axis 1 of stride-2 [3, 4]", {strided({3, 4}, g)}, one([](auto& x) { return deviations(x, {1}); }))};
         }},
        {"var", {true}, [=](Generator& g) {
             return Samples{sample("all of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return var(x); })),
                            sample("axis 1 of [3, 4], correction 0, keepdim", {normal({3, 4}, g)}, one([](auto& x) { return var(x, {1}, 0, true); })),
                            sample("axes {0, 2} of stride-2 [2, 3, 4]", {strided({2, 3, 4}, g)}, one([](auto& x) { return var(x, {0, 2}); }))};
         }},
        {"logsumexp", {true}, [=](Generator& g) {
             return Samples{sample("axis 1 of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return logsumexp(x, {1}); })),
                            sample("all of [2, 3], keepdim", {normal({2, 3}, g)}, one([](auto& x) { return logsumexp(x, {}, true); })),
                            sample("axis 0 of transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return logsumexp(x, {0}); }))};
         }},
        {"linear", {true, true, true}, [=](Generator& g) {
             auto call = [](const Inputs& x) { return linear(x[0], x[1], x[2]); };
             return Samples{sample("[4, 3] by [5, 3] + [5]", {normal({4, 3}, g), normal({5, 3}, g), normal({5}, g)}, call),
                            sample("[2, 3, 3] (batched) by [2, 3] + [2]", {normal({2, 3, 3}, g), normal({2, 3}, g), normal({2}, g)}, call),
                            sample("transposed [4, 3] by transposed [2, 3]", {strided({4, 3}, g, true), strided({2, 3}, g, true), normal({2}, g)}, call),
                            sample("[3] (a vector) by [2, 3] + [2]", {normal({3}, g), normal({2, 3}, g), normal({2}, g)}, call)};
         }},
        {"linear (no bias)", {true, true}, [=](Generator& g) {
             auto call = [](const Inputs& x) { return linear(x[0], x[1]); };
             return Samples{sample("[4, 3] by [5, 3]", {normal({4, 3}, g), normal({5, 3}, g)}, call),
                            sample("stride-2 [2, 2, 3] by [4, 3]", {strided({2, 2, 3}, g), normal({4, 3}, g)}, call)};
         }},
        {"flatten", {true}, [=](Generator& g) {
             return Samples{sample("[2, 3, 4] from axis 1", {normal({2, 3, 4}, g)}, one([](auto& x) { return flatten(x, 1); })),
                            sample("transposed [3, 4], all axes", {strided({3, 4}, g, true)}, one([](auto& x) { return flatten(x); }))};
         }},
        {"split", {true}, [=](Generator& g) {
             return Samples{sample("piece 1 of [5, 3] in pieces of 2", {normal({5, 3}, g)}, one([](auto& x) { return split(x, 2)[1]; })),
                            sample("last (short) piece along axis 1", {normal({3, 5}, g)}, one([](auto& x) { return split(x, 2, 1)[2]; })),
                            sample("chunk 0 of 2 of stride-2 [4, 3]", {strided({4, 3}, g)}, one([](auto& x) { return chunk(x, 2)[0]; }))};
         }},
        {"concat", {true, true, true}, [=](Generator& g) {
             return Samples{sample("[2, 3], [1, 3], [3, 3] along axis 0", {normal({2, 3}, g), normal({1, 3}, g), normal({3, 3}, g)},
                                   [](const Inputs& x) { return concat(x, 0); }),
                            sample("along axis -1, one transposed", {normal({3, 2}, g), strided({3, 4}, g, true), normal({3, 1}, g)},
                                   [](const Inputs& x) { return concat(x, -1); })};
         }},
        {"stack", {true, true}, [=](Generator& g) {
             return Samples{sample("two [2, 3] along axis 1", {normal({2, 3}, g), normal({2, 3}, g)}, [](const Inputs& x) { return stack(x, 1); }),
                            sample("two rank-0 tensors", {normal({}, g), normal({}, g)}, [](const Inputs& x) { return stack(x); })};
         }},
        {"pad", {true}, [=](Generator& g) {
             return Samples{sample("last axis by {1, 2}", {normal({2, 3}, g)}, one([](auto& x) { return pad(x, {1, 2}); })),
                            sample("two axes of transposed [3, 4] by {0, 1, 2, 0}, value 1.5", {strided({3, 4}, g, true)},
                                   one([](auto& x) { return pad(x, {0, 1, 2, 0}, 1.5); }))};
         }},
        {"index_select", {true, false}, [=](Generator& g) {
             auto call = [](std::int64_t axis) { return [axis](const Inputs& x) { return index_select(x[0], axis, x[1]); }; };
             return Samples{sample("rows {2, 0, 2} of [3, 4] (a repeat)", {normal({3, 4}, g), tensor({2, 0, 2}, i64)}, call(0)),
                            sample("columns {3, 1} of transposed [3, 4]", {strided({3, 4}, g, true), tensor({3, 1}, i64)}, call(1))};
         }},
        {"gather", {true, false}, [=](Generator& g) {
             auto call = [](std::int64_t axis) { return [axis](const Inputs& x) { return gather(x[0], axis, x[1]); }; };
             return Samples{sample("axis 1 of [3, 4]", {normal({3, 4}, g), tensor({0, 3, 3, 1, 2, 0}, {3, 2}, i64)}, call(1)),
                            sample("axis 0 of stride-2 [3, 4], smaller index", {strided({3, 4}, g), tensor({2, 2, 0, 1, 1, 1}, {2, 3}, i64)}, call(0))};
         }},
        {"softmax", {true}, [=](Generator& g) {
             return Samples{sample("last axis of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return softmax(x, -1); })),
                            sample("middle axis of [2, 3, 4]", {normal({2, 3, 4}, g)}, one([](auto& x) { return softmax(x, 1); })),
                            sample("axis 0 of transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return softmax(x, 0); }))};
         }},
        {"log_softmax", {true}, [=](Generator& g) {
             return Samples{sample("last axis of [3, 4]", {normal({3, 4}, g)}, one([](auto& x) { return log_softmax(x, -1); })),
                            sample("middle axis of stride-2 [2, 3, 4]", {strided({2, 3, 4}, g)}, one([](auto& x) { return log_softmax(x, 1); })),
                            sample("rank 0", {normal({}, g)}, one([](auto& x) { return log_softmax(x, 0); }))};
         }},
        {"layer_norm", {true, true, true}, [=](Generator& g) {
             auto call = [](Shape normalized) {
                 return [normalized](const Inputs& x) { return layer_norm(x[0], normalized, x[1], x[2], 1e-5); };
             };
             return Samples{sample("[3, 4] over [4]", {normal({3, 4}, g), normal({4}, g), normal({4}, g)}, call({4})),
                            sample("[2, 3, 4] over [3, 4]", {normal({2, 3, 4}, g), normal({3, 4}, g), normal({3, 4}, g)}, call({3, 4})),
                            sample("transposed [5, 3] over [3]", {strided({5, 3}, g, true), normal({3}, g), normal({3}, g)}, call({3}))};
         }},
        {"layer_norm (no affine)", {true}, [=](Generator& g) {
             return Samples{sample("[3, 4] over [4]", {normal({3, 4}, g)}, one([](auto& x) { return layer_norm(x, {4}); })),
                            sample("[2, 5] over [5], eps 0.1", {normal({2, 5}, g)}, one([](auto& x) { return layer_norm(x, {5}, {}, {}, 0.1); }))};
         }},
        {"embedding", {false, true}, [=](Generator& g) {
             return Samples{sample("ids [2, 3] (repeats) from [5, 4]", {tensor({1, 4, 1, 0, 1, 3}, {2, 3}, i64), normal({5, 4}, g)},
                                   [](const Inputs& x) { return embedding(x[0], x[1]); }),
                            // The padding row's gradient is zeroed on purpose, which is no derivative to check:
                            // the ops suite tests that rule exactly. Here the padding id is not used.
                            sample("rank-1 ids with a padding index that does not occur", {tensor({2, 0, 2}, i64), normal({3, 2}, g)},
                                   [](const Inputs& x) { return embedding(x[0], x[1], 1); })};
         }},
        {"cross_entropy", {true, false}, [=](Generator& g) {
             auto call = [](CrossEntropyOptions o) { return [o](const Inputs& x) { return cross_entropy(x[0], x[1], o); }; };
             const Tensor targets = tensor({2, 0, 4, 2}, i64);
             return Samples{sample("mean over [4, 5]", {normal({4, 5}, g), targets}, call({})),
                            sample("sum", {normal({4, 5}, g), targets}, call({.reduction = Reduction::sum})),
                            sample("none, on transposed logits", {strided({4, 5}, g, true), targets}, call({.reduction = Reduction::none})),
                            sample("ignore_index 2 with label smoothing 0.2", {normal({4, 5}, g), targets},
                                   call({.ignore_index = 2, .label_smoothing = 0.2})),
                            sample("one row [5] with a rank-0 target", {normal({5}, g), scalar(3, i64)}, call({}))};
         }},
        {"dropout", {true}, [=](Generator& g) {
             return Samples{sample("p 0.3 on [4, 5]", {normal({4, 5}, g)}, one([](auto& x) { Generator fixed(9); return dropout(x, 0.3, true, fixed); })),
                            sample("p 0.5 on transposed [3, 4]", {strided({3, 4}, g, true)},
                                   one([](auto& x) { Generator fixed(4); return dropout(x, 0.5, true, fixed); }))};
         }},
        {"depthwise_conv1d", {true, true, true}, [=](Generator& g) {
             auto call = [](std::int64_t padding) { return [padding](const Inputs& x) { return depthwise_conv1d(x[0], x[1], x[2], padding); }; };
             return Samples{sample("[2, 3, 7, 2] with k 3", {normal({2, 3, 7, 2}, g), normal({3, 3}, g), normal({3}, g)}, call(-1)),
                            sample("[1, 2, 4] with k 5 (longer than half the sequence)", {normal({1, 2, 4}, g), normal({2, 5}, g), normal({2}, g)}, call(-1)),
                            sample("padding 0, stride-2 input", {strided({2, 2, 5, 2}, g), normal({2, 3}, g), normal({2}, g)}, call(0)),
                            sample("padding 3 > k - 1 (longer output)", {normal({1, 2, 4, 3}, g), normal({2, 3}, g), normal({2}, g)}, call(3))};
         }},
        {"segment_mean", {true}, [=](Generator& g) {
             return Samples{sample("7 entries in 3 uneven segments along axis 1", {normal({2, 7, 3}, g)}, one([](auto& x) { return segment_mean(x, 1, 3); })),
                            sample("8 entries in 4 even segments", {normal({8}, g)}, one([](auto& x) { return segment_mean(x, 0, 4); })),
                            sample("transposed [5, 3], 5 segments along axis 0", {strided({5, 3}, g, true)}, one([](auto& x) { return segment_mean(x, 0, 5); }))};
         }},
        {"contiguous", {true}, [=](Generator& g) {
             return Samples{sample("transposed [3, 4]", {strided({3, 4}, g, true)}, one([](auto& x) { return contiguous(x); })),
                            sample("stride-2 [2, 3]", {strided({2, 3}, g)}, one([](auto& x) { return contiguous(x); }))};
         }},
        // Losses (ops/loss.cpp). The composite ones record other ops of the table; their entries
        // check the composition. Differences lie away from the kinks of |d| (at 0 and at beta).
        {"mse_loss", {true, true}, [=](Generator& g) {
             auto call = [](Reduction r) { return [r](const Inputs& x) { return mse_loss(x[0], x[1], r); }; };
             return Samples{sample("mean over [3, 4]", {normal({3, 4}, g), normal({3, 4}, g)}, call(Reduction::mean)),
                            sample("sum, transposed input", {strided({3, 4}, g, true), normal({3, 4}, g)}, call(Reduction::sum)),
                            sample("none on rank 0", {normal({}, g), normal({}, g)}, call(Reduction::none))};
         }},
        {"l1_loss", {true, true}, [=](Generator& g) {
             auto call = [](Reduction r) { return [r](const Inputs& x) { return l1_loss(x[0], x[1], r); }; };
             return Samples{sample("mean over [3, 4]", {normal({3, 4}, g), normal({3, 4}, g)}, call(Reduction::mean)),
                            sample("none on stride-2 [2, 3]", {strided({2, 3}, g), normal({2, 3}, g)}, call(Reduction::none))};
         }},
        {"smooth_l1_loss", {true, true}, [=](Generator& g) {
             auto call = [](Reduction r, double beta) { return [r, beta](const Inputs& x) { return smooth_l1_loss(x[0], x[1], r, beta); }; };
             return Samples{sample("beta 1 over [4, 5] (both branches)", {normal({4, 5}, g), normal({4, 5}, g)}, call(Reduction::mean, 1)),
                            sample("beta 0.3, sum", {normal({3, 4}, g), strided({3, 4}, g, true)}, call(Reduction::sum, 0.3)),
                            sample("beta 0 is l1, none", {normal({2, 3}, g), normal({2, 3}, g)}, call(Reduction::none, 0))};
         }},
        {"huber_loss", {true, true}, [=](Generator& g) {
             auto call = [](Reduction r, double delta) { return [r, delta](const Inputs& x) { return huber_loss(x[0], x[1], r, delta); }; };
             return Samples{sample("delta 1 over [4, 5]", {normal({4, 5}, g), normal({4, 5}, g)}, call(Reduction::mean, 1)),
                            sample("delta 0.5, none, transposed", {strided({3, 4}, g, true), normal({3, 4}, g)}, call(Reduction::none, 0.5))};
         }},
        {"binary_cross_entropy", {true, true}, [=](Generator& g) {
             auto probabilities = [&g](const Shape& shape) { return (randn(shape, f64, g).sigmoid() * 0.9 + 0.05).detach(); };
             auto call = [](Tensor weight, Reduction r) { return [weight, r](const Inputs& x) { return binary_cross_entropy(x[0], x[1], weight, r); }; };
             return Samples{sample("mean over [3, 4], soft targets", {probabilities({3, 4}), probabilities({3, 4})}, call({}, Reduction::mean)),
                            sample("weight [4] broadcast, sum", {probabilities({3, 4}), probabilities({3, 4})},
                                   call(tensor({0.5, 1, 2, 0}, f64), Reduction::sum)),
                            sample("none, transposed input", {probabilities({4, 3}).transpose(0, 1), probabilities({3, 4})}, call({}, Reduction::none))};
         }},
        {"binary_cross_entropy_with_logits", {true, true}, [=](Generator& g) {
             auto targets = [&g](const Shape& shape) { return randn(shape, f64, g).sigmoid().detach(); };
             auto call = [](Tensor weight, Reduction r, Tensor pos_weight) {
                 return [weight, r, pos_weight](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1], weight, r, pos_weight); };
             };
             return Samples{sample("mean over [3, 4], logits of both signs", {normal({3, 4}, g) * 3.0, targets({3, 4})}, call({}, Reduction::mean, {})),
                            sample("pos_weight [4] and weight [3, 1], sum", {normal({3, 4}, g), targets({3, 4})},
                                   call(tensor({1, 0.5, 2}, {3, 1}, f64), Reduction::sum, tensor({2, 0.5, 1, 3}, f64))),
                            sample("none, transposed, rank-0 pos_weight", {strided({3, 4}, g, true), targets({3, 4})},
                                   call({}, Reduction::none, scalar(1.5, f64)))};
         }},
        {"nll_loss", {true, false}, [=](Generator& g) {
             auto call = [](NllLossOptions o) { return [o](const Inputs& x) { return nll_loss(x[0], x[1], o); }; };
             const Tensor targets = tensor({2, 0, 4, 2}, i64);
             return Samples{sample("mean over [4, 5]", {normal({4, 5}, g), targets}, call({})),
                            sample("ignore_index 2, sum", {normal({4, 5}, g), targets}, call({.reduction = Reduction::sum, .ignore_index = 2})),
                            sample("ignore_index 2, mean over the rows kept", {normal({4, 5}, g), targets}, call({.ignore_index = 2})),
                            sample("none on transposed log-probabilities", {strided({4, 5}, g, true), targets}, call({.reduction = Reduction::none})),
                            sample("one row [5] with a rank-0 target", {normal({5}, g), scalar(3, i64)}, call({}))};
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

void check_recorded_ops() {
    auto known = std::make_shared<std::set<std::string, std::less<>>>();
    for (const OpInfo& op : op_table()) known->insert(op.name);
    known->insert("to");
    autograd::set_record_check([known](const std::string& op) {
        // "<op> backward" is an op's backward recorded for a higher-order gradient: gradgradcheck checks it with the op
        const std::string_view forward = op.ends_with(" backward") ? std::string_view(op).substr(0, op.size() - 9) : std::string_view(op);
        NYX_CHECK(known->count(forward) || op.starts_with("test_"), "the op '", op, "' was recorded, but the op table "
                  "(tests/op_table.cpp) does not list it, so nothing gradchecks its backward: register it there");
    });
}

}  // namespace nyx::ops
