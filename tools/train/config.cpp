#include "config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include <nyx/models/json_text.hpp>

namespace nyx::train {
namespace {

// Visits every (key, field) pair: one list for writing, reading and the CLI's names.
template <class C, class F>
void for_each_field(C& c, F&& f) {
    f("task", c.task), f("preset", c.preset), f("attn", c.attn), f("landmarks", c.landmarks), f("pinv_iters", c.pinv_iters),
        f("pinv_start", c.pinv_start), f("conv", c.conv), f("projected_length", c.projected_length), f("sharing", c.sharing),
        f("features", c.features), f("redraw_interval", c.redraw_interval), f("dim", c.dim), f("heads", c.heads), f("head_dim", c.head_dim),
        f("hidden", c.hidden), f("layers", c.layers), f("dropout", c.dropout), f("batch", c.batch), f("warmup", c.warmup),
        f("steps", c.steps), f("lr", c.lr), f("weight_decay", c.weight_decay), f("clip", c.clip), f("schedule", c.schedule),
        f("precision", c.precision), f("seed", c.seed), f("threads", c.threads), f("eval_every", c.eval_every), f("log_every", c.log_every), f("eval_size", c.eval_size), f("bucket", c.bucket), f("pad_to", c.pad_to),
        f("run_dir", c.run_dir), f("min_len", c.min_len), f("max_len", c.max_len), f("train_size", c.train_size),
        f("val_size", c.val_size), f("test_size", c.test_size), f("patch", c.patch), f("data_dir", c.data_dir),
        f("train_file", c.train_file), f("val_file", c.val_file), f("test_file", c.test_file), f("folders", c.folders), f("tokenizer", c.tokenizer),
        f("tokenizer_fingerprint", c.tokenizer_fingerprint), f("from", c.from), f("init", c.init), f("max_positions", c.max_positions), f("classes", c.classes);
}

// Holds the examples in a seeded random order (before a validation split is taken off the end).
void shuffle(data::SequenceDataset& d, std::uint64_t seed) {
    Generator generator(seed);
    const std::vector<std::int64_t> order = randperm(d.size(), generator);
    std::vector<data::Sequence> shuffled;
    shuffled.reserve(d.examples.size());
    for (const std::int64_t i : order) shuffled.push_back(std::move(d.examples[static_cast<std::size_t>(i)]));
    d.examples = std::move(shuffled);
}

// "--flag must RULE, got VALUE".
template <class T>
void check(bool ok, const char* flag, const T& value, const char* rule) {
    NYX_CHECK(ok, "--", flag, " must ", rule, ", got ", value);
}

// Absolute and normal, without a trailing '/' (runs/r1/ and ./runs/r1 are runs/r1).
std::string absolute(const std::string& path) {
    if (path.empty()) return path;
    std::filesystem::path normal = std::filesystem::absolute(path).lexically_normal();
    if (!normal.has_filename() && normal.has_relative_path()) normal = normal.parent_path();
    return normal.string();
}

}  // namespace

Config defaults(const std::string& task, const std::string& preset) {
    Config c;
    c.task = task;
    c.preset = preset;
    if (task == "listops" && preset == "demo") {
        // Short sequences and a short run: about two minutes on two cores.
        c.min_len = 50, c.max_len = 200, c.train_size = 20000, c.val_size = 1000, c.test_size = 1000;
        c.steps = 3000, c.warmup = 200, c.lr = 1e-3, c.batch = 32, c.eval_every = 250, c.landmarks = 16, c.conv = 15;
        c.dropout = 0;
    } else if (task == "fashion-mnist") {
        c.min_len = 0, c.max_len = 784, c.train_size = 0, c.val_size = 5000, c.test_size = 0;
        c.steps = 6000, c.warmup = 300, c.lr = 1e-3, c.batch = 32, c.eval_every = 1000, c.landmarks = 64, c.conv = 35;
        c.dropout = 0.1, c.schedule = "cosine";
    } else if (task == "pathfinder") {
        const data::PathfinderOptions lra;
        c.min_len = 0, c.max_len = lra.side * lra.side, c.train_size = lra.train_size, c.val_size = lra.val_size, c.test_size = lra.test_size;
        c.steps = 5000, c.warmup = 300, c.lr = 1e-3, c.eval_every = 500, c.schedule = "cosine";
    } else if (task == "text" || task == "retrieval") {
        // Passages of the LRA's lengths (4,096 bytes; a pair: two of them) from linux-doc-6.1.
        const data::DocumentTreeOptions tree;
        c.min_len = 0, c.max_len = tree.length, c.train_size = tree.train_size, c.val_size = 1000, c.test_size = tree.test_size;
        c.data_dir = tree.root;
        for (const std::string& folder : tree.classes) c.folders += (c.folders.empty() ? "" : ",") + folder;
        c.steps = 5000, c.warmup = 500, c.lr = 5e-4, c.eval_every = 500;
    } else if (task == "finetune") {
        // Passages of 1,024 tokens of linux-doc, classified by folder (docs/pretraining.md).
        const data::DocumentTreeOptions tree;
        c.min_len = 0, c.max_len = 1024, c.train_size = tree.train_size, c.val_size = 1000, c.test_size = tree.test_size, c.data_dir = "";
        for (const std::string& folder : tree.classes) c.folders += (c.folders.empty() ? "" : ",") + folder;
        c.dim = 256, c.heads = 4, c.head_dim = 64, c.hidden = 1024, c.layers = 4, c.dropout = 0.1;
        c.steps = 2000, c.warmup = 200, c.lr = 1e-4, c.weight_decay = 0.01, c.batch = 16, c.eval_every = 250;
        c.landmarks = 64, c.conv = 35, c.schedule = "linear";
    } else if (task == "pretrain") {
        // BERT-small's shape at n = 512 (docs/pretraining.md): a few hours on two cores.
        c.min_len = 0, c.max_len = 512, c.train_size = 1'000'000, c.val_size = 2000, c.test_size = 2000, c.data_dir = "";
        c.dim = 256, c.heads = 4, c.head_dim = 64, c.hidden = 1024, c.layers = 4, c.dropout = 0.1;
        c.steps = 20000, c.warmup = 1000, c.lr = 5e-4, c.weight_decay = 0.01, c.batch = 32, c.eval_every = 1000, c.bucket = 0;
        c.landmarks = 64, c.conv = 35, c.schedule = "linear";
    }
    return c;
}

nlohmann::ordered_json to_json(const Config& config) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for_each_field(config, [&](const char* key, const auto& value) { j[key] = value; });
    return j;
}

nlohmann::ordered_json to_json(const Config& config, const std::string& model_json) {
    nlohmann::ordered_json j = to_json(config);
    j["model"] = nlohmann::ordered_json::parse(model_json);
    return j;
}

Config from_json(const nlohmann::ordered_json& j, const std::string& source) {
    NYX_CHECK(j.is_object(), source, ": the configuration must be a JSON object");
    Config c;
    std::size_t known = 0;
    if (const auto model = j.find("model"); model != j.end()) {  // models::load_run's, read there
        NYX_CHECK(model->is_object(), source, ": \"model\" must be a JSON object, got ", model->type_name());
        ++known;
    }
    for_each_field(c, [&](const char* key, auto& value) {
        using T = std::decay_t<decltype(value)>;
        const auto it = j.find(key);
        // Runs from before --precision (f32), --eval-size (no cap), the Linformer and Performer
        // options and the document tasks lack those keys.
        static constexpr std::string_view added_later[] = {"precision", "eval_size", "projected_length", "sharing", "features",
                                                           "redraw_interval", "folders", "tokenizer", "tokenizer_fingerprint", "from", "init"};
        if (it == j.end() && std::find(std::begin(added_later), std::end(added_later), key) != std::end(added_later)) return;
        NYX_CHECK(it != j.end(), source, ": the configuration has no \"", key, "\"");
        const bool fits = std::is_same_v<T, std::string> ? it->is_string()
                          : std::is_same_v<T, double>    ? it->is_number()
                          : std::is_unsigned_v<T>        ? it->is_number_unsigned()
                                                         : it->is_number_integer() &&  // and within int64 (no silent wrap)
                                                               !(it->is_number_unsigned() &&
                                                                 it->template get<std::uint64_t>() > std::uint64_t{INT64_MAX});
        NYX_CHECK(fits, source, ": \"", key, "\" has the wrong type or does not fit (", it->type_name(), " ", it->dump().substr(0, 40), ")");
        value = it->template get<T>();
        ++known;
    });
    if (known != j.size())
        for (const auto& item : j.items()) {
            const std::string& key = item.key();
            bool listed = key == "model";
            for_each_field(c, [&](const char* k, const auto&) { listed = listed || key == k; });
            NYX_CHECK(listed, source, ": unknown key \"", key.substr(0, 40), "\"");
        }
    return c;
}

Config parse_config(std::string_view text, const std::string& source) {
    Config c = from_json(models::parse_json_text(text, source), source);
    validate(c);
    return c;
}

Config read_config(const std::string& path) { return parse_config(io::read_text_file(path), path); }

void validate(const Config& c) {
    check(c.task == "listops" || c.task == "pathfinder" || c.task == "fashion-mnist" || c.task == "text" || c.task == "retrieval" ||
              c.task == "pretrain" || c.task == "finetune",
          "task", c.task, "be listops, pathfinder, fashion-mnist, text, retrieval, pretrain or finetune");
    check(c.preset == "demo" || c.preset == "lra", "preset", c.preset, "be demo or lra");
    check(c.attn == "nystrom" || c.attn == "softmax" || c.attn == "linformer" || c.attn == "performer", "attn", c.attn,
          "be nystrom, softmax, linformer or performer");
    check(c.sharing == "none" || c.sharing == "headwise" || c.sharing == "key-value" || c.sharing == "layerwise", "sharing", c.sharing,
          "be none, headwise, key-value or layerwise");
    check(c.projected_length >= 1, "projected-length", c.projected_length, "be at least 1");
    check(c.features >= 1, "features", c.features, "be at least 1");
    check(c.redraw_interval >= 0, "redraw-interval", c.redraw_interval, "be 0 (never) or more");
    check(c.pinv_start == "original" || c.pinv_start == "per-matrix", "pinv-start", c.pinv_start, "be original or per-matrix");
    check(c.schedule == "linear" || c.schedule == "cosine" || c.schedule == "constant", "schedule", c.schedule,
          "be linear, cosine or constant");
    check(c.precision == "f32" || c.precision == "bf16", "precision", c.precision, "be f32 or bf16");
    check(c.landmarks >= 1, "landmarks", c.landmarks, "be at least 1");
    check(c.pinv_iters >= 0 && c.pinv_iters <= 100, "pinv-iters", c.pinv_iters, "lie in 0..100");
    check(c.conv >= 0 && (c.conv == 0 || c.conv % 2 == 1), "conv", c.conv, "be 0 (off) or odd");
    for (const auto& [flag, value] : {std::pair{"dim", c.dim}, {"heads", c.heads}, {"head-dim", c.head_dim}, {"hidden", c.hidden}})
        check(value >= 1 && value <= 65536, flag, value, "lie in 1..65536");
    check(c.layers >= 0 && c.layers <= 256, "layers", c.layers, "lie in 0..256");
    check(c.dropout >= 0 && c.dropout < 1, "dropout", c.dropout, "lie in [0, 1)");
    check(c.batch >= 1 && c.batch <= 1 << 20, "batch", c.batch, "lie in 1..1048576");
    check(c.steps >= 1, "steps", c.steps, "be at least 1");
    check(c.warmup >= 0, "warmup", c.warmup, "not be negative");
    check(std::isfinite(c.lr) && c.lr > 0, "lr", c.lr, "be a positive number");
    check(std::isfinite(c.weight_decay) && c.weight_decay >= 0, "weight-decay", c.weight_decay, "be a number >= 0");
    check(std::isfinite(c.clip) && c.clip >= 0, "clip", c.clip, "be a number >= 0 (0: no clipping)");
    check(c.threads >= 0 && c.threads <= 4096, "threads", c.threads, "lie in 0..4096 (0: every core)");
    check(c.eval_every >= 1, "eval-every", c.eval_every, "be at least 1");
    check(c.log_every >= 1, "log-every", c.log_every, "be at least 1");
    check(c.eval_size >= 0 && c.eval_size <= 10'000'000, "eval-size", c.eval_size, "lie in 0..10000000 (0: every example)");
    check(c.bucket >= 0 && c.bucket <= 1 << 20, "bucket", c.bucket, "lie in 0..1048576 (0: off)");
    check(c.pad_to >= 0 && c.pad_to <= 65536, "pad-to", c.pad_to, "lie in 0..65536 (0: each batch's longest)");
    check(c.patch >= 0 && c.patch <= 28, "patch", c.patch, "lie in 0..28 (0: one token per pixel)");
    constexpr std::int64_t most = 10'000'000;
    check(c.train_size >= 0 && c.train_size <= most, "train-size", c.train_size, "lie in 0..10000000");
    check(c.val_size >= 0 && c.val_size <= most, "val-size", c.val_size, "lie in 0..10000000");
    check(c.test_size >= 0 && c.test_size <= most, "test-size", c.test_size, "lie in 0..10000000");
    check(c.min_len >= 0, "min-len", c.min_len, "not be negative");
    const bool listops_files = !c.train_file.empty() || !c.val_file.empty() || !c.test_file.empty();
    if (c.task == "listops" && !listops_files) {
        check(c.max_len > c.min_len + 1 && c.max_len <= 65536, "max-len", c.max_len,
              "exceed --min-len + 1 (lengths lie strictly between them) and be at most 65536");
        check(c.train_size >= 1, "train-size", c.train_size, "be at least 1");
        check(c.val_size >= 1, "val-size", c.val_size, "be at least 1");
        check(c.test_size >= 1, "test-size", c.test_size, "be at least 1");
    }
    if (c.task == "listops" && listops_files)
        NYX_CHECK(!c.train_file.empty() && !c.val_file.empty() && !c.test_file.empty(),
                  "--train-file, --val-file and --test-file go together (the LRA release's basic_train.tsv, basic_val.tsv, basic_test.tsv)");
    if (c.task == "text" && (!c.train_file.empty() || !c.test_file.empty())) {
        check(!c.train_file.empty(), "train-file", "nothing", "name a TSV file (label<TAB>text per line), as --test-file does");
        check(!c.test_file.empty(), "test-file", "nothing", "name a TSV file (label<TAB>text per line), as --train-file does");
    }
    if (c.task == "text" || c.task == "retrieval")
        check(c.max_len >= 1 && c.max_len <= (c.task == "text" ? 65536 : 32768), "max-len", c.max_len,
              c.task == "text" ? "lie in 1..65536 (bytes)" : "lie in 1..32768 (bytes of each passage of a pair)");
    if (c.task == "retrieval") check(c.pad_to == 0, "pad-to", c.pad_to, "be 0 for retrieval (the dual encoder splits each pair at its middle)");
    if (c.task == "finetune") {
        NYX_CHECK(!c.from.empty() || !c.tokenizer.empty() || !c.tokenizer_fingerprint.empty(),
                  "finetune needs --from RUN (a pretrain run), or --tokenizer FILE for the baseline trained from scratch");
        check(c.max_len >= 3 && c.max_len <= 65536, "max-len", c.max_len, "lie in 3..65536 (tokens of a passage, [CLS] and [SEP] included)");
        check(c.train_size >= 1 && c.val_size >= 1 && c.test_size >= 1, "train-size", c.train_size, "be at least 1, as --val-size and --test-size");
    }
    if (c.task == "pretrain") {
        NYX_CHECK(!c.tokenizer.empty() || !c.tokenizer_fingerprint.empty(),
                  "--tokenizer must name a SentencePiece model that nyx-train tokenizer trained (pretraining needs one)");
        check(c.max_len >= 5 && c.max_len <= 65536, "max-len", c.max_len, "lie in 5..65536 (tokens of a sentence-order pair)");
        check(c.bucket == 0, "bucket", c.bucket, "be 0 for pretrain (its pairs are drawn afresh and have no lengths to sort)");
        check(c.pad_to == 0, "pad-to", c.pad_to, "be 0 for pretrain");
        check(c.train_size >= 1 && c.val_size >= 1 && c.test_size >= 1, "train-size", c.train_size, "be at least 1, as --val-size and --test-size");
    }
    if (c.task == "pathfinder" || (c.task == "text" && c.train_file.empty()) || c.task == "retrieval") {
        check(c.train_size >= 1, "train-size", c.train_size, "be at least 1");
        check(c.val_size >= 1, "val-size", c.val_size, "be at least 1");
        check(c.test_size >= 1, "test-size", c.test_size, "be at least 1");
    }
    NYX_CHECK(c.max_positions >= 0 && c.max_positions <= position_limit && c.classes >= 0 && c.classes <= class_limit,
              "the configuration's max_positions (", c.max_positions, ") and classes (", c.classes, ") must lie in 0..", class_limit);
}

std::string key_of(std::string_view flag) {
    std::string key(flag.substr(flag.find_first_not_of('-')));
    std::replace(key.begin(), key.end(), '-', '_');
    return key;
}

bool may_change_on_resume(std::string_view key) {
    return std::find(resumable_keys.begin(), resumable_keys.end(), key) != resumable_keys.end();
}

std::string resume_changes() {
    std::string text = "only";
    for (std::size_t i = 0; i < resumable_keys.size(); ++i) {
        std::string flag = "--" + std::string(resumable_keys[i]);
        std::replace(flag.begin(), flag.end(), '_', '-');
        text += (i == 0 ? " " : i + 1 == resumable_keys.size() ? " and " : ", ") + flag;
    }
    return text + " can change on resume";
}

std::string value_text(const nlohmann::ordered_json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

std::optional<Difference> first_difference(const Config& first, const Config& second) {
    const nlohmann::ordered_json a = to_json(first), b = to_json(second);
    for (const auto& [key, value] : a.items())
        if (!may_change_on_resume(key) && key != "run_dir" && value != b[key]) return Difference{key, value_text(value), value_text(b[key])};
    return std::nullopt;
}

std::uint64_t derived_seed(std::uint64_t seed, Stream stream) {
    if (stream == Stream::data) return seed;  // the data of seed s is the generator's own stream s
    return mix_seed(seed, static_cast<std::uint64_t>(stream));
}

Config resolve_paths(Config c) {
    c.train_file = absolute(c.train_file), c.val_file = absolute(c.val_file), c.test_file = absolute(c.test_file), c.tokenizer = absolute(c.tokenizer);
    c.from = absolute(c.from), c.init = absolute(c.init);
    c.data_dir = absolute(c.data_dir);
    if (!c.run_dir.empty()) c.run_dir = absolute(c.run_dir);
    return c;
}

data::CorpusOptions corpus_options(const std::string& data_dir) {
    if (data_dir.empty()) return {};
    return {.sources = {{"docs", data_dir, "", data::CorpusSource::Format::rst}}};
}

std::string tokenizer_path(const Config& c) { return c.tokenizer_fingerprint.empty() ? c.tokenizer : c.run_dir + "/tokenizer.model"; }

namespace {

// The folders of a comma-separated list.
std::vector<std::string> folder_list(const std::string& folders) {
    std::vector<std::string> list;
    for (std::size_t start = 0; start <= folders.size();) {
        const std::size_t end = std::min(folders.find(',', start), folders.size());
        list.push_back(folders.substr(start, end - start));
        start = end + 1;
    }
    return list;
}

// Fine-tuning's task: passages of the corpus's linux-doc documents in the tokenizer's ids, labelled
// by folder, each split from the corpus's split of the same name (so no test document was in the
// pretraining's training text).
Splits finetune_data(const Config& c) {
    const data::Tokenizer tokenizer = data::Tokenizer::load(tokenizer_path(c));
    const std::vector<std::string> classes = folder_list(c.folders);
    const data::CorpusOptions options = corpus_options(c.data_dir);
    const data::DocumentSplits corpus = data::read_corpus(options);
    const std::string source = options.sources.front().name;  // linux-doc, whose folders are the classes
    std::array<std::vector<data::LabelledTokens>, 3> documents;
    std::size_t k = 0;
    for (const auto* split : {&corpus.train, &corpus.val, &corpus.test}) {
        std::vector<data::Document> taken;
        std::vector<std::int64_t> labels;
        for (const data::Document& d : *split)
            for (std::size_t label = 0; label < classes.size(); ++label)
                if (d.path.starts_with(source + "/" + classes[label] + "/")) taken.push_back(d), labels.push_back(static_cast<std::int64_t>(label));
        data::TokenizedCorpus tokens = data::tokenize(taken, tokenizer);
        for (std::size_t i = 0; i < taken.size(); ++i) documents[k].push_back({std::move(tokens.documents[i].tokens), labels[i]});
        ++k;
    }
    const auto id = [](std::int32_t i) { return std::vector<std::uint16_t>{static_cast<std::uint16_t>(i)}; };
    data::DocumentTaskSplits s = data::generate_token_text(
        documents, {.classes = classes, .vocab = tokenizer.vocab_size(), .length = c.max_len - 2, .train_size = c.train_size,
                    .val_size = c.val_size, .test_size = c.test_size, .seed = derived_seed(c.seed, Stream::data),
                    .before = id(data::Tokenizer::cls_id), .after = id(data::Tokenizer::sep_id), .name = "finetune"});
    return {std::move(s.train), std::move(s.val), std::move(s.test)};
}

}  // namespace

Splits load_data(const Config& c) {
    if (c.task == "finetune") return finetune_data(c);
    if (c.task == "listops" && !c.train_file.empty()) {
        data::SequenceDataset train = data::read_listops_tsv(c.train_file), val = data::read_listops_tsv(c.val_file),
                      test = data::read_listops_tsv(c.test_file);
        return {std::move(train), std::move(val), std::move(test)};
    }
    if (c.task == "listops") {
        data::ListOpsSplits s = data::generate_listops({.min_length = c.min_len, .max_length = c.max_len, .train_size = c.train_size,
                                                         .val_size = c.val_size, .test_size = c.test_size,
                                                         .seed = derived_seed(c.seed, Stream::data)});
        return {std::move(s.train), std::move(s.val), std::move(s.test)};
    }
    if (c.task == "pathfinder") {
        data::PathfinderSplits s = data::generate_pathfinder(
            {.train_size = c.train_size, .val_size = c.val_size, .test_size = c.test_size, .seed = derived_seed(c.seed, Stream::data)});
        return {std::move(s.train), std::move(s.val), std::move(s.test)};
    }
    if (c.task == "retrieval" || (c.task == "text" && c.train_file.empty())) {
        const data::DocumentTreeOptions tree{.root = c.data_dir, .classes = folder_list(c.folders), .length = c.max_len, .train_size = c.train_size,
                                             .val_size = c.val_size, .test_size = c.test_size, .seed = derived_seed(c.seed, Stream::data)};
        data::DocumentTaskSplits s = c.task == "text" ? data::generate_document_text(tree) : data::generate_document_retrieval(tree);
        return {std::move(s.train), std::move(s.val), std::move(s.test)};
    }
    data::SequenceDataset train, test;
    if (c.task == "fashion-mnist") {
        data::ImageSplits s = data::load_fashion_mnist({.folder = c.data_dir, .patch = c.patch});
        train = std::move(s.train), test = std::move(s.test);
    } else {
        train = data::read_text_tsv(c.train_file, {.max_length = c.max_len, .classes = {}, .max_classes = class_limit});
        test = data::read_text_tsv(c.test_file, {.max_length = c.max_len, .classes = train.class_names});
    }
    NYX_CHECK(c.val_size >= 1 && c.val_size < train.size(), "--val-size must lie in 1..", train.size() - 1, " (held out of the ",
              train.size(), " training examples), got ", c.val_size);
    shuffle(train, derived_seed(c.seed, Stream::data));
    data::SequenceDataset val = train.split_off(c.val_size, train.name + " (validation)");
    return {std::move(train), std::move(val), std::move(test)};
}

nn::AttentionOptions attention_options(const Config& c) {
    nn::AttentionOptions attention = nn::SoftmaxOptions{};
    if (c.attn == "nystrom")
        attention = nn::NystromOptions{.landmarks = c.landmarks, .pinv_iterations = c.pinv_iters,
                                       .pinv_start = c.pinv_start == "original" ? nn::PinvStart::original : nn::PinvStart::per_matrix,
                                       .conv_kernel = c.conv};
    if (c.attn == "linformer") {
        const nn::LinformerSharing sharing = c.sharing == "none"        ? nn::LinformerSharing::none
                                             : c.sharing == "key-value" ? nn::LinformerSharing::key_value
                                             : c.sharing == "layerwise" ? nn::LinformerSharing::layerwise
                                                                        : nn::LinformerSharing::headwise;
        attention = nn::LinformerOptions{.projected_length = c.projected_length, .max_length = 0, .sharing = sharing};
    }
    if (c.attn == "performer") attention = nn::PerformerOptions{.features = c.features, .redraw_interval = c.redraw_interval};
    return attention;
}

models::ClassifierConfig model_config(const Config& c, const data::SequenceDataset& train) {
    const bool dual = c.task == "retrieval";  // pairs: LRA's dual encoder
    const models::EncoderConfig encoder{.vocab = train.vocab, .input_features = train.token_width > 1 ? train.token_width : 0,
                                        .max_len = dual ? c.max_positions / 2 : c.max_positions, .dim = c.dim, .heads = c.heads,
                                        .head_dim = c.head_dim, .hidden = c.hidden, .layers = c.layers, .dropout = c.dropout,
                                        .attention = attention_options(c), .dual_encoder = dual, .segments = c.task == "finetune" ? 2 : 0};
    return {encoder, c.classes, train.class_names};
}

}  // namespace nyx::train
