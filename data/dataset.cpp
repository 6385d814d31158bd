#include "dataset.hpp"

#include <algorithm>
#include <numeric>

#include <nyx/core/random.hpp>

namespace nyx::data {

std::int64_t Dataset::max_length() const {
    std::size_t longest = 0;
    for (const Example& e : examples) longest = std::max(longest, e.tokens.size());
    return static_cast<std::int64_t>(longest) / token_width;
}

std::vector<std::int64_t> Dataset::class_counts() const {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
    for (const Example& e : examples) {
        NYX_CHECK(e.label >= 0 && e.label < classes, name, ": label ", e.label, " is outside [0, ", classes, ")");
        ++counts[static_cast<std::size_t>(e.label)];
    }
    return counts;
}

Dataset Dataset::split_off(std::int64_t count, std::string split_name) {
    NYX_CHECK(count >= 0 && count < size(), name, ": cannot hold out ", count, " of ", size(), " examples; need fewer than all of them");
    Dataset held{std::move(split_name), {}, vocab, classes, token_width, class_names};
    held.examples.assign(std::make_move_iterator(examples.end() - count), std::make_move_iterator(examples.end()));
    examples.resize(examples.size() - static_cast<std::size_t>(count));
    return held;
}

Batch make_batch(const Dataset& dataset, std::span<const std::int64_t> indices, std::int64_t pad_to, DType dtype) {
    NYX_CHECK(!indices.empty(), dataset.name, ": a batch needs at least one example");
    const std::int64_t width = dataset.token_width;
    std::int64_t n = 0, tokens = 0;
    for (const std::int64_t i : indices) {
        NYX_CHECK(i >= 0 && i < dataset.size(), dataset.name, ": example ", i, " is out of range [0, ", dataset.size(), ")");
        const auto values = static_cast<std::int64_t>(dataset.examples[static_cast<std::size_t>(i)].tokens.size());
        NYX_CHECK(values % width == 0, dataset.name, ": example ", i, " has ", values, " values, not a multiple of the token width ", width);
        const std::int64_t length = values / width;
        n = std::max(n, length);
        tokens += length;
    }
    if (pad_to > 0) {
        NYX_CHECK(n <= pad_to, dataset.name, ": a sequence of ", n, " positions does not fit the padded length ", pad_to);
        n = pad_to;
    }
    NYX_CHECK(n > 0, dataset.name, ": every sequence in the batch is empty");
    const auto b = static_cast<std::int64_t>(indices.size());
    Batch batch{width == 1 ? zeros({b, n}, i64) : zeros({b, n, width}, dtype), zeros({b, n}, dtype), empty({b}, i64), tokens};
    auto* labels = batch.labels.data<std::int64_t>();
    dispatch_floating(dtype, "make_batch", [&]<class T>() {
        T* mask = batch.mask.data<T>();
        for (std::int64_t row = 0; row < b; ++row) {
            const Example& e = dataset.examples[static_cast<std::size_t>(indices[static_cast<std::size_t>(row)])];
            const auto length = static_cast<std::int64_t>(e.tokens.size()) / width;
            std::fill(mask + row * n, mask + row * n + length, T(1));
            labels[row] = e.label;
            if (width == 1) std::copy(e.tokens.begin(), e.tokens.end(), batch.inputs.data<std::int64_t>() + row * n);
            else
                std::transform(e.tokens.begin(), e.tokens.end(), batch.inputs.data<T>() + row * n * width,
                               [](std::uint16_t v) { return static_cast<T>(v) / T(255); });
        }
    });
    return batch;
}

Loader::Loader(const Dataset& dataset, LoaderOptions options) : dataset_(dataset), options_(options) {
    NYX_CHECK(options_.batch >= 1, "Loader: the batch size must be at least 1, got ", options_.batch);
    NYX_CHECK(options_.bucket >= 0, "Loader: the bucket window must not be negative, got ", options_.bucket);
    NYX_CHECK(dataset_.token_width >= 1, "Loader: ", dataset_.name, " has token width ", dataset_.token_width);
    NYX_CHECK(dataset_.size() > 0, "Loader: ", dataset_.name, " has no examples");
    NYX_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, "Loader: part ", options_.shard,
              " of ", options_.shards, " does not exist; shard must lie in 0..shards-1");
    NYX_CHECK(options_.batch % options_.shards == 0, "Loader: a batch of ", options_.batch, " cannot be cut into ", options_.shards,
              " equal parts; use a batch that is a multiple of ", options_.shards);
    NYX_CHECK(options_.shards == 1 || options_.drop_last, "Loader: an incomplete last batch cannot be cut into ", options_.shards,
              " equal parts; use drop_last with shards");
    per_epoch_ = options_.drop_last ? dataset_.size() / options_.batch : (dataset_.size() + options_.batch - 1) / options_.batch;
    NYX_CHECK(per_epoch_ > 0, "Loader: ", dataset_.name, " has ", dataset_.size(), " examples, fewer than one batch of ",
              options_.batch, "; use a smaller batch or more data");
}

Loader::~Loader() {
    try {
        tasks_.wait();
    } catch (...) {  // a prefetch nobody asked for failed: nothing to report it to
    }
}

std::vector<std::int64_t> Loader::indices_at(std::int64_t position) {
    const std::int64_t epoch = position / per_epoch_, first = position % per_epoch_ * options_.batch;
    if (epoch != order_epoch_) {
        order_.resize(static_cast<std::size_t>(dataset_.size()));
        std::iota(order_.begin(), order_.end(), std::int64_t{0});
        if (options_.shuffle) {
            // Epoch e draws from counter 2e·size of the seed's stream on: no two epochs overlap.
            Generator generator(options_.seed, 2 * static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(dataset_.size()));
            order_ = randperm(dataset_.size(), generator);
            if (options_.bucket > 0) bucket_by_length(generator);
        } else if (options_.bucket > 0) {  // in order of length (evaluation)
            std::stable_sort(order_.begin(), order_.end(), [&](std::int64_t x, std::int64_t y) {
                return dataset_.examples[static_cast<std::size_t>(x)].tokens.size() < dataset_.examples[static_cast<std::size_t>(y)].tokens.size();
            });
        }
        order_epoch_ = epoch;
    }
    const std::int64_t last = std::min(first + options_.batch, dataset_.size());
    return {order_.begin() + first, order_.begin() + last};
}

void Loader::bucket_by_length(Generator& generator) {
    const auto length = [&](std::int64_t i) { return dataset_.examples[static_cast<std::size_t>(i)].tokens.size(); };
    const std::int64_t b = options_.batch, used = std::min(per_epoch_ * b, dataset_.size());
    const std::int64_t window = std::min(options_.bucket, per_epoch_) * b;  // no overflow: at most a few times the size
    for (std::int64_t start = 0; start < used; start += window)
        std::stable_sort(order_.begin() + start, order_.begin() + std::min(start + window, used),
                         [&](std::int64_t x, std::int64_t y) { return length(x) < length(y); });
    // Shuffle whole batches, so that the lengths of consecutive steps do not trend.
    const std::vector<std::int64_t> batches = randperm(per_epoch_, generator);
    std::vector<std::int64_t> shuffled;
    shuffled.reserve(order_.size());
    for (const std::int64_t k : batches) {
        const auto from = order_.begin() + k * b;
        shuffled.insert(shuffled.end(), from, from + std::min(b, dataset_.size() - k * b));
    }
    shuffled.insert(shuffled.end(), order_.begin() + std::min(used, dataset_.size()), order_.end());  // dropped at the end
    order_ = std::move(shuffled);
}

Batch Loader::build(std::span<const std::int64_t> indices) const {
    if (options_.shards == 1) return make_batch(dataset_, indices, options_.pad_to, options_.dtype);
    std::int64_t pad_to = options_.pad_to;
    if (pad_to == 0)
        for (const std::int64_t i : indices)
            pad_to = std::max(pad_to, static_cast<std::int64_t>(dataset_.examples[static_cast<std::size_t>(i)].tokens.size()) / dataset_.token_width);
    const auto part = static_cast<std::size_t>(options_.batch / options_.shards);
    return make_batch(dataset_, indices.subspan(static_cast<std::size_t>(options_.shard) * part, part), pad_to, options_.dtype);
}

void Loader::start(std::int64_t position) {
    std::vector<std::int64_t> indices = indices_at(position);
    tasks_.run([this, indices = std::move(indices)] { pending_batch_ = build(indices); });
    pending_ = true;
    pending_position_ = position;
}

void Loader::discard() {
    if (!pending_) return;
    pending_ = false;
    try {
        tasks_.wait();
    } catch (...) {  // a batch nobody will ask for: its failure does not matter
    }
}

void Loader::seek(std::int64_t position) {
    NYX_CHECK(position >= 0, "Loader::seek: the position must not be negative, got ", position);
    if (position != position_) discard();
    position_ = position;
}

Batch Loader::next() {
    Batch batch;
    if (pending_ && pending_position_ == position_) {
        pending_ = false;
        tasks_.wait();  // rethrows the task's failure; the position stays, so a retry fails alike
        batch = std::move(pending_batch_);
    } else {
        discard();
        batch = build(indices_at(position_));
    }
    ++position_;
    if (options_.prefetch) start(position_);
    return batch;
}

}  // namespace nyx::data
