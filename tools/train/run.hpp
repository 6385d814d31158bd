#pragma once
// The three things nyx-train does: train (or resume) a run, evaluate a checkpoint, plot runs.
#include <string>
#include <vector>

#include "config.hpp"

namespace nyx::train {

// Throws, naming the limit and what is needed, when the address space (ulimit -v) is too small for
// nyx-train with `threads` threads: 256 MiB, and 256 MiB per thread for OpenBLAS's and the C
// library's buffers.
void check_address_space(int threads);

// Trains in config.run_dir: created for a new run; continued from its latest checkpoint when
// `resume`. Returns the exit status: 0 when done, 130 when interrupted (the run is saved).
int train(Config config, bool resume);

struct Evaluation {
    double loss = 0, accuracy = 0;
    std::int64_t examples = 0;
};
// In order of length when bucket > 0 (less padding), else in the dataset's order.
// Loss and accuracy over a dataset, in batches of the run's size and in its precision.
Evaluation evaluate(models::EncoderClassifier& model, const data::SequenceDataset& dataset, const Config& c);

// `target`: a run directory (its best checkpoint) or a checkpoint file. Prints the accuracy.
int evaluate_checkpoint(const std::string& target, const std::string& split, std::int64_t threads);

// One SVG of the runs' curves; `output` empty: RUN_DIR/curves.svg for one run, else comparison.svg.
int plot_runs(const std::vector<std::string>& run_dirs, std::string output);

}  // namespace nyx::train
