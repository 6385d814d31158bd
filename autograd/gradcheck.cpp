#include "gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <ostream>

#include <nyx/core/kernels.hpp>
#include <nyx/core/random.hpp>

#include "autocast.hpp"
#include "grad.hpp"
#include "grad_mode.hpp"

namespace nyx {

std::ostream& operator<<(std::ostream& out, const GradcheckResult& result) {
    return out << (result.ok ? "passed" : result.report);
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

std::vector<std::vector<double>> evaluate(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f,
                                          const std::vector<Tensor>& inputs) {
    NoGradGuard no_grad;
    std::vector<std::vector<double>> values;
    for (const Tensor& y : f(inputs)) values.push_back(y.to_vector());
    return values;
}

}  // namespace

namespace {

using TensorsFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

// What the report calls output k and input i: gradcheck's "output" and "input 1"; gradgradcheck's
// "grad of input 0" and "grad_output 0".
struct Naming {
    std::function<std::string(std::size_t)> output, input;
};

// The inputs f is differentiated by: those that require grad, after checking that they are f64
// leaves whose elements share no memory.
std::vector<std::size_t> checked_inputs(const std::vector<Tensor>& inputs, const char* caller, const GradcheckOptions& options) {
    std::vector<std::size_t> checked;
    std::vector<std::pair<const Storage*, std::int64_t>> memory;  // every checked element, to find overlaps
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.defined() || !x.requires_grad()) continue;
        NYX_CHECK(x.dtype() == f64, caller, ": input ", i, " is ", x.dtype(), "; ", caller, " needs f64 inputs. "
                  "A central difference with eps = ", options.eps, " in f32 (about 7 significant digits) loses most "
                  "of them to rounding and would fail correct gradients; convert with .to(nyx::f64) and requires_grad_()");
        NYX_CHECK(x.is_leaf(), caller, ": input ", i, " was computed by '", x.grad_fn_name(),
                  "'; pass leaves (tensors you made and called requires_grad_() on)");
        for (std::int64_t offset : element_offsets(x)) memory.emplace_back(x.impl()->storage.get(), x.offset() + offset);
        std::sort(memory.begin(), memory.end());
        NYX_CHECK(std::adjacent_find(memory.begin(), memory.end()) == memory.end(), caller, ": input ", i, " of shape ",
                  to_string(x.shape()), " and strides ", to_string(x.strides()), " has elements that share memory "
                  "with each other or with an earlier input (an expand()ed view, or two views of one tensor), so "
                  "perturbing one moves others; pass .contiguous() or .clone()");
        checked.push_back(i);
    }
    NYX_CHECK(!checked.empty(), caller, ": no input requires grad; call .requires_grad_() on the inputs to check");
    return checked;
}

// Compares the Jacobian of every output of f with respect to every checked input, computed by the
// tape (one autograd::grad per output element), with central differences.
GradcheckResult check_jacobians(const TensorsFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options,
                                const char* caller, const Naming& naming) {
    const AutocastGuard full_precision(false);  // the Jacobians are compared in the inputs' f64
    const std::vector<std::size_t> checked = checked_inputs(inputs, caller, options);
    std::vector<Tensor> wrt;
    for (std::size_t i : checked) wrt.push_back(inputs[i]);

    // Analytical Jacobians: analytical[k][i][o * n_i + e] = d output_k[o] / d input_i[e].
    const std::vector<Tensor> ys = f(inputs);
    std::vector<std::vector<std::vector<double>>> analytical(ys.size(), std::vector<std::vector<double>>(inputs.size()));
    for (std::size_t k = 0; k < ys.size(); ++k) {
        const Tensor& y = ys[k];
        NYX_CHECK(y.defined() && y.dtype() == f64, caller, ": the function must return f64 tensors, got ",
                  y.defined() ? std::string(name(y.dtype())) : std::string("an undefined tensor"), " for ", naming.output(k));
        for (std::size_t i : checked) analytical[k][i].assign(static_cast<std::size_t>(y.numel() * inputs[i].numel()), 0.0);
        if (!y.requires_grad()) continue;  // constant: its Jacobian is zero
        for (std::int64_t o = 0; o < y.numel(); ++o) {
            Tensor seed = zeros(y.shape(), y.dtype());
            seed.data<double>()[o] = 1.0;
            const std::vector<Tensor> grads = autograd::grad({y}, wrt, {seed}, /*retain_graph=*/true, false, /*allow_unused=*/true);
            for (std::size_t c = 0; c < checked.size(); ++c) {
                if (!grads[c].defined()) continue;
                const std::size_t i = checked[c];
                const std::vector<double> values = grads[c].to_vector();
                std::copy(values.begin(), values.end(), analytical[k][i].begin() + o * inputs[i].numel());
            }
        }
    }

    // Numerical Jacobians by central differences, perturbing each element in place, and the worst
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
            const std::vector<std::vector<double>> plus = evaluate(f, inputs);
            element.value = element.original - options.eps;
            const std::vector<std::vector<double>> minus = evaluate(f, inputs);
            for (std::size_t k = 0; k < ys.size(); ++k) {
                for (std::int64_t o = 0; o < ys[k].numel(); ++o) {
                    const double numerical = (plus[k][o] - minus[k][o]) / (2 * options.eps);
                    const double analytic = analytical[k][i][static_cast<std::size_t>(o * x.numel() + e)];
                    const double tolerance = options.atol + options.rtol * std::abs(numerical);
                    const double ratio = std::abs(analytic - numerical) / tolerance;
                    if (ratio <= worst_ratio) continue;  // (NaN goes on to fail)
                    worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
                    result.ok = false;
                    result.report = detail::cat(
                        caller, " failed: d(", naming.output(k), ")/d(", naming.input(i), ") disagrees at input element ",
                        to_string(unravel(e, x.shape())), " of shape ", to_string(x.shape()), ", output element ",
                        to_string(unravel(o, ys[k].shape())), " of shape ", to_string(ys[k].shape()), ": numerical ", numerical,
                        ", analytical ", analytic, " (|difference| ", std::abs(analytic - numerical),
                        " > atol + rtol*|numerical| = ", tolerance, "; eps ", options.eps, ")");
                }
            }
        }
    }
    return result;
}

}  // namespace

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    return check_jacobians([&f](const std::vector<Tensor>& x) { return std::vector<Tensor>{f(x)}; }, inputs, options, "gradcheck",
                           {[](std::size_t) { return std::string("output"); },
                            [](std::size_t i) { return detail::cat("input ", i); }});
}

// The first derivatives as a function of the inputs and the incoming gradient v, checked by
// gradcheck's own comparison: F(x, v) = autograd::grad(f(x), x, v), computed with create_graph when
// the tape is asked for F's Jacobian, and plainly when F is only evaluated.
GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& grad_outputs,
                              const GradcheckOptions& options) {
    const AutocastGuard full_precision(false);
    std::vector<std::size_t> wrt;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].defined() && inputs[i].requires_grad()) wrt.push_back(i);
    NYX_CHECK(!wrt.empty(), "gradgradcheck: no input requires grad; call .requires_grad_() on the inputs to check");
    NYX_CHECK(grad_outputs.size() <= 1, "gradgradcheck: f returns one tensor, so give at most one grad_output, not ",
              grad_outputs.size());
    Tensor v;
    if (grad_outputs.empty() || !grad_outputs[0].defined()) {  // random, of f's output shape: fixed, for reproducible reports
        Shape shape;
        {
            NoGradGuard no_grad;
            shape = f(inputs).shape();
        }
        Generator gen(20261201);
        v = randn(shape, f64, gen);
    } else {
        v = grad_outputs[0].detach().clone();  // a leaf of our own to perturb
    }
    v.requires_grad_();
    std::vector<Tensor> all = inputs;
    all.push_back(v);
    const std::size_t n = inputs.size();
    auto first_derivatives = [&f, &wrt, n](const std::vector<Tensor>& x) {
        const bool differentiated = is_grad_enabled();  // false while check_jacobians only evaluates
        const AutoGradMode recording(true);
        const std::vector<Tensor> own(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
        const Tensor y = f(own);
        std::vector<Tensor> wanted;
        for (std::size_t i : wrt) wanted.push_back(own[i]);
        std::vector<Tensor> grads = autograd::grad({y}, wanted, {x[n]}, differentiated, differentiated, /*allow_unused=*/true);
        for (std::size_t c = 0; c < grads.size(); ++c)
            if (!grads[c].defined()) grads[c] = zeros(wanted[c].shape(), f64);  // f does not depend on it
        return grads;
    };
    return check_jacobians(first_derivatives, all, options, "gradgradcheck",
                           {[wrt](std::size_t k) { return detail::cat("grad of input ", wrt[k]); },
                            [n](std::size_t i) { return i < n ? detail::cat("input ", i) : std::string("grad_output"); }});
}

}  // namespace nyx
