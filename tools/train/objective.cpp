#include "objective.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nyx/data/corpus.hpp>
#include <nyx/data/pretraining.hpp>
#include <nyx/models/masked_lm.hpp>

#include "run.hpp"

namespace nyx::train {

double figure(const Figures& figures, const std::string& name) {
    for (const Figure& f : figures)
        if (f.name == name) return f.value;
    throw Error(detail::cat("the run has no figure \"", name, "\""));
}

namespace {

// At most `cap` examples, evenly spread over the dataset (a file sorted by label keeps its mix of
// labels); all of them when cap is 0 or not smaller than the dataset.
data::SequenceDataset evenly_spread(data::SequenceDataset dataset, std::int64_t cap) {
    const std::int64_t size = dataset.size();
    if (cap == 0 || cap >= size) return dataset;
    std::vector<data::Sequence> kept;
    kept.reserve(static_cast<std::size_t>(cap));
    for (std::int64_t i = 0; i < cap; ++i) kept.push_back(std::move(dataset.examples[static_cast<std::size_t>(i * size / cap)]));
    dataset.examples = std::move(kept);
    return dataset;
}

// How many rows' largest logit is at their target: logits [N, C], targets [N] (i64).
std::int64_t hits(const Tensor& logits, const Tensor& targets) { return ops::eq(ops::argmax(logits, 1), targets).sum().item<std::int64_t>(); }

// "name 25.0%, name 75.0%": each class's share of the examples (names, or ids where there are none).
std::string class_balance(const data::SequenceDataset& d) {
    const std::vector<std::int64_t> counts = d.class_counts();
    std::string text;
    for (std::size_t c = 0; c < counts.size(); ++c) {
        char share[32];
        std::snprintf(share, sizeof share, " %.1f%%", 100.0 * static_cast<double>(counts[c]) / static_cast<double>(std::max<std::int64_t>(d.size(), 1)));
        text += (c ? ", " : "") + (c < d.class_names.size() ? d.class_names[c] : std::to_string(c)) + share;
    }
    return text;
}

// "120 train / 10 val / 10 test examples", with the --eval-size cap when it left some out.
std::string sizes_text(const Objective& o, const Config& c) {
    const auto size = [&](const char* name) { return o.split(name).size(); };
    const bool capped = size("val") < o.split_size_before_cap("val") || size("test") < o.split_size_before_cap("test");
    return detail::cat(size("train"), " train / ", o.split_size_before_cap("val"), " val / ", o.split_size_before_cap("test"), " test examples",
                       capped ? detail::cat(" (at most ", c.eval_size, " of each evaluated: --eval-size)") : "");
}

namespace fs = std::filesystem;

// The run's tokenizer: a resumed run's must be the one it started with.
std::unique_ptr<data::Tokenizer> load_tokenizer(const Config& c) {
    auto tokenizer = std::make_unique<data::Tokenizer>(data::Tokenizer::load(tokenizer_path(c)));
    NYX_CHECK(c.tokenizer_fingerprint.empty() || tokenizer->fingerprint() == c.tokenizer_fingerprint, tokenizer_path(c),
              " is not the tokenizer this run was trained with: its fingerprint is ", tokenizer->fingerprint(), ", config.json's ",
              c.tokenizer_fingerprint, "; restore the run's tokenizer.model");
    return tokenizer;
}

// A new fine-tuning run takes its model's shape and attention, and its tokenizer, from the pretrain
// run it starts from.
void take_pretrained_shape(Config& c) {
    const std::string config = c.from + "/config.json";
    check_usage(fs::is_directory(c.from) && fs::exists(config), "--from ", c.from, " is not a nyx-train run directory (no config.json)");
    const Config pre = read_config(config);
    check_usage(pre.task == "pretrain", "--from ", c.from, " is a ", pre.task, " run; finetune starts from a pretrain run");
    c.attn = pre.attn, c.landmarks = pre.landmarks, c.pinv_iters = pre.pinv_iters, c.pinv_start = pre.pinv_start, c.conv = pre.conv;
    c.projected_length = pre.projected_length, c.sharing = pre.sharing, c.features = pre.features, c.redraw_interval = pre.redraw_interval;
    c.dim = pre.dim, c.heads = pre.heads, c.head_dim = pre.head_dim, c.hidden = pre.hidden, c.layers = pre.layers;
    if (c.tokenizer.empty()) c.tokenizer = c.from + "/" + tokenizer_file;
    const data::Tokenizer tokenizer = data::Tokenizer::load(c.tokenizer);
    check_usage(tokenizer.fingerprint() == pre.tokenizer_fingerprint, "--tokenizer ", c.tokenizer, " (fingerprint ", tokenizer.fingerprint(),
                ") is not the tokenizer ", c.from, " was pretrained with (", pre.tokenizer_fingerprint, "); leave --tokenizer out to use that one");
}

// Copies the pretrain run's weights into the classifier by name, and says which were loaded and
// which were made afresh. Positions past the pretrained ones repeat them (as Longformer extended
// RoBERTa's 512 positions: Beltagy et al. 2020), fewer take the first ones; a tensor of another
// shape (Linformer's projections of another length) is made afresh.
std::string load_pretrained(models::EncoderClassifier& model, const std::string& run) {
    std::string path = run + "/best.safetensors";
    if (!fs::exists(path)) path = run + "/latest.safetensors";
    check_usage(fs::exists(path), run, " holds no best.safetensors or latest.safetensors yet: pretrain it first");
    const io::Safetensors file = io::load_safetensors(path);
    std::vector<std::string> loaded, fresh, stretched;
    NoGradGuard no_grad;
    for (const auto& [name, parameter] : model.named_parameters()) {
        auto it = file.tensors.find(name);
        if (it == file.tensors.end()) it = file.tensors.find("model/" + name);  // a training state's
        const Tensor* source = it == file.tensors.end() ? nullptr : &it->second;
        Tensor target = parameter;
        if (source && source->shape() == target.shape()) {
            target.copy_(*source);
            loaded.push_back(name);
        } else if (source && name == "position_embedding.weight" && source->dim() == 2 && source->size(1) == target.size(1)) {
            const std::int64_t have = source->size(0), want = target.size(0);
            for (std::int64_t at = 0; at < want; at += have) target.narrow(0, at, std::min(have, want - at)).copy_(source->narrow(0, 0, std::min(have, want - at)));
            stretched.push_back(have < want ? detail::cat(name, " (", have, " pretrained positions repeated to ", want, ")")
                                            : detail::cat(name, " (the first ", want, " of ", have, " pretrained positions)"));
        } else {
            fresh.push_back(name);
        }
    }
    check_usage(!loaded.empty(), path, " holds none of the classifier's weights by name; is it a pretrain run's checkpoint?");
    std::string text = detail::cat("from ", path, ": ", loaded.size(), " tensors loaded by name");
    for (const std::string& s : stretched) text += ", " + s;
    text += "; made afresh:";
    for (const std::string& f : fresh) text += " " + f;
    return text;
}

// A classification task: the model and the data nyx-train had before pretraining, or fine-tuning's.
class Classification : public Objective {
  public:
    Classification(Config& c, Generator& generator) : config_(&c) {
        const bool started = c.max_positions > 0;  // a resumed run: its config.json set it
        if (c.task == "finetune") {
            if (!started && !c.from.empty()) take_pretrained_shape(c);
            tokenizer_ = load_tokenizer(c);
        }
        splits_ = load_data(c);
        if (tokenizer_) c.tokenizer_fingerprint = tokenizer_->fingerprint();
        const std::int64_t longest = std::max({splits_.train.max_length(), splits_.val.max_length(), splits_.test.max_length()});
        NYX_CHECK(c.pad_to == 0 || c.pad_to >= longest, "--pad-to ", c.pad_to, " is shorter than the longest sequence of the data (",
                  longest, " positions); ",
                  started ? "the data no longer fits the run: restore the run's data, or start a new run"
                          : detail::cat("give --pad-to ", longest, " or more, or 0 to pad each batch to its longest"));
        const std::int64_t positions = c.pad_to > 0 ? c.pad_to : longest;
        NYX_CHECK(!started || (c.max_positions == positions && c.classes == splits_.train.classes), c.run_dir,
                  ": the data no longer matches the run (", positions, " positions and ", splits_.train.classes, " classes, the run has ",
                  c.max_positions, " and ", c.classes, ")");
        c.max_positions = positions, c.classes = splits_.train.classes;
        train_counts_ = splits_.train.class_counts();
        // The cap comes after the positions, which a resume with another --eval-size must not change.
        val_before_cap_ = splits_.val.size(), test_before_cap_ = splits_.test.size();
        splits_.val = evenly_spread(std::move(splits_.val), c.eval_size), splits_.test = evenly_spread(std::move(splits_.test), c.eval_size);
        validate(c);  // the limits that depend on the data, before step 1: a run past them could never be resumed or evaluated
        model_config_ = model_config(c, splits_.train);
        model_ = std::make_unique<models::EncoderClassifier>(model_config_.encoder, model_config_.classes, generator);
        if (c.task == "finetune" && !started)
            loading_ = c.from.empty() ? "trained from scratch: every weight made afresh" : load_pretrained(*model_, c.from);
    }
    // A model and data already made (nyx-train eval): every split capped at eval_size.
    Classification(Splits splits, std::shared_ptr<models::EncoderClassifier> model, std::int64_t eval_size)
        : config_(nullptr), splits_(std::move(splits)), shared_(std::move(model)) {
        val_before_cap_ = splits_.val.size(), test_before_cap_ = splits_.test.size(), train_before_cap_ = splits_.train.size();
        train_counts_ = splits_.train.class_counts();  // the majority class of the whole training split
        for (data::SequenceDataset* d : {&splits_.train, &splits_.val, &splits_.test}) *d = evenly_spread(std::move(*d), eval_size);
        model_config_ = {shared_->config(), shared_->classes(), splits_.train.class_names};
    }

    nn::Module& model() override { return classifier(); }
    std::string model_json() const override { return models::to_json(model_config_); }
    const data::Dataset& split(const std::string& name) const override { return split_of(splits_, name); }
    std::int64_t split_size_before_cap(const std::string& name) const override {
        return name == "val" ? val_before_cap_ : name == "test"  ? test_before_cap_
                                             : train_before_cap_ ? train_before_cap_
                                                                 : splits_.train.size();
    }
    // Training pads to --pad-to; evaluation to each batch's longest, as it always has.
    data::LoaderOptions loader_options(bool training) const override {
        return {.collate = data::pad_sequences({.pad_to = training ? pad_to() : 0})};
    }
    std::int64_t positions() const override { return model_config_.encoder.max_len * (model_config_.encoder.dual_encoder ? 2 : 1); }

    Output forward(const data::Batch& batch) override {
        const Tensor logits = classifier()(batch.inputs, batch.mask);
        const Tensor loss = ops::cross_entropy(logits, batch.targets);
        const auto examples = static_cast<double>(batch.targets.numel());
        // A training step's loss is its batch's mean (times the batch, exactly); an evaluation sums
        // the examples' losses, as it always has (the same figures to the last bit).
        const double loss_sum = classifier().is_training()
                                    ? static_cast<double>(loss.item<float>()) * examples
                                    : ops::cross_entropy(logits, batch.targets, {.reduction = ops::Reduction::sum}).item<float>();
        return {loss, {loss_sum, static_cast<double>(hits(logits, batch.targets)), examples}};
    }
    std::size_t sums_size() const override { return 3; }
    Figures figures(std::span<const double> s) const override {
        const double n = std::max(s[2], 1.0);
        return {{"loss", s[0] / n}, {"accuracy", s[1] / n}};
    }
    double uniform_loss() const override { return std::log(static_cast<double>(std::max<std::int64_t>(model_config_.classes, 2))); }
    std::string uniform_loss_text() const override { return detail::cat("ln ", model_config_.classes); }
    std::string describe() const override {
        return detail::cat(sizes_text(*this, *config_), ", up to ", positions(), " positions, ", model_config_.classes, " classes");
    }
    std::string details() const override {
        std::string text = model_config_.classes <= 12 ? "class balance of the test split: " + class_balance(splits_.test) : "";
        return loading_.empty() ? text : text + "\n" + loading_;
    }
    std::vector<std::pair<std::string, std::string>> run_files() const override {
        if (!tokenizer_) return {};
        return {{tokenizer_file, tokenizer_->bytes()}};
    }
    std::string baseline(const std::string& name) const override {
        const data::SequenceDataset& d = split_of(splits_, name);
        const std::vector<std::int64_t>& counts = train_counts_;
        const auto majority = static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
        char text[64];
        std::snprintf(text, sizeof text, "majority-class baseline %.2f%%",
                      100.0 * static_cast<double>(d.class_counts()[majority]) / static_cast<double>(std::max<std::int64_t>(d.size(), 1)));
        return text;
    }

  private:
    models::EncoderClassifier& classifier() const { return model_ ? *model_ : *shared_; }
    std::int64_t pad_to() const { return config_ ? config_->pad_to : 0; }

    Config* config_;
    Splits splits_;
    std::int64_t val_before_cap_ = 0, test_before_cap_ = 0, train_before_cap_ = 0;
    std::vector<std::int64_t> train_counts_;  // per class, of the uncapped training split
    models::ClassifierConfig model_config_;
    std::unique_ptr<models::EncoderClassifier> model_;
    std::shared_ptr<models::EncoderClassifier> shared_;
    std::unique_ptr<data::Tokenizer> tokenizer_;  // fine-tuning's
    std::string loading_;  // what a new fine-tuning run loaded
};

// Pretraining: a masked language model on sentence-order pairs of the corpus (data/pretraining.hpp),
// its tokenizer in the run directory.
class Pretraining : public Objective {
  public:
    Pretraining(Config& c, Generator& generator) {
        tokenizer_ = load_tokenizer(c);
        const bool started = !c.tokenizer_fingerprint.empty();  // a resumed run: its config.json set it
        c.tokenizer_fingerprint = tokenizer_->fingerprint();
        const data::DocumentSplits corpus = data::read_corpus(corpus_options(c.data_dir));
        const std::uint64_t seed = derived_seed(c.seed, Stream::data);
        const std::array<const std::vector<data::Document>*, 3> documents = {&corpus.train, &corpus.val, &corpus.test};
        const std::array<std::int64_t, 3> sizes = {c.train_size, c.eval_size > 0 ? std::min(c.val_size, c.eval_size) : c.val_size,
                                                   c.eval_size > 0 ? std::min(c.test_size, c.eval_size) : c.test_size};
        for (std::size_t k = 0; k < 3; ++k) {
            tokens_[k] = data::tokenize(*documents[k], *tokenizer_);
            pairs_[k] = std::make_unique<data::SentenceOrderDataset>(
                tokens_[k], data::SentenceOrderOptions{.length = c.max_len, .size = sizes[k], .seed = mix_seed(seed, k)});
        }
        c.max_positions = c.max_len, c.classes = 2;
        validate(c);
        encoder_ = {.vocab = tokenizer_->vocab_size(), .max_len = c.max_len, .dim = c.dim, .heads = c.heads, .head_dim = c.head_dim, .hidden = c.hidden, .layers = c.layers, .dropout = c.dropout, .attention = attention_options(c), .segments = 2};
        model_ = std::make_unique<models::MaskedLM>(encoder_, generator);
        config_ = &c;
        if (!c.init.empty() && !started) {  // every weight, by name, from the file
            nn::load_weights(c.init, *model_);
            init_ = detail::cat("initial weights from ", c.init, " (", model_->named_parameters().size(), " tensors)");
        }
    }

    nn::Module& model() override { return *model_; }
    std::string model_json() const override { return models::to_json(encoder_); }
    const data::Dataset& split(const std::string& name) const override { return *pairs_[index(name)]; }
    std::int64_t split_size_before_cap(const std::string& name) const override {
        return name == "val" ? config_->val_size : name == "test" ? config_->test_size
                                                                  : config_->train_size;
    }
    data::LoaderOptions loader_options(bool) const override {
        return {.collate = data::sentence_pairs(), .augment = data::masking({.vocab_size = tokenizer_->vocab_size()})};
    }
    std::int64_t positions() const override { return encoder_.max_len; }

    // In a data-parallel job each rank's loss is the mean over its own masked tokens, and the ranks'
    // gradients are averaged (as PyTorch's DistributedDataParallel does); the logged figures weigh
    // every token of the whole batch alike.
    Output forward(const data::Batch& batch) override {
        const models::MaskedPositions masked = models::masked_positions(batch.extra.at("mlm_labels"));
        const auto out = (*model_)(batch.inputs, batch.mask, batch.extra.at("segments"), masked.positions);
        const models::PretrainingLoss l = models::pretraining_loss(out, masked.targets, batch.targets);
        return {l.loss,
                {static_cast<double>(l.mlm_loss.item<float>()) * static_cast<double>(l.mlm_count), static_cast<double>(l.mlm_correct),
                 static_cast<double>(l.mlm_count), static_cast<double>(l.sop_loss.item<float>()) * static_cast<double>(l.sop_count),
                 static_cast<double>(l.sop_correct), static_cast<double>(l.sop_count)}};
    }
    std::size_t sums_size() const override { return 6; }
    Figures figures(std::span<const double> s) const override {
        const double tokens = std::max(s[2], 1.0), pairs = std::max(s[5], 1.0);
        return {{"loss", s[0] / tokens + s[3] / pairs}, {"accuracy", s[1] / tokens}, {"mlm_loss", s[0] / tokens}, {"sop_loss", s[3] / pairs}, {"sop_accuracy", s[4] / pairs}};
    }
    double uniform_loss() const override { return std::log(static_cast<double>(encoder_.vocab)) + std::log(2.0); }
    std::string uniform_loss_text() const override { return detail::cat("(ln ", encoder_.vocab, " + ln 2)"); }
    std::string describe() const override {
        return detail::cat(sizes_text(*this, *config_), " (sentence-order pairs of up to ", encoder_.max_len, " tokens, masked afresh each batch)");
    }
    std::string details() const override {
        return detail::cat("corpus: ", tokens_[0].tokens, " train / ", tokens_[1].tokens, " val / ", tokens_[2].tokens, " test tokens (",
                           tokens_[0].documents.size(), " / ", tokens_[1].documents.size(), " / ", tokens_[2].documents.size(),
                           " documents); tokenizer ", tokenizer_->vocab_size(), " ids, fingerprint ", tokenizer_->fingerprint(),
                           "\naccuracy is the masked tokens' (MLM), sop_accuracy the sentence order's", init_.empty() ? "" : "\n" + init_);
    }
    std::string baseline(const std::string&) const override { return "sentence-order chance 50.00%"; }
    std::vector<std::pair<std::string, std::string>> run_files() const override { return {{tokenizer_file, tokenizer_->bytes()}}; }

  private:
    static std::size_t index(const std::string& name) { return name == "val" ? 1 : name == "test" ? 2
                                                                                                  : 0; }

    const Config* config_ = nullptr;
    std::unique_ptr<data::Tokenizer> tokenizer_;
    std::array<data::TokenizedCorpus, 3> tokens_;
    std::array<std::unique_ptr<data::SentenceOrderDataset>, 3> pairs_;
    models::EncoderConfig encoder_;
    std::unique_ptr<models::MaskedLM> model_;
    std::string init_;  // where a new run's weights came from, when not from its seed
};

}  // namespace

std::unique_ptr<Objective> make_objective(Config& config, Generator& generator) {
    if (config.task == "pretrain") return std::make_unique<Pretraining>(config, generator);
    return std::make_unique<Classification>(config, generator);
}

std::unique_ptr<Objective> classification_of(Splits splits, std::shared_ptr<models::EncoderClassifier> model, std::int64_t eval_size) {
    return std::make_unique<Classification>(std::move(splits), std::move(model), eval_size);
}

}  // namespace nyx::train
