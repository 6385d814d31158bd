#include "masked_lm.hpp"

namespace nyx::models {
namespace {

constexpr std::int64_t ignore_label = -100;  // as data::ignore_label and ops::cross_entropy's ignore_index

// How many rows' largest logit is at their target: logits [N, C], targets [N] (i64).
std::int64_t hits(const Tensor& logits, const Tensor& targets) { return ops::eq(ops::argmax(logits, 1), targets).sum().item<std::int64_t>(); }

const EncoderConfig& checked(const EncoderConfig& c) {  // before the encoder is built
    NYX_CHECK(c.input_features == 0 && c.segments >= 1 && !c.dual_encoder,
              "MaskedLM: the model reads token ids (input_features 0) in segments (segments >= 1), as one encoder (not dual_encoder)");
    return c;
}

}  // namespace

MaskedLM::MaskedLM(const EncoderConfig& c, Generator& generator) : Encoder("MaskedLM", checked(c), generator) {
    const nn::LinearOptions linear{.bias = true, .dtype = c.dtype};
    mlm_transform = register_module("mlm_transform", std::make_shared<nn::Linear>(c.dim, c.dim, linear, generator));
    mlm_norm = register_module("mlm_norm", std::make_shared<nn::LayerNorm>(Shape{c.dim}, 1e-5, true, c.dtype));
    mlm_bias = register_parameter("mlm_bias", zeros({c.vocab}, c.dtype));
    sop_pooler = register_module("sop_pooler", std::make_shared<nn::Linear>(c.dim, c.dim, linear, generator));
    sop_classifier = register_module("sop_classifier", std::make_shared<nn::Linear>(c.dim, 2, linear, generator));
}

MaskedLM::Output MaskedLM::forward(const Tensor& ids, const Tensor& mask, const Tensor& segments, const Tensor& positions) {
    const Tensor h = hidden_states(ids, mask, segments);  // [B, n, dim]
    const std::int64_t b = h.size(0), n = h.size(1), dim = h.size(2);
    Tensor rows = h.reshape({b * n, dim});
    if (positions.defined()) {
        NYX_CHECK(positions.dim() == 1 && positions.dtype() == i64, "MaskedLM: positions must be [M] of i64, got ", nyx::to_string(positions.shape()),
                  " ", positions.dtype());
        for (std::int64_t i = 0; i < positions.numel(); ++i) {
            const std::int64_t p = positions.data<std::int64_t>()[i];
            NYX_CHECK(p >= 0 && p < b * n, "MaskedLM: position ", p, " is outside the batch's ", b * n, " tokens (flat indices b·n + i)");
        }
        rows = ops::index_select(rows, 0, positions);
    }
    const Tensor transformed = mlm_norm->forward(ops::gelu(mlm_transform->forward(rows)));
    const Tensor mlm_logits = ops::linear(transformed, token_embedding->weight, mlm_bias);  // tied to the embedding
    const Tensor pooled = ops::tanh(sop_pooler->forward(h.select(1, 0)));
    return {mlm_logits, sop_classifier->forward(pooled)};
}

MaskedPositions masked_positions(const Tensor& mlm_labels) {
    NYX_CHECK(mlm_labels.dim() == 2 && mlm_labels.dtype() == i64, "masked_positions: the labels must be [B, n] of i64, got ",
              nyx::to_string(mlm_labels.shape()), " ", mlm_labels.dtype());
    const Tensor labels = mlm_labels.contiguous();
    std::vector<std::int64_t> positions, targets;
    for (std::int64_t i = 0; i < labels.numel(); ++i)
        if (const std::int64_t label = labels.data<std::int64_t>()[i]; label != ignore_label) positions.push_back(i), targets.push_back(label);
    const auto m = static_cast<std::int64_t>(positions.size());
    return {from_vector(positions, {m}), from_vector(targets, {m})};
}

PretrainingLoss pretraining_loss(const MaskedLM::Output& out, const Tensor& mlm_targets, const Tensor& sop_targets) {
    NYX_CHECK(mlm_targets.numel() > 0, "pretraining_loss: no token is masked; every batch needs at least one (data::masking masks one per sequence at least)");
    PretrainingLoss l;
    l.mlm_loss = ops::cross_entropy(out.mlm_logits, mlm_targets);
    l.sop_loss = ops::cross_entropy(out.sop_logits, sop_targets);
    l.loss = l.mlm_loss + l.sop_loss;
    l.mlm_correct = hits(out.mlm_logits, mlm_targets), l.mlm_count = mlm_targets.numel();
    l.sop_correct = hits(out.sop_logits, sop_targets), l.sop_count = sop_targets.numel();
    return l;
}

}  // namespace nyx::models
