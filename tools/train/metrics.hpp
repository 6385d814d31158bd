#pragma once
// RUN_DIR/metrics.jsonl: what the model did, one JSON object per line, per logged training step
//   {"step": 40, "split": "train", "loss": 2.1, "accuracy": 0.19, "lr": 1e-4}
// and per evaluation ({"step": 250, "split": "val", "loss": 1.9, "accuracy": 0.31}). Nothing in it
// depends on the clock, so the same seed and thread count give the same file, bit for bit.
// RUN_DIR/speed.jsonl: how fast, per logged step ({"step": 40, "tokens_per_s": 41000, "seconds": 93.412}):
// `seconds` is the run's wall-clock time at that step since it started, to the millisecond: data loading and
// evaluations count, and a resumed run goes on from the time its checkpoint was written (work
// redone after a resume counts again, as it took time again). Runs from before it lack it. It is
// what `nyx-train plot --x minutes` draws against (a validation at the time of its step's line).
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nyx::train {

struct MetricsRecord {
    std::int64_t step = 0;
    std::string split;
    double loss = 0, accuracy = 0;
    std::string line;  // as written
};

// The well-formed records of a metrics file, in order, with `metric` as their accuracy ("accuracy";
// a pretraining run's "sop_accuracy", say). Lines that are not a record (the torn last line of a
// killed writer, say) are skipped. A missing file reads as no records.
std::vector<MetricsRecord> read_metrics(const std::string& path, const std::string& metric = "accuracy");

// The (step, seconds) pairs of a speed file's records up to `last_step`; none when a record lacks
// "seconds" (a run begun before they were logged).
std::optional<std::vector<std::pair<std::int64_t, double>>> read_seconds(const std::string& path, std::int64_t last_step = INT64_MAX);

// Writes either file.
class MetricsWriter {
  public:
    // Reads the file (a missing one is empty) and keeps the records up to `last_step` but the test
    // result (a resumed run writes what came after again, and its own test result), and but the
    // validation of `last_step` when the checkpoint precedes it (`validated` false: Ctrl-C stopped
    // the validation, which the resumed run does first). Writes nothing until start(), so that a
    // resume refused after this leaves the file as it was.
    MetricsWriter(const std::string& path, std::int64_t last_step, bool validated);
    // Writes the kept records back, then appends.
    void start();
    void write(const nlohmann::ordered_json& record);  // one line, keys in the given order, flushed
    // Puts the lines written so far on the disk (fsync): before a checkpoint that covers them.
    void sync();

  private:
    std::string path_, kept_;
    std::ofstream out_;
};

}  // namespace nyx::train
