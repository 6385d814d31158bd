#include "gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>

#include <nyx/core/kernels.hpp>

#include "autocast.hpp"
#include "grad_mode.hpp"

namespace nyx {

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result) {
    return out << (result.ok ? "gradcheck passed" : result.report);
}

namespace {

// The storage offset of each element of t, in row-major order of its index.
std::vector<std::int64_t> element_offsets(const Tensor& t) {
    std::vector<std::int64_t> offsets;
    offsets.reserve(static_cast<std::size_t>(t.numel()));
    Shape index(t.shape().size(), 0);
    for (std::int64_t n = 0; n < t.numel(); ++n) {
        std::int64_t offset = 0;
        for (std::size_t a = 0; a < index.size(); ++a) offset += index[a] * t.strides()[a];
        offsets.push_back(offset);
        for (auto a = index.size(); a-- > 0;) {
            if (++index[a] < t.shape()[a]) break;
            index[a] = 0;
        }
    }
    return offsets;
}

Shape unravel(std::int64_t flat, const Shape& shape) {
    Shape index(shape.size());
    for (auto a = shape.size(); a-- > 0;) {
        index[a] = shape[a] ? flat % shape[a] : 0;
        flat = shape[a] ? flat / shape[a] : 0;
    }
    return index;
}

std::vector<double> evaluate(const TensorFunction& f, const std::vector<Tensor>& inputs) {
    NoGradGuard no_grad;
    return f(inputs).to_vector();
}

}  // namespace

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    const AutocastGuard full_precision(false);  // the Jacobians are compared in the inputs' f64
    std::vector<std::size_t> checked;
    std::vector<std::pair<const Storage*, std::int64_t>> memory;  // every checked element, to find overlaps
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.defined() || !x.requires_grad()) continue;
        NYX_CHECK(x.dtype() == f64, "gradcheck: input ", i, " is ", x.dtype(), "; gradcheck needs f64 inputs. "
                  "A central difference with eps = ", options.eps, " in f32 (about 7 significant digits) loses most "
                  "of them to rounding and would fail correct gradients; convert with .to(nyx::f64) and requires_grad_()");
        NYX_CHECK(x.is_leaf(), "gradcheck: input ", i, " was computed by '", x.grad_fn_name(),
                  "'; pass leaves (tensors you made and called requires_grad_() on)");
        for (std::int64_t offset : element_offsets(x)) memory.emplace_back(x.impl()->storage.get(), x.offset() + offset);
        std::sort(memory.begin(), memory.end());
        NYX_CHECK(std::adjacent_find(memory.begin(), memory.end()) == memory.end(), "gradcheck: input ", i, " of shape ",
                  to_string(x.shape()), " and strides ", to_string(x.strides()), " has elements that share memory "
                  "with each other or with an earlier input (an expand()ed view, or two views of one tensor), so "
                  "perturbing one moves others; pass .contiguous() or .clone()");
        checked.push_back(i);
    }
    NYX_CHECK(!checked.empty(), "gradcheck: no input requires grad; call .requires_grad_() on the inputs to check");

    // The inputs' gradients as the caller left them, put back on every way out.
    struct RestoreGradients {
        std::vector<std::pair<Tensor, Tensor>> saved;
        ~RestoreGradients() {
            for (auto& [input, grad] : saved) input.set_grad(grad);
        }
    } restore;
    for (std::size_t i : checked) restore.saved.emplace_back(inputs[i], inputs[i].grad());

    // Analytical Jacobian, one backward per output element: jacobian[input][out * n_in + in].
    const Tensor y = f(inputs);
    NYX_CHECK(y.defined() && y.dtype() == f64, "gradcheck: the function must return an f64 tensor, got ",
              y.defined() ? std::string(name(y.dtype())) : std::string("an undefined tensor"));
    const std::int64_t outputs = y.numel();
    std::vector<std::vector<double>> analytical(inputs.size());
    for (std::size_t i : checked) analytical[i].assign(static_cast<std::size_t>(outputs * inputs[i].numel()), 0.0);
    if (y.requires_grad()) {
        for (std::int64_t o = 0; o < outputs; ++o) {
            for (std::size_t i : checked) inputs[i].set_grad(Tensor());
            Tensor seed = zeros(y.shape(), y.dtype());
            seed.data<double>()[o] = 1.0;
            y.backward(seed, /*retain_graph=*/true);
            for (std::size_t i : checked) {
                const Tensor g = inputs[i].grad();
                if (!g.defined()) continue;
                const std::vector<double> values = g.to_vector();
                std::copy(values.begin(), values.end(), analytical[i].begin() + o * inputs[i].numel());
            }
        }
    }

    // Numerical Jacobian by central differences, perturbing each element in place, and the worst
    // disagreement relative to the tolerance.
    GradcheckResult result;
    double worst_ratio = 1.0;
    for (std::size_t i : checked) {
        const Tensor& x = inputs[i];
        double* base = static_cast<double*>(x.impl()->storage->data()) + x.offset();
        const std::vector<std::int64_t> offsets = element_offsets(x);
        for (std::int64_t e = 0; e < x.numel(); ++e) {
            // Perturbs one element in place; the destructor puts it back even if f throws.
            struct Perturbation {
                double& value;
                const double original = value;
                ~Perturbation() { value = original; }
            } element{base[offsets[static_cast<std::size_t>(e)]]};
            element.value = element.original + options.eps;
            const std::vector<double> plus = evaluate(f, inputs);
            element.value = element.original - options.eps;
            const std::vector<double> minus = evaluate(f, inputs);
            for (std::int64_t o = 0; o < outputs; ++o) {
                const double numerical = (plus[o] - minus[o]) / (2 * options.eps);
                const double analytic = analytical[i][static_cast<std::size_t>(o * x.numel() + e)];
                const double tolerance = options.atol + options.rtol * std::abs(numerical);
                const double ratio = std::abs(analytic - numerical) / tolerance;
                if (!(ratio <= worst_ratio)) {  // also catches NaN
                    worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
                    result.ok = false;
                    result.report = detail::cat(
                        "gradcheck failed: d(output)/d(input ", i, ") disagrees at input element ",
                        to_string(unravel(e, x.shape())), " of shape ", to_string(x.shape()), ", output element ",
                        to_string(unravel(o, y.shape())), " of shape ", to_string(y.shape()), ": numerical ", numerical,
                        ", analytical ", analytic, " (|difference| ", std::abs(analytic - numerical), " > atol + rtol*|numerical| = ",
                        tolerance, "; eps ", options.eps, ")");
                }
            }
        }
    }
    return result;
}

}  // namespace nyx
