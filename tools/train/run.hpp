#pragma once
// The three things nyx-train does: train (or resume) a run, evaluate a checkpoint, plot runs.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "objective.hpp"

namespace nyx::train {

// A mistake in the command line: an unknown flag, a value out of range, flags that conflict, a
// --resume that changes the run, a path that names no run. nyx-train exits with usage_status for
// every one of them, and with 1 for failures while it runs (tools/train/README.md, "Exit status").
struct UsageError : Error {
    using Error::Error;
};
inline constexpr int usage_status = 2;
template <class... Parts>
void check_usage(bool ok, const Parts&... parts) {
    if (!ok) throw UsageError(detail::cat(parts...));
}

// Throws, naming the limit and what is needed, when the address space (ulimit -v) is too small for
// nyx-train with `threads` threads: 256 MiB, and 256 MiB per thread for OpenBLAS's and the C
// library's buffers.
void check_address_space(int threads);

// Keeps Ctrl-C and SIGTERM off every thread that computes: blocks them in the calling thread (and so
// in every thread it starts later: TBB's, OpenMP's, MPI's) and starts one thread that takes them.
// oneDNN's JIT f32 gemm points the stack pointer into the heap while it runs (oneDNN issue #4845),
// so a signal handler that ran on a thread inside it would write its frame over heap memory: a
// run interrupted in the middle of a long product aborted with "corrupted size vs. prev_size".
// main() calls it once, first, before any thread of its own starts (OpenBLAS's threads, started
// when the library loaded, keep the signals; they never run oneDNN). Other asynchronous signals
// (a profiler's SIGPROF) would meet the same fault; oneDNN fixed it after the 2.6 that Debian ships.
void route_signals_to_one_thread();

// Trains in config.run_dir: created for a new run; continued from its latest checkpoint when
// `resume`. Returns the exit status: 0 when done, 130 when interrupted (the run is saved; Ctrl-C
// is acted on after the current step, or evaluation batch).
int train(Config config, bool resume);

struct Evaluation {
    Figures figures;  // "loss", "accuracy", then the objective's others
    std::int64_t examples = 0;
};
// The objective's figures over a split ("train", "val" or "test"), in batches of the run's size and
// in its precision; in order of length when bucket > 0 (less padding), else in the split's order.
// Shows "eval LABEL done/total batches" while it runs. Nothing when Ctrl-C or SIGTERM stopped it
// between two batches (under mpirun, every rank stops at the same batch).
std::optional<Evaluation> evaluate(Objective& objective, const std::string& split, const Config& c, const std::string& label);

// A checkpoint with what it needs: `target` is a run directory (its best.safetensors, else
// latest.safetensors) or a checkpoint file. The model is built as the checkpoint's "model" section
// says (or, for a run from before it, as its options build it for the data), its weights checked,
// in eval mode; the data is the run's, made again from its configuration.
struct LoadedCheckpoint {
    std::string path;  // the checkpoint file read
    Config config;
    Splits data;
    std::shared_ptr<models::EncoderClassifier> model;
};
LoadedCheckpoint load_checkpoint(const std::string& target, std::int64_t threads);
// "train", "val" or "test" of the splits (an Error naming --split otherwise).
const data::SequenceDataset& split_of(const Splits& splits, const std::string& split);

// `target`: a run directory (its best checkpoint) or a checkpoint file. Prints the accuracy over
// the split, or over at most `eval_size` of its examples (0: all).
int evaluate_checkpoint(const std::string& target, const std::string& split, std::int64_t threads, std::int64_t eval_size);

// One SVG of the runs' curves against `x`, "step" or "minutes" (wall clock, from speed.jsonl);
// `output` empty: RUN_DIR/curves.svg for one run, else comparison.svg.
// `metric`: the figure of the right panel ("accuracy", or another a run logs: "sop_accuracy").
int plot_runs(const std::vector<std::string>& run_dirs, std::string output, const std::string& x = "step", const std::string& metric = "accuracy");

// The folder a file is written in exists and may be written in (without this check, the error
// would name the temporary file of the atomic write); `flag` names the option that gave the path.
void check_writable_folder_of(const std::string& path, const char* flag);

}  // namespace nyx::train
