#pragma once
// What a nyx-train run trains, and how it is scored. The classification tasks (listops, pathfinder,
// fashion-mnist, text, retrieval, finetune) train a models::EncoderClassifier on cross-entropy and
// count right answers; pretraining trains a models::MaskedLM on MLM + SOP and counts right tokens
// and right orders. run.cpp drives either alike: steps, validation, checkpoints, resume, signals.
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"

namespace nyx::train {

// Sums over the examples of a batch (or of a split, batch after batch, and over the ranks of a
// data-parallel job); Objective::figures makes the run's figures of them.
using Sums = std::vector<double>;

// A run's figure: "loss" and "accuracy" come first (the progress line shows them, and the best
// checkpoint is the best validation accuracy's), then any others ("sop_accuracy").
struct Figure {
    std::string name;
    double value = 0;
};
using Figures = std::vector<Figure>;
double figure(const Figures& figures, const std::string& name);  // its value; an Error when absent

class Objective {
  public:
    virtual ~Objective() = default;
    virtual nn::Module& model() = 0;
    // config.json's "model" section (the library's JSON of the model's configuration), which a
    // checkpoint's metadata repeats and a resume compares.
    virtual std::string model_json() const = 0;

    // The splits ("train", "val", "test"; val and test hold at most --eval-size examples), and
    // how a loader makes their batches (collate, augment; the caller sets the rest).
    virtual const data::Dataset& split(const std::string& name) const = 0;
    virtual std::int64_t split_size_before_cap(const std::string& name) const = 0;
    // `training`: the loader of the training steps; else an evaluation's.
    virtual data::LoaderOptions loader_options(bool training) const = 0;
    // The longest sequence the model reads (positions).
    virtual std::int64_t positions() const = 0;

    // The forward pass and loss of a batch (under the caller's autocast and grad mode), and the
    // sums it adds: the same layout for every batch.
    struct Output {
        Tensor loss;
        Sums sums;
    };
    virtual Output forward(const data::Batch& batch) = 0;
    virtual std::size_t sums_size() const = 0;
    virtual Figures figures(std::span<const double> sums) const = 0;
    // The loss of a guess that knows nothing (ln of the number of classes), and how it is reckoned
    // ("ln 10"): a loss a hundred times that, step after step, is a run that diverged.
    virtual double uniform_loss() const = 0;
    virtual std::string uniform_loss_text() const = 0;
    // Lines that describe the data and the model when the run starts (without a newline at the end).
    virtual std::string describe() const = 0;
    // Lines printed once, when a new run starts (the class balance; the corpus), or "".
    virtual std::string details() const = 0;
    // What a split's figures are compared with (the majority training class's accuracy on it).
    virtual std::string baseline(const std::string& split) const = 0;
    // Files the run directory holds beside the checkpoints (name, bytes), written when a run starts.
    virtual std::vector<std::pair<std::string, std::string>> run_files() const { return {}; }
};

// The pretraining run's tokenizer, in its run directory.
inline constexpr const char* tokenizer_file = "tokenizer.model";

// The objective of the configuration's task: its data loaded, its model built from `generator`
// (which must outlive it). Sets config.max_positions and config.classes from the data (a resumed
// run's must agree), then validates the configuration.
std::unique_ptr<Objective> make_objective(Config& config, Generator& generator);
// A classifier and its data already made (nyx-train eval): val and test capped at eval_size.
std::unique_ptr<Objective> classification_of(Splits splits, std::shared_ptr<models::EncoderClassifier> model, std::int64_t eval_size);

}  // namespace nyx::train
