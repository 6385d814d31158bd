#pragma once
// A run that nyx-train trained, loaded back into one's own C++: the model rebuilt from config.json's
// "model" section (models/config_json.hpp), its weights from a checkpoint, in evaluation mode.
//
//     models::LoadedRun run = models::load_run("runs/listops-nystrom-20260101-120000");
//     const std::vector<std::uint16_t> tokens = data::listops_tokenize("[MAX 2 9 [MIN 4 7 ] 0 ]");
//     const auto n = static_cast<std::int64_t>(tokens.size());
//     Tensor ids = from_vector(std::vector<std::int64_t>(tokens.begin(), tokens.end()), {1, n});
//     NoGradGuard no_grad;
//     Tensor logits = (*run.model)(ids, ones({1, n}));  // [1, classes]
//     std::string answer = run.class_names[ops::argmax(logits, 1).item<std::int64_t>()];  // its value, as the model sees it
//
// How a task's text becomes ids (the data/ readers nyx-train used; examples/classify_from_run.cpp):
//   - "listops": data::listops_tokenize (vocab 17);
//   - "text": byte b is id b + 1, cut to the first config.max_len bytes (data::read_text_tsv; vocab 257);
//   - "fashion-mnist": pixel values 0-255 as ids, row by row (config.input_features = 0), or p×p
//     patches as feature vectors of p² values / 255 (config.input_features = p²; data::images_to_dataset).
// The model mean-pools over all n positions, padding included, as the LRA's did: pad a batch as
// little as the data allows (nyx-train pads each batch to its longest sequence, or to --pad-to).
#include <memory>
#include <string>
#include <vector>

#include <nyx/core/safetensors.hpp>

#include "config_json.hpp"
#include "masked_lm.hpp"

namespace nyx::models {

// nyx-train's two checkpoints in a run directory.
enum class Checkpoint {
    best,  // best.safetensors: the weights of the best validation accuracy so far
    latest,  // latest.safetensors: the state of the last evaluation (or of Ctrl-C)
};

struct LoadedRun {
    // In evaluation mode. It holds its own generator (for dropout, should it train again), which
    // lives as long as the model does.
    std::shared_ptr<EncoderClassifier> model;
    EncoderConfig config;
    std::int64_t classes = 0;
    std::vector<std::string> class_names;  // one per class; empty when the data named none
    std::string task;  // nyx-train's task: "listops", "text" or "fashion-mnist"
    std::string checkpoint;  // the file the weights came from
    std::int64_t step = 0;  // the training step it was saved at (0: the file does not say)
};

// A `nyx-train pretrain` run's model (docs/pretraining.md), in evaluation mode, with its
// configuration and the checkpoint it came from; the run's tokenizer is RUN_DIR/tokenizer.model
// (data::Tokenizer::load). Errors as load_run's, and a classifier's run is refused.
struct LoadedMaskedLM {
    std::shared_ptr<MaskedLM> model;  // holds its own generator, as LoadedRun's model does
    EncoderConfig config;
    std::string checkpoint;
    std::int64_t step = 0;
};
LoadedMaskedLM load_masked_lm(const std::string& run_dir, Checkpoint which = Checkpoint::best);

// `run_dir` is a directory that nyx-train trained in. Errors say what to fix: no such directory,
// not a run directory (no config.json), a run from before config.json had its "model" section, a
// checkpoint not yet written, or a checkpoint that does not fit config.json.
LoadedRun load_run(const std::string& run_dir, Checkpoint which = Checkpoint::best);

// A checkpoint file alone (each of nyx-train's repeats config.json in its metadata, "config").
LoadedRun load_checkpoint(const std::string& path);
LoadedRun load_checkpoint(const io::Safetensors& file, const std::string& source);

// The "model" section a checkpoint's metadata holds; none when the checkpoint has no nyx-train
// configuration, or one from before the section existed.
std::optional<ClassifierConfig> checkpoint_model_config(const io::Safetensors& file, const std::string& source);

}  // namespace nyx::models
