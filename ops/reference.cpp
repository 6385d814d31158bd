#include "reference.hpp"

#include <cmath>
#include <numbers>

#include <nyx/autograd/grad.hpp>

namespace nyx::ops::reference {

autograd::Gradients backward_of(const std::function<Tensor(const std::vector<Tensor>&)>& composite, const std::vector<Tensor>& inputs,
                                const Tensor& grad_output) {
    // The composite runs on a fresh view of each input, and the gradients are taken at those views:
    // partial derivatives, each input its own variable. Taken at the inputs themselves they would
    // be total ones, counting twice a path from one input to another (layer_norm(w, {n}, w), or a
    // weight reused on its own output), which the walk then adds again.
    std::vector<Tensor> stand_ins, wanted;
    for (const Tensor& t : inputs) {
        stand_ins.push_back(t.defined() && t.requires_grad() ? view(t, t.shape()) : t);
        if (t.defined() && t.requires_grad()) wanted.push_back(stand_ins.back());
    }
    autograd::Gradients grads(inputs.size());
    if (wanted.empty()) return grads;
    const Tensor y = composite(stand_ins);
    const std::vector<Tensor> found = autograd::grad({y}, wanted, {grad_output}, true, true, /*allow_unused=*/true);
    for (std::size_t i = 0, w = 0; i < inputs.size(); ++i)
        if (inputs[i].defined() && inputs[i].requires_grad()) grads[i] = found[w++];
    return grads;
}

// softmax = e^(x - m) / Σ e^(x - m), with m = max(x) held constant (it cancels)
Tensor softmax(const Tensor& x, std::int64_t axis) {
    const Tensor e = exp(sub(x, amax(x, {axis}, true).detach()));
    return div(e, sum(e, {axis}, true));
}

// log_softmax = (x - m) - log Σ e^(x - m): formed from the shifted logits, never as x - logsumexp(x),
// the difference of two large rounded numbers (at 1e8, logsumexp rounds away ln 2 in f32)
Tensor log_softmax(const Tensor& x, std::int64_t axis) {
    const Tensor shifted = sub(x, amax(x, {axis}, true).detach());
    return sub(shifted, log(sum(exp(shifted), {axis}, true)));
}

// (x - mean) / √(var + eps) · weight + bias, with the biased variance
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
    Shape axes;
    for (std::int64_t a = x.dim() - static_cast<std::int64_t>(normalized_shape.size()); a < x.dim(); ++a) axes.push_back(a);
    const Tensor centered = deviations(x, axes);
    const Tensor variance = mean(mul(centered, centered), axes, true);
    Tensor y = mul(centered, rsqrt(add(variance, scalar(eps, x.dtype()))));
    if (weight.defined()) y = mul(y, weight);
    if (bias.defined()) y = add(y, bias);
    return y;
}

// mean over counted rows of (1 - ε)·(-log p_t) + ε·mean_c(-log p_c), ignored rows dropped. A term
// whose weight is 0 (ε = 0, ε = 1, an ignored row) is left out, not multiplied by a loss that may be ∞.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options) {
    const Tensor x = logits.dim() == 1 ? unsqueeze(logits, 0) : logits;
    const Tensor t = targets.dim() == 0 ? unsqueeze(targets, 0) : targets;
    const Tensor keep = ne(t, scalar(static_cast<double>(options.ignore_index), i64)).to(x.dtype());  // [N]
    const Tensor safe_targets = mul(t, ne(t, scalar(static_cast<double>(options.ignore_index), i64)));  // ignored -> class 0
    const Tensor log_p = log_softmax(x, 1);
    const Tensor nll = neg(squeeze(gather(log_p, 1, unsqueeze(safe_targets, 1)), 1));
    const double e = options.label_smoothing;
    Tensor per_row = nll;
    if (e > 0) {
        const Tensor smooth = neg(mean(log_p, {1}));
        per_row = e == 1 ? smooth : add(mul(nll, scalar(1 - e, x.dtype())), mul(smooth, scalar(e, x.dtype())));
    }
    per_row = where(keep, per_row, scalar(0, x.dtype()));
    switch (options.reduction) {
        case Reduction::none: return logits.dim() == 1 ? squeeze(per_row, 0) : per_row;
        case Reduction::sum: return sum(per_row);
        case Reduction::mean: return div(sum(per_row), sum(keep));
    }
    return {};
}

// GELU = ½x(1 + erf(x/√2)), or ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Beyond |x| = 40 both forms equal
// their limits, x for x > 0 and 0 for x < 0, to the last bit of f64 (Φ(-40) ≈ 1e-350 underflows), and
// are taken as those limits: the formula only sees |x| <= 40, so that ±∞ (or a cube that overflows)
// gives GELU's values and derivatives (1 and 0) at the limit rather than ∞ · 0.
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
    const Tensor zero = scalar(0, x.dtype());
    const Tensor saturated = gt(abs(x), scalar(40, x.dtype()));
    const Tensor within = where(saturated, zero, x);
    const Tensor half_x = mul(within, scalar(0.5, x.dtype()));
    Tensor y;
    if (approximation == GeluApproximation::tanh) {
        const Tensor inner =
            mul(add(within, mul(pow(within, 3), scalar(0.044715, x.dtype()))), scalar(std::sqrt(2 / std::numbers::pi), x.dtype()));
        y = mul(half_x, add(tanh(inner), scalar(1, x.dtype())));
    } else {
        y = mul(half_x, add(erf(mul(within, scalar(std::numbers::sqrt2 / 2, x.dtype()))), scalar(1, x.dtype())));
    }
    return where(saturated, where(gt(x, zero), x, zero), y);
}

// y[b,c,t,...] = Σ_j w[c,j] · x[b,c,t+j-padding,...] + bias[c], x zero-padded along axis 2: one
// shifted slice of the padded input per tap
Tensor depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t padding) {
    const std::int64_t taps = weight.shape()[1];
    if (padding < 0) padding = taps / 2;
    Shape pads(static_cast<std::size_t>(2 * (x.dim() - 2)), 0);  // {before, after} from the last axis back: axis 2's pair is last
    pads[pads.size() - 2] = pads.back() = padding;
    const Tensor padded = pad(x, pads);
    const std::int64_t out_length = x.shape()[2] + 2 * padding - taps + 1;
    Shape per_channel(static_cast<std::size_t>(x.dim()), 1);  // [1, C, 1, ...]
    per_channel[1] = weight.shape()[0];
    Tensor y;
    for (std::int64_t j = 0; j < taps; ++j) {
        const Tensor term = mul(narrow(padded, 2, j, out_length), reshape(select(weight, 1, j), per_channel));
        y = y.defined() ? add(y, term) : term;
    }
    return bias.defined() ? add(y, reshape(bias, per_channel)) : y;
}

}  // namespace nyx::ops::reference
