// Loss functions, as torch.nn.functional's: regression losses (mse, l1, smooth L1, Huber) and the
// likelihood losses (binary cross-entropy on probabilities or logits, negative log-likelihood).
// The regression losses and nll_loss are compositions of recorded ops, so their gradients are those
// ops' gradients. The two binary cross-entropies are fused elementwise ops of their own, because
// their stable forms need limits that a composition cannot take: log 0 is clamped to -100 (as in
// PyTorch) and 0 · ∞ is 0 where the limit says so. cross_entropy's fused kernel is in ops/nn.cpp.
#include <algorithm>
#include <cmath>

#include <nyx/autograd/grad_mode.hpp>
#include <nyx/autograd/record.hpp>
#include <nyx/core/kernels.hpp>
#include <nyx/core/loops.hpp>
#include <nyx/core/parallel.hpp>

#include "ops.hpp"

namespace nyx::ops {
namespace {

using autograd::Gradients;
using autograd::record;
using autograd::saved;

// The losses of each element, summed, averaged or kept, as PyTorch's `reduction`.
Tensor reduce(const Tensor& losses, Reduction reduction) {
    switch (reduction) {
        case Reduction::none: return losses;
        case Reduction::sum: return sum(losses);
        case Reduction::mean: break;
    }
    return mean(losses);
}

// Input and target of one shape and one floating dtype. PyTorch broadcasts them with a warning;
// nyx refuses, since [N, 1] against [N] silently makes an [N, N] loss.
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
    NYX_CHECK(input.shape() == target.shape(), op, ": input ", to_string(input.shape()), " and target ", to_string(target.shape()),
              " differ in shape; reshape one (an [N, 1] prediction against an [N] target would broadcast to [N, N])");
    NYX_CHECK(is_floating(input.dtype()) && input.dtype() == target.dtype(), op, ": input and target must be of one floating dtype, got ",
              input.dtype(), " and ", target.dtype(), "; convert with .to()");
}

// An optional weight that broadcasts to the input's shape and has its dtype. Weights are
// constants, as in PyTorch: one that requires grad would silently get none, so it is refused.
void check_weight(const Tensor& weight, const Tensor& input, const char* op, const char* what) {
    if (!weight.defined()) return;
    NYX_CHECK(broadcasts_to(weight.shape(), input.shape()), op, ": ", what, " of shape ", to_string(weight.shape()),
              " does not broadcast to the input's shape ", to_string(input.shape()));
    NYX_CHECK(weight.dtype() == input.dtype(), op, ": ", what, " is ", weight.dtype(), ", the input ", input.dtype());
    NYX_CHECK(!(weight.requires_grad() && is_grad_enabled()), op, ": ", what, " requires grad, but losses take no gradient for it "
                                                                              "(as in PyTorch); pass ",
              what, ".detach()");
}

// c · v, with 0 · ±∞ = 0: the limit of a term whose coefficient is exactly zero.
template <class T>
T times(T c, T v) {
    return c == T(0) ? T(0) : c * v;
}

// log(1 + e^(-|x|)), the part of softplus that never overflows.
template <class T>
T log1p_exp_neg_abs(T x) {
    return std::log1p(std::exp(-std::abs(x)));
}

// out[i] = f(i) over `like`'s elements in parallel, f reading contiguous inputs by flat index.
template <class T, class F>
Tensor elementwise(const Tensor& like, F f) {
    Tensor out = empty(like.shape(), like.dtype());
    T* po = out.data<T>();
    parallel_for(0, like.numel(), loops::heavy_grain, [&](std::int64_t first, std::int64_t last) {
        for (std::int64_t i = first; i < last; ++i) po[i] = f(i);
    });
    return out;
}

constexpr double log_floor = -100;  // PyTorch clamps binary_cross_entropy's logs here, so that p = 0 costs 100, not ∞

// The elementwise binary cross-entropy of probabilities p against targets y (same shape):
// -(y · max(log p, -100) + (1 - y) · max(log(1 - p), -100)).
Tensor binary_cross_entropy_elements(const Tensor& p, const Tensor& y) {
    const Tensor pc = kernels::contiguous(p), yc = kernels::contiguous(y);
    const Tensor losses = dispatch_floating(p.dtype(), "binary_cross_entropy", [&]<class T>() {
        const T *pp = pc.data<T>(), *py = yc.data<T>();
        for (std::int64_t i = 0; i < pc.numel(); ++i)
            NYX_CHECK(pp[i] >= T(0) && pp[i] <= T(1), "binary_cross_entropy: the input must hold probabilities in [0, 1], got ",
                      static_cast<double>(pp[i]), " at flat index ", i, "; for logits use binary_cross_entropy_with_logits");
        return elementwise<T>(pc, [&](std::int64_t i) {
            const T log_p = std::max(std::log(pp[i]), T(log_floor)), log_q = std::max(std::log1p(-pp[i]), T(log_floor));
            return -(py[i] * log_p + (1 - py[i]) * log_q);
        });
    });
    // dp = g · (p - y) / max(p (1 - p), 1e-12)    dy = g · (max(log(1 - p), -100) - max(log p, -100))
    record("binary_cross_entropy", {p, y}, {losses}, [p = saved(pc, p), y = saved(yc, y)](const Gradients& g) {
        if (autograd::recording_backward()) {  // the same formulas, recorded
            const Tensor pv = p, yv = y;
            // max(log t, -100), with log never taken of t < e^-100 (at t = 0 its gradient would be
            // 0 · ∞ = NaN where the floor holds)
            auto floored_log = [](const Tensor& t) {
                const Tensor above = t >= std::exp(log_floor);
                return where(above, log(where(above, t, ones_like(t))), ones_like(t) * log_floor);
            };
            return Gradients{g[0] * (pv - yv) / maximum(pv * (1.0 - pv), scalar(1e-12, pv.dtype())),
                             g[0] * (floored_log(1.0 - pv) - floored_log(pv))};
        }
        const Tensor gc = kernels::contiguous(g[0]);
        return dispatch_floating(p.get().dtype(), "binary_cross_entropy backward", [&]<class T>() {
            const T *pp = p.get().data<T>(), *py = y.get().data<T>(), *pg = gc.data<T>();
            const Tensor dp = elementwise<T>(gc, [&](std::int64_t i) {
                return pg[i] * (pp[i] - py[i]) / std::max(pp[i] * (1 - pp[i]), T(1e-12));
            });
            const Tensor dy = elementwise<T>(gc, [&](std::int64_t i) {
                return pg[i] * (std::max(std::log1p(-pp[i]), T(log_floor)) - std::max(std::log(pp[i]), T(log_floor)));
            });
            return Gradients{dp, dy};
        });
    });
    return losses;
}

// The elementwise binary cross-entropy of logits x against targets y, with positive-class weights
// w+ (undefined: 1; else broadcast to x's shape). With l = 1 + (w+ - 1) · y and softplus(-x) =
// log(1 + e^(-x)), the loss is (1 - y) · x + l · softplus(-x), computed without overflow as
//   x >= 0: (1 - y) · x + l · log(1 + e^(-x))
//   x <  0: (1 - y - l) · x + l · log(1 + e^x)
// where a coefficient of exactly 0 makes its term 0, also at x = ±∞.
Tensor binary_cross_entropy_with_logits_elements(const Tensor& x, const Tensor& y, const Tensor& pos_weight) {
    const Tensor xc = kernels::contiguous(x), yc = kernels::contiguous(y);
    const Tensor wc = pos_weight.defined() ? kernels::contiguous(pos_weight.expand(x.shape())) : Tensor();
    const Tensor losses = dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits", [&]<class T>() {
        const T *px = xc.data<T>(), *py = yc.data<T>(), *pw = wc.defined() ? wc.data<T>() : nullptr;
        return elementwise<T>(xc, [&](std::int64_t i) {
            const T v = px[i], l = pw ? 1 + (pw[i] - 1) * py[i] : T(1);
            return times(v >= 0 ? 1 - py[i] : 1 - py[i] - l, v) + l * log1p_exp_neg_abs(v);
        });
    });
    // dx = g · ((1 - y) - l · σ(-x))    dy = g · (-x + (w+ - 1) · softplus(-x))
    record("binary_cross_entropy_with_logits", {x, y}, {losses}, [x = saved(xc, x), y = saved(yc, y), w = saved(wc)](const Gradients& g) {
        if (autograd::recording_backward()) {  // the same formulas, recorded, softplus in its stable form
            const Tensor xv = x, yv = y, wv = w;
            const Tensor l = wv.defined() ? 1.0 + (wv - 1.0) * yv : ones_like(xv);
            // log(1 + e^(-x)), on each side of 0 in the form that cannot overflow, each branch fed only
            // its own side's x (so the other's derivative is never 0 · ∞), and exact at x = 0
            const Tensor positive = xv >= 0.0, zero = zeros_like(xv);
            const Tensor softplus_neg = where(positive, log(1.0 + exp(-where(positive, xv, zero))),
                                              -xv + log(1.0 + exp(where(positive, zero, xv))));
            // (w+ - 1) · softplus(-x), 0 where w+ = 1 even at x = -∞
            const Tensor dy = wv.defined() ? -xv + where(wv != 1.0, (wv - 1.0) * softplus_neg, zero) : -xv;
            return Gradients{g[0] * ((1.0 - yv) - l * sigmoid(-xv)), g[0] * dy};
        }
        const Tensor gc = kernels::contiguous(g[0]);
        return dispatch_floating(x.get().dtype(), "binary_cross_entropy_with_logits backward", [&]<class T>() {
            const Tensor& wt = w.get();
            const T *px = x.get().data<T>(), *py = y.get().data<T>(), *pg = gc.data<T>(), *pw = wt.defined() ? wt.data<T>() : nullptr;
            const Tensor dx = elementwise<T>(gc, [&](std::int64_t i) {
                const T l = pw ? 1 + (pw[i] - 1) * py[i] : T(1), sigmoid_neg = 1 / (1 + std::exp(px[i]));
                return pg[i] * ((1 - py[i]) - l * sigmoid_neg);
            });
            // With softplus(-x) = max(-x, 0) + log(1 + e^(-|x|)), dy = g · (-w+ · x + (w+ - 1) · log(1 + e^x))
            // for x < 0, written so that x = -∞ gives the limit, not ∞ - ∞.
            const Tensor dy = elementwise<T>(gc, [&](std::int64_t i) {
                const T v = px[i], w = pw ? pw[i] : T(1), tail = times(w - 1, log1p_exp_neg_abs(v));
                return pg[i] * ((v < 0 ? times(w, -v) : -v) + tail);
            });
            return Gradients{dx, dy};
        });
    });
    return losses;
}

// Huber's function of d = |input - target| without a branch: with q = min(d, delta),
// 0.5 q² + delta (d - q). Where d < delta it is 0.5 d²; beyond, delta (d - 0.5 delta). Its gradient
// stays finite at d = ∞ (a where() between the two forms would send 0 · ∞ = NaN into the other).
Tensor huber(const Tensor& input, const Tensor& target, double delta) {
    const Tensor a = abs(input - target), q = clamp(a, 0, delta);
    return q * q * 0.5 + (a - q) * delta;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_pair(input, target, "mse_loss");
    const Tensor d = input - target;
    return reduce(d * d, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_pair(input, target, "l1_loss");
    return reduce(abs(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
    check_pair(input, target, "smooth_l1_loss");
    NYX_CHECK(beta >= 0 && std::isfinite(beta), "smooth_l1_loss: beta must be finite and >= 0, got ", beta);
    if (beta == 0) return l1_loss(input, target, reduction);  // the limit, as in PyTorch
    return reduce(huber(input, target, beta) / beta, reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
    check_pair(input, target, "huber_loss");
    NYX_CHECK(delta > 0 && std::isfinite(delta), "huber_loss: delta must be finite and > 0, got ", delta);
    return reduce(huber(input, target, delta), reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
    check_pair(input, target, "binary_cross_entropy");
    check_weight(weight, input, "binary_cross_entropy", "weight");
    const Tensor losses = binary_cross_entropy_elements(input, target);
    return reduce(weight.defined() ? losses * weight : losses, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction,
                                        const Tensor& pos_weight) {
    check_pair(input, target, "binary_cross_entropy_with_logits");
    check_weight(weight, input, "binary_cross_entropy_with_logits", "weight");
    check_weight(pos_weight, input, "binary_cross_entropy_with_logits", "pos_weight");
    const Tensor losses = binary_cross_entropy_with_logits_elements(input, target, pos_weight);
    return reduce(weight.defined() ? losses * weight : losses, reduction);
}

// -log_probs[i, target_i] per row, 0 for ignored rows; mean divides by the rows not ignored.
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, const NllLossOptions& options) {
    NYX_CHECK((log_probs.dim() == 2 && targets.dim() == 1 && targets.size(0) == log_probs.size(0)) ||
                  (log_probs.dim() == 1 && targets.dim() == 0),
              "nll_loss: expected log-probabilities [N, C] with targets [N], or [C] with a rank-0 target; got ",
              to_string(log_probs.shape()), " and ", to_string(targets.shape()));
    NYX_CHECK(is_floating(log_probs.dtype()), "nll_loss: log-probabilities must be floating, got ", log_probs.dtype());
    NYX_CHECK(targets.dtype() == i64, "nll_loss: targets must be i64 class indices, got ", targets.dtype());
    const Tensor rows = log_probs.dim() == 2 ? log_probs : log_probs.unsqueeze(0), t = targets.reshape({-1});
    const std::int64_t classes = rows.size(1);
    const std::vector<double> values = t.to_vector();
    std::int64_t counted = 0;
    for (std::size_t r = 0; r < values.size(); ++r) {
        const auto target = static_cast<std::int64_t>(values[r]);
        if (target == options.ignore_index) continue;
        NYX_CHECK(target >= 0 && target < classes, "nll_loss: target ", target, " at position ", r, " is out of range for ", classes,
                  " classes (and is not ignore_index ", options.ignore_index, ")");
        ++counted;
    }
    const Tensor kept = t != static_cast<double>(options.ignore_index);
    const Tensor picked = rows.gather(1, where(kept, t, scalar(0, i64)).unsqueeze(1)).squeeze(1);
    // where, not a product with the mask: an ignored row's -∞ must not become 0 · ∞ = NaN.
    Tensor losses = where(kept, -picked, scalar(0, log_probs.dtype()));
    if (log_probs.dim() == 1) losses = losses.squeeze(0);
    if (options.reduction != Reduction::mean) return reduce(losses, options.reduction);
    return sum(losses) / static_cast<double>(counted);  // 0 / 0 = NaN when every row is ignored, as in PyTorch
}

}  // namespace nyx::ops
