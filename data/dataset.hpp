#pragma once
// Datasets and the loader that turns them into batches, as PyTorch's torch.utils.data: a map-style
// Dataset (index -> Example), a collate step that makes one Batch of several examples, and a
// Loader that draws batches in order or shuffled, one epoch after another.
//
//     data::TensorDataset train(features, targets);          // [N, F] f32 and [N] (any dtypes)
//     data::Loader loader(train, {.batch_size = 32, .shuffle = true, .seed = 7});
//     for (int epoch = 0; epoch < 10; ++epoch)
//         for (const data::Batch& b : loader) { ... b.inputs [32, F], b.targets [32] ... }
//
// As in PyTorch, shuffle and drop_last are off unless asked for: an evaluation loader covers every
// example once, in order, the last batch possibly shorter.
//
// Token sequences (ListOps, text, image pixels) are a SequenceDataset: its examples vary in length,
// and its batches pad them with 0 to the longest (or to `pad_to`) with a mask marking the real
// tokens (pad_sequences). The loader builds the next batch on a TBB task while the caller trains
// on the current one, and its order depends only on the seed and the batch's position, so a run
// resumed at step s sees the same batches as one that never stopped.
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <oneapi/tbb/task_group.h>

#include <nyx/core/random.hpp>

namespace nyx::data {

// One example: an input and its target, tensors of any shape and dtype (libtorch's data::Example).
struct Example {
    Tensor input = {};
    Tensor target = {};
};

// Several examples as one: each field with a batch axis in front.
struct Batch {
    Tensor inputs = {};  // [B, ...]: ids [B, n] i64 or features [B, n, F] for sequences
    Tensor targets = {};  // [B, ...]: class ids [B] i64 for classification
    Tensor mask = {};  // sequences only, [B, n]: 1 for a token, 0 for padding; undefined otherwise
    std::int64_t tokens = 0;  // sequences only: real tokens in the batch (padding excluded); 0 otherwise
    // More [B, ...] tensors that a collate or an augment adds, by name (pretraining.hpp's:
    // "segments" and "mlm_labels"), as PyTorch's collates return dictionaries.
    std::map<std::string, Tensor> extra = {};
};

// Makes a Batch of examples, as PyTorch's collate_fn. The examples are a whole batch (or a whole
// shard's part of one).
using Collate = std::function<Batch(std::span<const Example>)>;

// The default collate (PyTorch's default_collate for tensors): stacks the inputs and the targets
// along a new axis 0. Every example's input must have one shape and dtype, and so must the targets;
// the error names the first example that differs.
Batch stack(std::span<const Example> examples);

struct PadOptions {
    std::int64_t pad_to = 0;  // pad every batch to this length; 0: to its longest sequence
    DType dtype = f32;  // of the mask and of any features (the model's dtype)
};
// The collate of sequences: inputs [n_i] (ids, i64) or [n_i, F] (features, floating), targets of
// one shape. Pads with 0 to the longest n_i (or pad_to, which must fit them all) and adds the mask.
Collate pad_sequences(PadOptions options = {});

// PyTorch's map-style dataset: examples 0 .. size() - 1, each by index. Subclass it for data of
// one's own; get() may be called from a loader's background task, so it must not change the dataset.
class Dataset {
  public:
    virtual ~Dataset() = default;
    virtual std::int64_t size() const = 0;
    virtual Example get(std::int64_t index) const = 0;
    // How a loader given no collate of its own makes batches of this dataset: stack by default.
    virtual Collate default_collate() const { return stack; }
    // What errors call the dataset ("the dataset" unless a subclass knows better).
    virtual std::string display_name() const { return "the dataset"; }
    // An example's length in positions, for a loader's length buckets; none for data without one.
    virtual std::optional<std::int64_t> length(std::int64_t index) const {
        (void)index;
        return std::nullopt;
    }
};

// Examples made of the rows of tensors: example i is {inputs[i], targets[i]}. Any shapes and dtypes,
// with one size along axis 0. The tensors are held detached (data, not parameters) and share the
// caller's storage, as in PyTorch: do not write them in place while a loader reads them.
class TensorDataset : public Dataset {
  public:
    TensorDataset(Tensor inputs, Tensor targets);
    std::int64_t size() const override { return inputs_.size(0); }
    Example get(std::int64_t index) const override;
    const Tensor& inputs() const { return inputs_; }
    const Tensor& targets() const { return targets_; }

  private:
    Tensor inputs_, targets_;
};

// One labelled sequence: length × token_width values. With token_width 1 they are token ids;
// wider, each position is a feature vector (pixels of a patch, 0–255, scaled to [0, 1] by get()).
struct Sequence {
    std::vector<std::uint16_t> tokens;
    std::int64_t label = 0;
};

// A classification dataset of token sequences held in memory (ListOps, text, image pixels). Its
// examples are {ids [n] i64 or features [n, token_width] f32, label (rank 0, i64)}; its batches
// are padded (pad_sequences).
struct SequenceDataset : Dataset {
    SequenceDataset() = default;
    SequenceDataset(std::string name, std::vector<Sequence> examples, std::int64_t vocab, std::int64_t classes, std::int64_t token_width = 1,
                    std::vector<std::string> class_names = {});

    std::string name;
    std::vector<Sequence> examples;
    std::int64_t vocab = 0;  // token ids lie in [0, vocab); padding is id 0 (the mask tells it from a real 0)
    std::int64_t classes = 0;
    std::int64_t token_width = 1;  // 1: ids; > 1: feature vectors of this width
    std::vector<std::string> class_names;  // optional, one per class

    std::int64_t size() const override { return static_cast<std::int64_t>(examples.size()); }
    Example get(std::int64_t index) const override;
    Collate default_collate() const override { return pad_sequences(); }
    std::string display_name() const override { return name.empty() ? Dataset::display_name() : name; }
    std::optional<std::int64_t> length(std::int64_t index) const override;

    std::int64_t max_length() const;  // in positions
    std::vector<std::int64_t> class_counts() const;
    // Moves the last `count` examples into a new dataset with the same vocabulary (a held-out split).
    SequenceDataset split_off(std::int64_t count, std::string name);
};

// The examples at `indices` as one batch, made by `collate` (the dataset's default when empty).
Batch make_batch(const Dataset& dataset, std::span<const std::int64_t> indices, const Collate& collate = {});

struct LoaderOptions {
    std::int64_t batch_size = 1;
    bool shuffle = false;  // a new permutation every epoch, from (seed, epoch)
    bool drop_last = false;  // an epoch's incomplete last batch is skipped (training); kept otherwise
    std::uint64_t seed = 0;
    // k > 0: batches of similar lengths (less padding), for datasets with lengths (SequenceDataset).
    // Shuffled: each window of k·batch_size shuffled examples is sorted by length and cut into
    // batches, and the batches are shuffled. In order: the whole dataset sorted by length. 0: off.
    std::int64_t bucket = 0;
    bool prefetch = true;  // build the next batch on a TBB task while the caller works
    Collate collate = {};  // empty: the dataset's default_collate()
    // Random work on each whole batch after the collate (BERT's dynamic masking: pretraining.hpp),
    // with a generator seeded by (seed, the batch's position) alone: a run resumed at step s
    // draws what one that never stopped would, and so does every rank of a data-parallel job
    // before it takes its part. Runs on the prefetch task, so it must not touch shared state.
    std::function<void(Batch&, Generator&)> augment = {};
    // Data-parallel training: every rank builds the same batches (same seed) and takes part `shard`
    // of `shards` equal parts of each, as one process would make it (padded to the whole batch's
    // longest sequence). `batch_size` stays the whole batch and must be a multiple of `shards`.
    std::int64_t shards = 1, shard = 0;
};

// The dataset must outlive the loader.
class Loader {
  public:
    Loader(const Dataset& dataset, LoaderOptions options);
    Loader(const Dataset&& dataset, LoaderOptions options) = delete;  // a temporary dataset would dangle
    ~Loader();
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    std::int64_t batches_per_epoch() const { return per_epoch_; }  // PyTorch's len(loader)
    std::int64_t position() const { return position_; }  // batches handed out since epoch 0 began
    void seek(std::int64_t position);  // the next batch is the one at `position`
    Batch next();

    // Range-for over the rest of the current epoch (a whole epoch when at its start), by next().
    class Iterator {
      public:
        using value_type = Batch;
        using difference_type = std::ptrdiff_t;
        Iterator(Loader* loader, std::int64_t end) : loader_(loader), end_(end) { advance(); }
        const Batch& operator*() const { return batch_; }
        const Batch* operator->() const { return &batch_; }
        Iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(std::default_sentinel_t) const { return done_; }

      private:
        void advance();
        Loader* loader_;
        std::int64_t end_;
        Batch batch_;
        bool done_ = false;
    };
    Iterator begin();
    std::default_sentinel_t end() const { return {}; }

  private:
    std::vector<std::int64_t> indices_at(std::int64_t position);
    // This loader's part of the batch of `indices`, at `position` (which seeds the augment).
    Batch build(std::span<const std::int64_t> indices, std::int64_t position) const;
    void bucket_by_length(Generator& generator);
    void start(std::int64_t position);  // builds the batch at `position` on a task
    void discard();  // waits for a pending batch and drops it

    const Dataset& dataset_;
    LoaderOptions options_;
    std::vector<std::int64_t> lengths_;  // per example, when bucketing
    std::int64_t per_epoch_ = 0, position_ = 0;
    std::int64_t order_epoch_ = -1;
    std::vector<std::int64_t> order_;  // the epoch's examples, batch after batch
    tbb::task_group tasks_;
    bool pending_ = false;
    std::int64_t pending_position_ = -1;
    Batch pending_batch_;
};

}  // namespace nyx::data
