#include "dataset.hpp"

#include <algorithm>
#include <numeric>

#include <nyx/core/random.hpp>

namespace nyx::data {

namespace {

constexpr std::uint64_t augment_stream = 0x61756700;  // "aug": the augment's seeds, apart from the shuffles' (the seed itself)

// One field of every example, stacked along a new axis 0; each must be like example 0's.
Tensor stack_field(std::span<const Example> examples, Tensor Example::*field, const char* field_name) {
    const Tensor& model = examples.front().*field;
    NYX_CHECK(model.defined(), "stack: example 0 has no ", field_name);
    Shape shape{static_cast<std::int64_t>(examples.size())};
    shape.insert(shape.end(), model.shape().begin(), model.shape().end());
    Tensor out = empty(shape, model.dtype());
    for (std::size_t i = 0; i < examples.size(); ++i) {
        const Tensor& piece = examples[i].*field;
        NYX_CHECK(piece.defined() && piece.shape() == model.shape() && piece.dtype() == model.dtype(), "stack: example ", i, "'s ",
                  field_name, " is ", piece.defined() ? to_string(piece.shape()) + " " + std::string(name(piece.dtype())) : std::string("missing"),
                  ", example 0's ", to_string(model.shape()), " ", model.dtype(),
                  "; examples of different lengths need a padding collate (data::pad_sequences)");
        out.select(0, static_cast<std::int64_t>(i)).copy_(piece);
    }
    return out;
}

}  // namespace

Batch stack(std::span<const Example> examples) {
    NYX_CHECK(!examples.empty(), "stack: a batch needs at least one example");
    return {stack_field(examples, &Example::input, "input"), stack_field(examples, &Example::target, "target"), {}, 0, {}};
}

Collate pad_sequences(PadOptions options) {
    NYX_CHECK(options.pad_to >= 0, "pad_sequences: pad_to must not be negative, got ", options.pad_to);
    NYX_CHECK(is_floating(options.dtype), "pad_sequences: the mask's dtype must be floating, got ", options.dtype);
    return [options](std::span<const Example> examples) {
        NYX_CHECK(!examples.empty(), "pad_sequences: a batch needs at least one example");
        const Tensor& first = examples.front().input;
        NYX_CHECK(first.defined() && ((first.dim() == 1 && first.dtype() == i64) || (first.dim() == 2 && is_floating(first.dtype()))),
                  "pad_sequences: example 0's input ", first.defined() ? to_string(first.shape()) + " " + std::string(name(first.dtype())) : "(missing)",
                  " is neither ids [n] of i64 nor features [n, F] of a floating dtype");
        const bool ids = first.dim() == 1;
        std::int64_t n = 0, tokens = 0;
        for (std::size_t i = 0; i < examples.size(); ++i) {
            const Tensor& x = examples[i].input;
            NYX_CHECK(x.defined() && x.dim() == first.dim() && x.dtype() == first.dtype() && (ids || x.size(1) == first.size(1)),
                      "pad_sequences: example ", i, "'s input ", x.defined() ? to_string(x.shape()) + " " + std::string(name(x.dtype())) : "(missing)",
                      " is not like example 0's ", to_string(first.shape()), " ", first.dtype(), ids ? " (ids [n] of i64)" : " (features [n, F] with one F)");
            n = std::max(n, x.size(0));
            tokens += x.size(0);
        }
        if (options.pad_to > 0) {
            NYX_CHECK(n <= options.pad_to, "pad_sequences: a sequence of ", n, " positions does not fit the padded length ", options.pad_to);
            n = options.pad_to;
        }
        NYX_CHECK(n > 0, "pad_sequences: every sequence in the batch is empty");
        const auto b = static_cast<std::int64_t>(examples.size());
        Batch batch{ids ? zeros({b, n}, i64) : zeros({b, n, first.size(1)}, options.dtype), stack_field(examples, &Example::target, "target"), zeros({b, n}, options.dtype), tokens, {}};
        for (std::int64_t row = 0; row < b; ++row) {
            const Tensor& x = examples[static_cast<std::size_t>(row)].input;
            const std::int64_t length = x.size(0);
            if (length == 0) continue;
            batch.inputs.select(0, row).narrow(0, 0, length).copy_(x);  // converting features to the dtype
            batch.mask.select(0, row).narrow(0, 0, length).fill_(1);
        }
        return batch;
    };
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(inputs.detach()), targets_(targets.detach()) {
    NYX_CHECK(inputs_.dim() >= 1 && targets_.dim() >= 1, "TensorDataset: inputs and targets need an axis of examples; got shapes ",
              to_string(inputs_.shape()), " and ", to_string(targets_.shape()));
    NYX_CHECK(inputs_.size(0) == targets_.size(0), "TensorDataset: ", inputs_.size(0), " inputs but ", targets_.size(0),
              " targets (shapes ", to_string(inputs_.shape()), " and ", to_string(targets_.shape()), "); axis 0 must agree");
}

Example TensorDataset::get(std::int64_t index) const {
    NYX_CHECK(index >= 0 && index < size(), "TensorDataset: example ", index, " is out of range [0, ", size(), ")");
    return {inputs_.select(0, index), targets_.select(0, index)};
}

SequenceDataset::SequenceDataset(std::string name, std::vector<Sequence> examples, std::int64_t vocab, std::int64_t classes,
                                 std::int64_t token_width, std::vector<std::string> class_names)
    : name(std::move(name)), examples(std::move(examples)), vocab(vocab), classes(classes), token_width(token_width), class_names(std::move(class_names)) {}

Example SequenceDataset::get(std::int64_t index) const {
    NYX_CHECK(index >= 0 && index < size(), name, ": example ", index, " is out of range [0, ", size(), ")");
    const Sequence& e = examples[static_cast<std::size_t>(index)];
    const auto values = static_cast<std::int64_t>(e.tokens.size());
    NYX_CHECK(token_width >= 1 && values % token_width == 0, name, ": example ", index, " has ", values,
              " values, not a multiple of the token width ", token_width);
    Tensor input = token_width == 1 ? empty({values}, i64) : empty({values / token_width, token_width}, f32);
    if (token_width == 1) std::copy(e.tokens.begin(), e.tokens.end(), input.data<std::int64_t>());
    else std::transform(e.tokens.begin(), e.tokens.end(), input.data<float>(), [](std::uint16_t v) { return static_cast<float>(v) / 255.0F; });
    return {input, scalar(static_cast<double>(e.label), i64)};
}

std::optional<std::int64_t> SequenceDataset::length(std::int64_t index) const {
    return static_cast<std::int64_t>(examples[static_cast<std::size_t>(index)].tokens.size()) / std::max<std::int64_t>(token_width, 1);
}

std::int64_t SequenceDataset::max_length() const {
    std::size_t longest = 0;
    for (const Sequence& e : examples) longest = std::max(longest, e.tokens.size());
    return static_cast<std::int64_t>(longest) / token_width;
}

std::vector<std::int64_t> SequenceDataset::class_counts() const {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
    for (const Sequence& e : examples) {
        NYX_CHECK(e.label >= 0 && e.label < classes, name, ": label ", e.label, " is outside [0, ", classes, ")");
        ++counts[static_cast<std::size_t>(e.label)];
    }
    return counts;
}

SequenceDataset SequenceDataset::split_off(std::int64_t count, std::string split_name) {
    NYX_CHECK(count >= 0 && count < size(), name, ": cannot hold out ", count, " of ", size(), " examples; need fewer than all of them");
    SequenceDataset held{std::move(split_name), {}, vocab, classes, token_width, class_names};
    held.examples.assign(std::make_move_iterator(examples.end() - count), std::make_move_iterator(examples.end()));
    examples.resize(examples.size() - static_cast<std::size_t>(count));
    return held;
}

Batch make_batch(const Dataset& dataset, std::span<const std::int64_t> indices, const Collate& collate) {
    NYX_CHECK(!indices.empty(), "make_batch: a batch of ", dataset.display_name(), " needs at least one example");
    std::vector<Example> examples;
    examples.reserve(indices.size());
    for (const std::int64_t i : indices) {
        NYX_CHECK(i >= 0 && i < dataset.size(), "make_batch: example ", i, " is out of range [0, ", dataset.size(), ") for ",
                  dataset.display_name());
        examples.push_back(dataset.get(i));
    }
    return collate ? collate(examples) : dataset.default_collate()(examples);
}

Loader::Loader(const Dataset& dataset, LoaderOptions options) : dataset_(dataset), options_(std::move(options)) {
    NYX_CHECK(options_.batch_size >= 1, "Loader: the batch size must be at least 1, got ", options_.batch_size);
    NYX_CHECK(options_.bucket >= 0, "Loader: the bucket window must not be negative, got ", options_.bucket);
    NYX_CHECK(dataset_.size() > 0, "Loader: ", dataset_.display_name(), " has no examples");
    NYX_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, "Loader: part ", options_.shard,
              " of ", options_.shards, " does not exist; shard must lie in 0..shards-1");
    NYX_CHECK(options_.batch_size % options_.shards == 0, "Loader: a batch of ", options_.batch_size, " cannot be cut into ",
              options_.shards, " equal parts; use a batch size that is a multiple of ", options_.shards);
    NYX_CHECK(options_.shards == 1 || options_.drop_last, "Loader: an incomplete last batch cannot be cut into ", options_.shards,
              " equal parts; use drop_last with shards");
    if (options_.bucket > 0) {
        lengths_.resize(static_cast<std::size_t>(dataset_.size()));
        for (std::int64_t i = 0; i < dataset_.size(); ++i) {
            const std::optional<std::int64_t> length = dataset_.length(i);
            NYX_CHECK(length.has_value(), "Loader: bucket needs examples with lengths (Dataset::length), and this dataset's have none; "
                                          "leave bucket at 0");
            lengths_[static_cast<std::size_t>(i)] = *length;
        }
    }
    if (!options_.collate) options_.collate = dataset_.default_collate();
    per_epoch_ = options_.drop_last ? dataset_.size() / options_.batch_size : (dataset_.size() + options_.batch_size - 1) / options_.batch_size;
    NYX_CHECK(per_epoch_ > 0, "Loader: ", dataset_.display_name(), " has ", dataset_.size(), " examples, fewer than one batch of ", options_.batch_size,
              " (drop_last is on); use a smaller batch or more data");
}

Loader::~Loader() {
    try {
        tasks_.wait();
    } catch (...) {  // a prefetch nobody asked for failed: nothing to report it to
    }
}

std::vector<std::int64_t> Loader::indices_at(std::int64_t position) {
    const std::int64_t epoch = position / per_epoch_, first = position % per_epoch_ * options_.batch_size;
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
                return lengths_[static_cast<std::size_t>(x)] < lengths_[static_cast<std::size_t>(y)];
            });
        }
        order_epoch_ = epoch;
    }
    const std::int64_t last = std::min(first + options_.batch_size, dataset_.size());
    return {order_.begin() + first, order_.begin() + last};
}

void Loader::bucket_by_length(Generator& generator) {
    const auto length = [&](std::int64_t i) { return lengths_[static_cast<std::size_t>(i)]; };
    const std::int64_t b = options_.batch_size, used = std::min(per_epoch_ * b, dataset_.size());
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

Batch Loader::build(std::span<const std::int64_t> indices, std::int64_t position) const {
    Batch batch = make_batch(dataset_, indices, options_.collate);
    if (options_.augment) {  // a stream of its own for each position, apart from the shuffles'
        Generator generator(mix_seed(mix_seed(options_.seed, augment_stream), static_cast<std::uint64_t>(position)));
        options_.augment(batch, generator);
    }
    if (options_.shards == 1) return batch;
    // The whole batch, collated as one process would (padded to its longest sequence), then this
    // rank's rows of it.
    const std::int64_t part = options_.batch_size / options_.shards, first = options_.shard * part;
    auto rows = [&](const Tensor& t) { return t.defined() ? t.narrow(0, first, part).contiguous() : t; };
    Batch mine{rows(batch.inputs), rows(batch.targets), rows(batch.mask), 0, {}};
    for (const auto& [name, t] : batch.extra) mine.extra.emplace(name, rows(t));
    if (mine.mask.defined()) mine.tokens = static_cast<std::int64_t>(mine.mask.to(f64).sum().item<double>());
    return mine;
}

void Loader::start(std::int64_t position) {
    std::vector<std::int64_t> indices = indices_at(position);
    tasks_.run([this, indices = std::move(indices), position] { pending_batch_ = build(indices, position); });
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

Loader::Iterator Loader::begin() { return {this, (position_ / per_epoch_ + 1) * per_epoch_}; }

void Loader::Iterator::advance() {
    done_ = loader_->position() >= end_;
    batch_ = done_ ? Batch{} : loader_->next();
}

Batch Loader::next() {
    Batch batch;
    if (pending_ && pending_position_ == position_) {
        pending_ = false;
        tasks_.wait();  // rethrows the task's failure; the position stays, so a retry fails alike
        batch = std::move(pending_batch_);
    } else {
        discard();
        batch = build(indices_at(position_), position_);
    }
    ++position_;
    if (options_.prefetch) start(position_);
    return batch;
}

}  // namespace nyx::data
