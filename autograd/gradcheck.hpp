#pragma once
// gradcheck: compares the tape's gradients with central finite differences, in f64, for every
// element of every input that requires grad, with PyTorch's tolerances; gradgradcheck does the same
// for the gradients of the gradients. Use them in tests:
//
//     CHECK(nyx::gradcheck([](const std::vector<Tensor>& x) { return ops::tanh(x[0]).sum(); }, {x}));
//     CHECK(nyx::gradgradcheck([](const std::vector<Tensor>& x) { return ops::tanh(x[0]); }, {x}));
//
// A failure's report names the input, the worst element's index and both values.
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nyx/core/tensor.hpp>

namespace nyx {

struct GradcheckOptions {
    double eps = 1e-6;   // finite-difference step
    double atol = 1e-5;  // |analytical - numerical| <= atol + rtol * |numerical|
    double rtol = 1e-3;
};

struct GradcheckResult {
    bool ok = true;
    std::string report;  // empty when ok
    explicit operator bool() const { return ok; }
};
// Prints "passed", or the report.
std::ostream& operator<<(std::ostream& out, const GradcheckResult& result);

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Checks d f(inputs) / d inputs[i] for each input that requires grad. Those inputs must be f64
// (f32 is refused: see the message) and must not overlap in memory (an expand()ed view would
// perturb several elements at once). f may return a tensor of any shape.
GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

// Checks the second derivatives: gradcheck applied to the first derivatives
// (x, v) -> autograd::grad(f(x), x, v) taken with create_graph, with respect to the inputs that
// require grad and to v, as PyTorch's gradgradcheck. `grad_outputs` is v, of f's output shape;
// empty means a fixed random one. The inputs follow gradcheck's rules; a failure's report names the
// gradient, the input, the worst element and both values. An op whose backward cannot be
// differentiated fails with an error naming it.
GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& grad_outputs = {},
                              const GradcheckOptions& options = {});

}  // namespace nyx
