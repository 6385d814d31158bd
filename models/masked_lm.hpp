#pragma once
// BERT's pretraining model (Devlin et al. 2019) on nyx's encoder, as the Nyströmformer paper
// pretrains it (Xiong et al. 2021, section 4.1): masked-language modelling (MLM) and ALBERT's
// sentence-order prediction (SOP; Lan et al. 2020), with any of the attentions.
//
//     models::EncoderConfig cfg{.vocab = tokenizer.vocab_size(), .max_len = 512, .dim = 256, .heads = 4,
//                               .head_dim = 64, .hidden = 1024, .layers = 4, .segments = 2};
//     models::MaskedLM model(cfg);
//     auto out = model(batch.inputs, batch.mask, batch.extra["segments"], positions);
//     Tensor loss = models::pretraining_loss(out, mlm_targets, batch.targets).loss;
//
// The layers: the encoder (models::Encoder: embeddings of tokens, positions and segments, the
// blocks, the final LayerNorm), then
//   - the MLM head: Linear(dim, dim) → GELU → LayerNorm, then logits against the token embedding's
//     weights (tied: one matrix embeds and predicts) plus a bias per id (zeros at first);
//   - the SOP head on the first position ([CLS]): BERT's pooler Linear(dim, dim) → tanh, then
//     Linear(dim, 2).
// Parameter names are the classifier's where they are the same layers (token_embedding,
// position_embedding, segment_embedding, blocks, norm), so a classifier loads them by name, and
// mlm_transform, mlm_norm, mlm_bias, sop_pooler and sop_classifier for the heads.
#include "encoder.hpp"

namespace nyx::models {

class MaskedLM : public Encoder {
  public:
    // config: token ids (input_features 0), segments >= 1, not a dual encoder.
    explicit MaskedLM(const EncoderConfig& config, Generator& generator = default_generator());

    struct Output {
        Tensor mlm_logits;  // [M, vocab]: the logits of the M positions asked for
        Tensor sop_logits;  // [B, 2]: in order (0) or swapped (1)
    };
    // ids [B, n] i64 with [CLS] first, mask [B, n], segments [B, n] i64 (or undefined: all 0);
    // positions [M] i64: the flat indices b·n + i of the tokens whose logits are wanted (undefined:
    // all B·n, in order). Computing only the masked ones saves the [B·n, vocab] product.
    Output forward(const Tensor& ids, const Tensor& mask, const Tensor& segments, const Tensor& positions = {});
    Output operator()(const Tensor& ids, const Tensor& mask, const Tensor& segments, const Tensor& positions = {}) {
        return forward(ids, mask, segments, positions);
    }

    std::shared_ptr<nn::Linear> mlm_transform, sop_pooler, sop_classifier;
    std::shared_ptr<nn::LayerNorm> mlm_norm;
    Tensor mlm_bias;  // [vocab]
};

// The flat indices [M] (i64) of the labels that are not data::ignore_label (-100), and those labels
// [M]: the positions MaskedLM::forward needs and the targets of their logits.
struct MaskedPositions {
    Tensor positions, targets;
};
MaskedPositions masked_positions(const Tensor& mlm_labels);

struct PretrainingLoss {
    Tensor loss;  // MLM's mean cross-entropy over the masked tokens + SOP's over the batch (BERT's sum)
    Tensor mlm_loss, sop_loss;
    std::int64_t mlm_correct = 0, mlm_count = 0, sop_correct = 0, sop_count = 0;  // argmax hits, for accuracies
};
// out from MaskedLM::forward with the positions of masked_positions; mlm_targets [M], sop_targets [B].
PretrainingLoss pretraining_loss(const MaskedLM::Output& out, const Tensor& mlm_targets, const Tensor& sop_targets);

}  // namespace nyx::models
