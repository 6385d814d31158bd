#include "reference.hpp"

#include <cmath>
#include <numbers>

namespace nyx::ops::reference {

// softmax = e^(x - m) / Σ e^(x - m), with m = max(x) held constant (it cancels)
Tensor softmax(const Tensor& x, std::int64_t axis) {
    const Tensor e = exp(sub(x, amax(x, {axis}, true).detach()));
    return div(e, sum(e, {axis}, true));
}

Tensor log_softmax(const Tensor& x, std::int64_t axis) { return sub(x, logsumexp(x, {axis}, true)); }

// (x - mean) / √(var + eps) · weight + bias, with the biased variance
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
    Shape axes;
    for (std::int64_t a = x.dim() - static_cast<std::int64_t>(normalized_shape.size()); a < x.dim(); ++a) axes.push_back(a);
    const Tensor centered = sub(x, mean(x, axes, true));
    const Tensor variance = mean(mul(centered, centered), axes, true);
    Tensor y = mul(centered, rsqrt(add(variance, scalar(eps, x.dtype()))));
    if (weight.defined()) y = mul(y, weight);
    if (bias.defined()) y = add(y, bias);
    return y;
}

// mean over counted rows of (1 - ε)·(-log p_t) + ε·mean_c(-log p_c), ignored rows dropped
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options) {
    const Tensor x = logits.dim() == 1 ? unsqueeze(logits, 0) : logits;
    const Tensor t = targets.dim() == 0 ? unsqueeze(targets, 0) : targets;
    const Tensor keep = ne(t, scalar(static_cast<double>(options.ignore_index), i64)).to(x.dtype());  // [N]
    const Tensor safe_targets = mul(t, ne(t, scalar(static_cast<double>(options.ignore_index), i64)));  // ignored -> class 0
    const Tensor log_p = log_softmax(x, 1);
    const Tensor nll = neg(squeeze(gather(log_p, 1, unsqueeze(safe_targets, 1)), 1));
    const Tensor smooth = neg(mean(log_p, {1}));
    const double e = options.label_smoothing;
    const Tensor per_row = mul(add(mul(nll, scalar(1 - e, x.dtype())), mul(smooth, scalar(e, x.dtype()))), keep);
    switch (options.reduction) {
        case Reduction::none: return logits.dim() == 1 ? squeeze(per_row, 0) : per_row;
        case Reduction::sum: return sum(per_row);
        case Reduction::mean: return div(sum(per_row), sum(keep));
    }
    return {};
}

// GELU = ½x(1 + erf(x/√2)), or ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
    const Tensor half_x = mul(x, scalar(0.5, x.dtype()));
    if (approximation == GeluApproximation::tanh) {
        const Tensor inner = mul(add(x, mul(pow(x, 3), scalar(0.044715, x.dtype()))), scalar(std::sqrt(2 / std::numbers::pi), x.dtype()));
        return mul(half_x, add(tanh(inner), scalar(1, x.dtype())));
    }
    return mul(half_x, add(erf(mul(x, scalar(std::numbers::sqrt2 / 2, x.dtype()))), scalar(1, x.dtype())));
}

}  // namespace nyx::ops::reference
