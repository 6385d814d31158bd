#pragma once
// The LRA-style encoder classifier (docs/nystrom.md): token and learned position embeddings
// (both N(0, 0.02)), dropout, N pre-LN blocks, a final LayerNorm multiplied by the mask, mean
// pooling over all n positions, and a Linear → ReLU → Linear head (for pairs: EncoderConfig::dual_encoder).
// The encoder without its head is models::Encoder, which models::MaskedLM (masked_lm.hpp) shares.
//
//     models::EncoderConfig cfg{.vocab = 17, .max_len = 2048, .dim = 64, .heads = 2, .head_dim = 32, .hidden = 128,
//                               .layers = 2, .attention = nn::NystromOptions{.landmarks = 64, .conv_kernel = 35}};
//     models::EncoderClassifier model(cfg, /*classes=*/10);
//     Tensor logits = model(ids, mask);  // ids [B, n] i64, mask [B, n]: logits [B, classes]
//
// config_json.hpp writes an EncoderConfig as JSON and reads it back; run.hpp loads the model of a
// run that nyx-train trained (models::load_run).
#include <nyx/nn/transformer.hpp>

namespace nyx::models {

struct EncoderConfig {
    std::int64_t vocab = 17;
    // 0: the inputs are token ids [B, n]. F > 0: they are feature vectors [B, n, F] (image patches,
    // say), embedded by a Linear(F, dim) in place of the token embedding.
    std::int64_t input_features = 0;
    std::int64_t max_len = 2048;
    std::int64_t dim = 64, heads = 2, head_dim = 32, hidden = 128, layers = 2;
    double dropout = 0.1;
    nn::AttentionOptions attention = nn::NystromOptions{};
    DType dtype = f32;
    // LRA's dual encoder for pairs (its Retrieval task): an input of 2m positions is two sequences
    // of m, side by side. Each is encoded and pooled alone, by the same weights, into u and v, and
    // the head reads [u, v, u * v, u - v] (4 × dim). Sequences must then be of even length, each
    // half with its own padding at its end; positions count from 0 in each half.
    bool dual_encoder = false;
    // Segment (token type) embeddings, as BERT's for its two sentences: 0 for none, 2 for models
    // pretrained with sentence-order prediction (models::MaskedLM) and the classifiers fine-tuned
    // from them. In config.json only when > 0.
    std::int64_t segments = 0;

    // The width of what the classifier's head reads: dim, or 4 × dim for a dual encoder.
    std::int64_t head_features() const { return dual_encoder ? 4 * dim : dim; }
};

// The encoder every nyx model is built on: token ids (or feature vectors) embedded, learned
// positions (and segments, when config.segments > 0) added, dropout, N pre-LN blocks and a final
// LayerNorm. Its modules are registered under these names, which checkpoints use, in this order:
// token_embedding (or input_projection), position_embedding, segment_embedding, dropout, blocks,
// norm. A classifier and a masked language model share them, so that one's weights load into the
// other by name (nyx-train finetune).
//
// `generator` initialises the weights and then drives every dropout mask, so it must outlive the
// model (checkpoints save its position: nn::save_training_state).
class Encoder : public nn::Module {
  public:
    // The final hidden states [B, n, dim], 0 at padded positions. inputs: ids [B, n] of i64, or
    // features [B, n, F] (config.input_features = F); mask [B, n]; segments [B, n] i64 in
    // [0, config.segments), or undefined for segment 0 everywhere.
    Tensor hidden_states(const Tensor& inputs, const Tensor& mask, const Tensor& segments = {});
    // The hidden states [B, n, dim] that enter block `layer` (0 .. layers; `layers`: those that
    // enter the final LayerNorm), for looking inside the model (nyx-train attention-map).
    Tensor block_input(const Tensor& inputs, const Tensor& mask, std::int64_t layer, const Tensor& segments = {});
    const EncoderConfig& config() const { return config_; }

    std::shared_ptr<nn::Embedding> token_embedding, position_embedding;  // token_embedding: ids only
    std::shared_ptr<nn::Embedding> segment_embedding;                   // config.segments > 0 only
    std::shared_ptr<nn::Linear> input_projection;                       // features only
    std::shared_ptr<nn::Dropout> dropout;
    std::shared_ptr<nn::ModuleList<nn::TransformerBlock>> blocks;
    std::shared_ptr<nn::LayerNorm> norm;

  protected:
    Encoder(std::string name, const EncoderConfig& config, Generator& generator);
    void check_inputs(const Tensor& inputs, const Tensor& mask) const;  // their shapes and dtypes, naming them

  private:
    EncoderConfig config_;
};

class EncoderClassifier : public Encoder {
  public:
    EncoderClassifier(const EncoderConfig& config, std::int64_t classes, Generator& generator = default_generator());
    // inputs: ids [B, n] of i64, or features [B, n, F] (config.input_features = F); mask [B, n].
    // A model with segments reads every position as segment 0.
    Tensor forward(const Tensor& inputs, const Tensor& mask);
    Tensor operator()(const Tensor& inputs, const Tensor& mask) { return forward(inputs, mask); }
    // The pooled encoding [B, dim] of inputs [B, n] (or [B, n, F]) with mask [B, n], before the head.
    Tensor encode(const Tensor& inputs, const Tensor& mask);
    std::int64_t classes() const { return classes_; }

    std::shared_ptr<nn::Sequential> head;

  private:
    std::int64_t classes_;
};

}  // namespace nyx::models
