#pragma once
// A classification dataset held in memory, and the loader that turns it into batches.
//
//     data::Loader loader(train, {.batch = 32, .seed = 7});
//     data::Batch b = loader.next();  // b.inputs [32, n], b.mask [32, n], b.labels [32]
//
// Sequences vary in length; a batch pads them with 0 to its longest (or to `pad_to`) and its mask
// marks the real tokens. The loader builds the next batch on a TBB task while the caller trains
// on the current one, and its order depends only on the seed and the batch's position, so a run
// resumed at step s sees the same batches as one that never stopped.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <oneapi/tbb/task_group.h>

#include <nyx/core/random.hpp>

namespace nyx::data {

// One labelled sequence: length × token_width values. With token_width 1 they are token ids;
// wider, each position is a feature vector (pixels of a patch, 0–255, scaled to [0, 1] in batches).
struct Example {
    std::vector<std::uint16_t> tokens;
    std::int64_t label = 0;
};

struct Dataset {
    std::string name;
    std::vector<Example> examples;
    std::int64_t vocab = 0;        // token ids lie in [0, vocab); padding is id 0 (the mask tells it from a real 0)
    std::int64_t classes = 0;
    std::int64_t token_width = 1;  // 1: ids; > 1: feature vectors of this width
    std::vector<std::string> class_names;  // optional, one per class

    std::int64_t size() const { return static_cast<std::int64_t>(examples.size()); }
    std::int64_t max_length() const;           // in positions
    std::vector<std::int64_t> class_counts() const;
    // Moves the last `count` examples into a new dataset with the same vocabulary (a held-out split).
    Dataset split_off(std::int64_t count, std::string name);
};

struct Batch {
    Tensor inputs;            // [B, n] i64 ids, or [B, n, token_width] features
    Tensor mask;              // [B, n]: 1 for a token, 0 for padding
    Tensor labels;            // [B] i64
    std::int64_t tokens = 0;  // real tokens in the batch (padding excluded)
};

// The examples at `indices`, padded to the longest of them, or to `pad_to` when it is positive.
// The mask and any features have `dtype` (the model's).
Batch make_batch(const Dataset& dataset, std::span<const std::int64_t> indices, std::int64_t pad_to = 0, DType dtype = f32);

struct LoaderOptions {
    std::int64_t batch = 32;
    bool shuffle = true;    // a new permutation every epoch, from (seed, epoch)
    bool drop_last = true;  // an epoch's incomplete last batch is skipped (training); kept otherwise
    std::uint64_t seed = 0;
    std::int64_t pad_to = 0;
    // k > 0: batches of similar lengths (less padding). Shuffled: each window of k·batch shuffled
    // examples is sorted by length and cut into batches, and the batches are shuffled. In order: the
    // whole dataset sorted by length. 0: off.
    std::int64_t bucket = 0;
    bool prefetch = true;   // build the next batch on a TBB task while the caller works
    DType dtype = f32;
    // Data-parallel training: every rank builds the same batches (same seed) and takes part `shard`
    // of `shards` equal parts of each, padded to the whole batch's longest sequence, as one process
    // would pad it. `batch` stays the whole batch and must be a multiple of `shards`.
    std::int64_t shards = 1, shard = 0;
};

// The dataset must outlive the loader.
class Loader {
  public:
    Loader(const Dataset& dataset, LoaderOptions options);
    ~Loader();
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    std::int64_t batches_per_epoch() const { return per_epoch_; }
    std::int64_t position() const { return position_; }  // batches handed out since epoch 0 began
    void seek(std::int64_t position);                   // the next batch is the one at `position`
    Batch next();

  private:
    std::vector<std::int64_t> indices_at(std::int64_t position);
    Batch build(std::span<const std::int64_t> indices) const;  // this loader's part of the batch of `indices`
    void bucket_by_length(Generator& generator);
    void start(std::int64_t position);  // builds the batch at `position` on a task
    void discard();                     // waits for a pending batch and drops it

    const Dataset& dataset_;
    LoaderOptions options_;
    std::int64_t per_epoch_ = 0, position_ = 0;
    std::int64_t order_epoch_ = -1;
    std::vector<std::int64_t> order_;  // the epoch's examples, batch after batch
    tbb::task_group tasks_;
    bool pending_ = false;
    std::int64_t pending_position_ = -1;
    Batch pending_batch_;
};

}  // namespace nyx::data
