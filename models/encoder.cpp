#include "encoder.hpp"

#include <nyx/nn/init.hpp>
#include <nyx/nn/linformer.hpp>

namespace nyx::models {

Encoder::Encoder(std::string name, const EncoderConfig& c, Generator& generator) : nn::Module(std::move(name)), config_(c) {
    NYX_CHECK(c.layers >= 0 && c.max_len >= 1 && c.input_features >= 0 && c.segments >= 0,
              "Encoder: max_len must be >= 1, layers, input_features and segments >= 0");
    if (c.input_features == 0)
        token_embedding = register_module("token_embedding", std::make_shared<nn::Embedding>(c.vocab, c.dim, -1, c.dtype, generator));
    else
        input_projection = register_module(
            "input_projection", std::make_shared<nn::Linear>(c.input_features, c.dim, nn::LinearOptions{.bias = true, .dtype = c.dtype}, generator));
    position_embedding = register_module("position_embedding", std::make_shared<nn::Embedding>(c.max_len, c.dim, -1, c.dtype, generator));
    if (token_embedding) nn::init::normal_(token_embedding->weight, 0, 0.02, generator);
    nn::init::normal_(position_embedding->weight, 0, 0.02, generator);
    if (c.segments > 0) {
        segment_embedding = register_module("segment_embedding", std::make_shared<nn::Embedding>(c.segments, c.dim, -1, c.dtype, generator));
        nn::init::normal_(segment_embedding->weight, 0, 0.02, generator);
    }
    dropout = register_module("dropout", std::make_shared<nn::Dropout>(c.dropout, generator));
    // Linformer's projections span the positions: max_length 0 means max_len, and layerwise sharing
    // makes the one projection all blocks use.
    nn::AttentionOptions attention = c.attention;
    std::shared_ptr<nn::LinformerProjection> shared_projection;
    if (auto* linformer = std::get_if<nn::LinformerOptions>(&attention)) {
        if (linformer->max_length == 0) linformer->max_length = c.max_len;
        if (linformer->sharing == nn::LinformerSharing::layerwise)
            shared_projection = std::make_shared<nn::LinformerProjection>(c.heads, *linformer, c.dtype, generator);
    }
    blocks = register_module("blocks", std::make_shared<nn::ModuleList<nn::TransformerBlock>>());
    for (std::int64_t i = 0; i < c.layers; ++i)
        blocks->push_back(std::make_shared<nn::TransformerBlock>(
            nn::TransformerBlockOptions{.dim = c.dim, .heads = c.heads, .head_dim = c.head_dim, .hidden = c.hidden,
                                        .dropout = c.dropout, .attention = attention, .dtype = c.dtype,
                                        .shared_projection = shared_projection},
            generator));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{c.dim}, 1e-5, true, c.dtype));
}

Tensor Encoder::hidden_states(const Tensor& inputs, const Tensor& mask, const Tensor& segments) {
    return norm->forward(block_input(inputs, mask, config_.layers, segments)) * mask.unsqueeze(-1);  // padded positions become 0
}

void Encoder::check_inputs(const Tensor& inputs, const Tensor& mask) const {
    if (token_embedding)
        NYX_CHECK(inputs.dim() == 2 && inputs.dtype() == i64, type_name(), ": ids must be [B, n] of i64, got ", nyx::to_string(inputs.shape()), " ",
                  inputs.dtype());
    else
        NYX_CHECK(inputs.dim() == 3 && inputs.size(2) == config_.input_features && inputs.dtype() == input_projection->weight.dtype(), type_name(),
                  ": features must be [B, n, ", config_.input_features, "] of ", input_projection->weight.dtype(), " (the model's dtype), got ",
                  nyx::to_string(inputs.shape()), " ", inputs.dtype());
    NYX_CHECK(mask.dim() == 2 && mask.size(0) == inputs.size(0) && mask.size(1) == inputs.size(1), type_name(), ": the mask must be [",
              inputs.size(0), ", ", inputs.size(1), "] like the inputs, got ", nyx::to_string(mask.shape()));
}

Tensor Encoder::block_input(const Tensor& inputs, const Tensor& mask, std::int64_t layer, const Tensor& segments) {
    check_inputs(inputs, mask);
    NYX_CHECK(layer >= 0 && layer <= config_.layers, type_name(), ": layer ", layer, " is not in 0..", config_.layers);
    const std::int64_t n = inputs.size(1);
    NYX_CHECK(n <= config_.max_len, type_name(), ": sequences of ", n, " tokens exceed max_len ", config_.max_len);
    // x = Dropout(embed(inputs) + position[:n] + segment)
    Tensor x = (token_embedding ? token_embedding->forward(inputs) : input_projection->forward(inputs)) + position_embedding->weight.narrow(0, 0, n);
    if (segments.defined()) {
        NYX_CHECK(segment_embedding, type_name(), ": segments were given, but the model has none (EncoderConfig::segments is 0)");
        NYX_CHECK(segments.dim() == 2 && segments.dtype() == i64 && segments.size(0) == inputs.size(0) && segments.size(1) == n, type_name(),
                  ": segments must be [", inputs.size(0), ", ", n, "] of i64 like the ids, got ", nyx::to_string(segments.shape()), " ", segments.dtype());
        x = x + segment_embedding->forward(segments);
    } else if (segment_embedding) {  // one segment: row 0, as BERT's classifiers read a single sentence
        x = x + segment_embedding->weight.select(0, 0);
    }
    x = dropout->forward(x);
    for (std::int64_t i = 0; i < layer; ++i) x = (*blocks)[static_cast<std::size_t>(i)].forward(x, mask);
    return x;
}

EncoderClassifier::EncoderClassifier(const EncoderConfig& c, std::int64_t classes, Generator& generator)
    : Encoder("EncoderClassifier", c, generator), classes_(classes) {
    NYX_CHECK(classes >= 1, "EncoderClassifier: classes must be >= 1, got ", classes);
    const nn::LinearOptions linear{.bias = true, .dtype = c.dtype};
    head = register_module("head", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::UnaryModule>>{
                                       std::make_shared<nn::Linear>(c.head_features(), c.hidden, linear, generator),
                                       std::make_shared<nn::ReLU>(),
                                       std::make_shared<nn::Linear>(c.hidden, classes, linear, generator)}));
}

Tensor EncoderClassifier::forward(const Tensor& inputs, const Tensor& mask) {
    check_inputs(inputs, mask);
    if (!config().dual_encoder) return head->forward(encode(inputs, mask));
    const std::int64_t batch = inputs.size(0), n = inputs.size(1);
    NYX_CHECK(n % 2 == 0, "EncoderClassifier: a dual encoder reads pairs of sequences of one length, side by side, so n must be even; got ", n);
    // [B, 2m] -> [2B, m]: rows 2b and 2b + 1 are example b's two sequences.
    Shape halves = inputs.shape();
    halves[0] = 2 * batch, halves[1] = n / 2;
    const Tensor pooled = encode(inputs.reshape(halves), mask.reshape({2 * batch, n / 2})).reshape({batch, 2, config().dim});
    const Tensor u = pooled.select(1, 0), v = pooled.select(1, 1);
    return head->forward(ops::concat({u, v, u * v, u - v}, 1));
}

Tensor EncoderClassifier::encode(const Tensor& inputs, const Tensor& mask) {
    return hidden_states(inputs, mask).mean({1});  // mean over all n positions, as the reference does
}

}  // namespace nyx::models
