#pragma once
// gradcheck: compares the tape's gradients with central finite differences, in f64, for every
// element of every input that requires grad, with PyTorch's tolerances. Use it in tests:
//
//     CHECK(nyx::gradcheck([](const std::vector<Tensor>& x) { return ops::tanh(x[0]).sum(); }, {x}));
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
std::ostream& operator<<(std::ostream& out, const GradcheckResult& result);

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Checks d f(inputs) / d inputs[i] for each input that requires grad. Those inputs must be f64
// (f32 is refused: see the message) and must not overlap in memory (an expand()ed view would
// perturb several elements at once). f may return a tensor of any shape.
GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace nyx
