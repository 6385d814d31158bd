#pragma once
// A nyx-train run's configuration: every option, resolved, as RUN_DIR/config.json holds it and as
// each checkpoint's metadata repeats it (so a checkpoint alone can be evaluated). Beside the
// options, config.json holds the model they built, in the library's words ("model":
// models/config_json.hpp), which models::load_run reads.
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <nyx/nyx.hpp>

namespace nyx::train {

struct Config {
    std::string task = "listops";  // listops | pathfinder | fashion-mnist | text | retrieval | pretrain | finetune
    std::string preset = "demo";   // listops: demo (short sequences) | lra (the LRA specification)
    // The model (docs/nystrom.md's LRA encoder).
    std::string attn = "nystrom";  // nystrom | softmax | linformer | performer
    std::int64_t landmarks = 64, pinv_iters = 6, conv = 35;
    std::string pinv_start = "original";  // original | per-matrix
    std::int64_t projected_length = 256;  // Linformer's k
    std::string sharing = "headwise";     // Linformer's E and F: none | headwise | key-value | layerwise
    std::int64_t features = 256, redraw_interval = 1000;  // Performer's m, and its redraws (0 = never)
    std::int64_t dim = 64, heads = 2, head_dim = 32, hidden = 128, layers = 2;
    double dropout = 0.1;
    // Optimisation: AdamW (eps 1e-6), warm-up then a schedule, optional clipping.
    std::int64_t batch = 32, warmup = 1000, steps = 5000;
    double lr = 1e-4, weight_decay = 0, clip = 0;
    std::string schedule = "linear";  // linear | cosine | constant
    std::string precision = "f32";    // f32 | bf16: products in bf16 under nyx::AutocastGuard, the rest f32
    std::uint64_t seed = 0;
    std::int64_t threads = 0;  // 0: NYX_NUM_THREADS or every core
    std::int64_t eval_every = 500, log_every = 10;
    std::int64_t eval_size = 0;  // evaluate on at most this many examples of validation and of test (0: all)
    std::int64_t bucket = 50;  // batches of similar lengths from windows of this many batches (0: off)
    std::int64_t pad_to = 0;   // pad every batch to this length (0: to its longest sequence)
    std::string run_dir;
    // Data. ListOps: lengths strictly between min_len and max_len, split sizes; or the release's TSV
    // files (train_file, val_file, test_file). Pathfinder: split sizes. Images: patch (0 = pixels),
    // data_dir. Text: passages of max_len bytes from the folders of the tree in data_dir, split
    // sizes (data/documents.hpp); or TSV files (train_file, test_file), each text cut to max_len,
    // val_size held out of training. Retrieval: pairs of passages of max_len bytes each from the
    // same tree. Paths are stored absolute.
    std::int64_t min_len = 500, max_len = 2000, train_size = 96000, val_size = 2000, test_size = 2000;
    std::int64_t patch = 0;
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::string train_file, val_file, test_file;
    std::string folders;  // text, retrieval: the tree's folders that take part, comma-separated (each a class of text)
    // Pretraining (data/pretraining.hpp): the SentencePiece model it starts from (copied into the
    // run directory as tokenizer.model), and that model's fingerprint, set when the run starts.
    // max_len is the length of a sentence-order pair, train_size the pairs an epoch draws.
    std::string tokenizer, tokenizer_fingerprint;
    std::string init;  // pretraining: a weights file (safetensors, nyx's names) the new run starts from
    // Fine-tuning: the pretrain run whose weights the classifier starts from ("" for the baseline
    // trained from scratch), which also gives the model's shape and attention and the tokenizer.
    // The task classifies passages of max_len tokens of the corpus's first source (linux-doc) by
    // their folder (folders: the classes), split as the corpus is split. For both, data_dir ""
    // reads Debian's corpus, and a folder reads its own documents instead (corpus_options).
    std::string from;
    // Set from the data when the run starts.
    std::int64_t max_positions = 0, classes = 0;
};

// The defaults of a task and preset (nyx-train's flags override them).
Config defaults(const std::string& task, const std::string& preset);

// Every option's key in config.json, in the order of the struct; flags are the same with '-' for
// '_' (--head-dim).
nlohmann::ordered_json to_json(const Config& config);
// config.json: the options, then "model", the model they built as the library writes it
// (models::to_json), which models::load_run reads. Each checkpoint's metadata repeats it.
nlohmann::ordered_json to_json(const Config& config, const std::string& model_json);
// Strict: each key present and of its type, no unknown key; errors name `source` and the key. A
// "model" object is skipped (the library reads it); config.json from before it has none.
Config from_json(const nlohmann::ordered_json& json, const std::string& source);
// Strict: valid JSON without a NUL byte or a repeated key, then from_json and validate.
Config parse_config(std::string_view text, const std::string& source);
Config read_config(const std::string& path);

// Checks ranges and choices; the message names the flag (--landmarks must be ...).
void validate(const Config& config);

// The most classes, and positions, a run may have (config.json's limits).
inline constexpr std::int64_t class_limit = 65536, position_limit = 65536;

// The config.json key of a flag: "head_dim" for "--head-dim".
std::string key_of(std::string_view flag);
// The options that may change when a run is resumed (config.json keys); every other must equal the run's.
inline constexpr std::array<std::string_view, 5> resumable_keys = {"steps", "threads", "eval_every", "log_every", "eval_size"};
bool may_change_on_resume(std::string_view key);
// "only --steps, --threads, --eval-every, --log-every and --eval-size can change on resume", from resumable_keys.
std::string resume_changes();

// The first key, in config.json's order, whose values differ between the configurations of one
// run, with both values as text; none when they agree. The options that may change on resume are
// not compared, nor run_dir (a run directory may be moved).
struct Difference {
    std::string key, first, second;
};
std::optional<Difference> first_difference(const Config& first, const Config& second);
// A config.json value as text: strings without quotes, numbers as JSON writes them.
std::string value_text(const nlohmann::ordered_json& value);

// Independent random streams from one --seed: the data (generation, shuffling before a split), the
// model (initial weights, then dropout) and the loader's order. (Ranks other than 0 of a
// data-parallel job draw dropout from dist::rank_stream.)
enum class Stream : std::uint64_t { data = 0, model = 1, loader = 2 };
std::uint64_t derived_seed(std::uint64_t seed, Stream stream);

// The config with its file paths made absolute (so that eval and resume work from any folder).
Config resolve_paths(Config config);

struct Splits {
    data::SequenceDataset train, val, test;
};
// Generates or reads the task's data; deterministic for the config.
Splits load_data(const Config& config);

// The attention the options choose (--attn and its options).
nn::AttentionOptions attention_options(const Config& config);

// The corpus of pretrain, finetune and nyx-train tokenizer: Debian's (data::read_corpus) when
// `data_dir` is empty, else the reStructuredText documents under data_dir as one source, "docs".
data::CorpusOptions corpus_options(const std::string& data_dir);

// The tokenizer a pretrain or finetune run reads: its own copy once it has started (config.json
// holds its fingerprint), else --tokenizer.
std::string tokenizer_path(const Config& config);

// The model the options build for the data (`train`: its vocabulary, token width and class names),
// at the positions and classes the run set (max_positions, classes). Used when a run starts; after
// that config.json's "model" section says what the run's model is.
models::ClassifierConfig model_config(const Config& config, const data::SequenceDataset& train);

}  // namespace nyx::train
