// detect_anomaly's checks (grad_mode.hpp): a forward op's results, and a backward closure's
// gradients. The tape calls them at two named points (backward_pass.hpp) when anomaly mode is on.
#include <cmath>

#include <nyx/core/kernels.hpp>

#include "backward_pass.hpp"

namespace nyx::autograd {
namespace {

std::string describe(const Shape& shape, DType dtype) { return detail::cat(to_string(shape), " ", dtype); }

// "[2, 3] f32, none, [4] i64": the inputs of an op (from its tensors, or from its record's edges).
template <class Inputs, class Describe>
std::string describe_all(const Inputs& inputs, Describe describe_one) {
    std::string out;
    for (const auto& input : inputs) out += (out.empty() ? "" : ", ") + describe_one(input);
    return out.empty() ? "none" : out;
}

std::string describe(const std::vector<Tensor>& tensors) {
    return describe_all(tensors, [](const Tensor& t) { return t.defined() ? describe(t.shape(), t.dtype()) : std::string("none"); });
}

std::string describe(const std::vector<Edge>& edges) {
    return describe_all(edges, [](const Edge& e) { return e.defined ? describe(e.shape, e.dtype) : std::string("none"); });
}

std::string where(const std::string& op, const Record* rec) {
    return rec ? detail::cat("'", op, "' (record ", rec->sequence, " on the tape)")
               : detail::cat("'", op, "' (not on the tape: no input requires grad)");
}

}  // namespace

std::string first_non_finite(const Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype())) return {};
    const Tensor c = kernels::contiguous(t);
    return dispatch_floating(c.dtype(), "detect_anomaly", [&]<class T>() -> std::string {
        const T* p = c.data<T>();
        for (std::int64_t i = 0; i < c.numel(); ++i)
            if (!std::isfinite(p[i])) return detail::cat(std::isnan(p[i]) ? "NaN" : p[i] > 0 ? "Inf" : "-Inf", " at element ", i);
        return {};
    });
}

// Forward: the first op whose output is non-finite while its inputs are finite made the anomaly.
void pass::check_outputs(const std::string& op, const Record* rec, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& outputs) {
    for (std::size_t o = 0; o < outputs.size(); ++o) {
        const std::string bad = first_non_finite(outputs[o]);
        if (bad.empty()) continue;
        std::string cause = "its inputs are finite, so this op made the first non-finite value";
        for (std::size_t i = 0; i < inputs.size(); ++i)
            if (const std::string in = first_non_finite(inputs[i]); !in.empty()) {
                cause = detail::cat("its input ", i, " already holds ", in, ", which no checked op computed (data, a parameter, or a "
                                    "result from before detect_anomaly was on)");
                break;
            }
        throw Error(detail::cat("detect_anomaly: ", where(op, rec), " returned ", bad, " in output ", o, " (",
                                describe(outputs[o].shape(), outputs[o].dtype()), "); its inputs: ", describe(inputs), "; ", cause));
    }
}

// Backward: the first backward closure that returns a non-finite gradient from finite ones made the anomaly.
// Only gradients that go somewhere are checked: an op may return one for an input that wants none.
void pass::check_gradients(const Record& rec, const Gradients& grad_outputs, const Gradients& grads) {
    for (std::size_t i = 0; i < grads.size() && i < rec.inputs.size(); ++i) {
        if (!rec.inputs[i].wants_gradient()) continue;
        const std::string bad = first_non_finite(grads[i]);
        if (bad.empty()) continue;
        std::string cause = "the gradients it received are finite, so its backward made the first non-finite value";
        for (std::size_t o = 0; o < grad_outputs.size(); ++o)
            if (const std::string in = first_non_finite(grad_outputs[o]); !in.empty()) {
                // Every backward's results are checked, so this came from the gradient given to backward()
                // or from adding up the finite gradients that reached this output.
                cause = detail::cat("the gradient it received for output ", o, " already holds ", in,
                                    ": the gradient passed to backward(), or a sum of gradients reaching that output, overflowed");
                break;
            }
        throw Error(detail::cat("detect_anomaly: the backward of ", where(rec.op, &rec), " returned ", bad, " in the gradient for input ",
                                i, " (", describe(grads[i].shape(), grads[i].dtype()), "); the op's inputs: ", describe(rec.inputs), "; ",
                                cause));
    }
}

}  // namespace nyx::autograd
