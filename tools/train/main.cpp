// nyx-train: trains the LRA encoder (Nyström, softmax, Linformer or Performer attention) on ListOps, Fashion-MNIST or a
// text TSV file, with a progress bar, metrics, checkpoints, plots and resume. `nyx-train --help`.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>

#include <CLI/CLI.hpp>

#include "attention_map.hpp"
#include "run.hpp"
#include "tokenizer.hpp"

using namespace nyx;
using train::check_usage;
using train::Config;

namespace {

#ifndef NYX_VERSION  // set by tools/CMakeLists.txt: the project's version, and the git commit at configure time
#define NYX_VERSION "unknown"
#endif
#ifndef NYX_GIT_COMMIT
#define NYX_GIT_COMMIT ""
#endif
std::string version_text() {
    const std::string commit = NYX_GIT_COMMIT;
    return "nyx-train " NYX_VERSION + (commit.empty() ? "" : " (configured at git " + commit + ")");
}

constexpr const char* exit_statuses =
    "Exit status:\n"
    "  0    done\n"
    "  1    a failure while running: a file, the data, a loss gone non-finite\n"
    "  2    a mistake in the command line: an unknown or misspelt command or flag, a bad value, flags that\n"
    "       conflict, a path that names no run, a --resume that would change the run\n"
    "  130  stopped by Ctrl-C or SIGTERM, with the run saved to resume";

// A number written out in decimal that fits T. CLI11 alone wraps --seed -1 to 2^64 - 1, saturates
// values past the type's range, and reads 0x10 as 16 and 010 as 8: so the text is checked here, and
// an integer is handed on in its plain decimal form (010 is 10). A leading + is allowed.
template <class T>
CLI::Validator decimal() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            T value{};
            const char *first = text.data() + (text.starts_with('+') ? 1 : 0), *last = text.data() + text.size();
            const auto [end, error] = std::from_chars(first, last, value);
            if (error == std::errc() && end == last && first != last && (std::is_signed_v<T> || *first != '-')) {
                if constexpr (std::is_integral_v<T>) text = std::to_string(value);
                return {};
            }
            return "\"" + text + "\" is not a decimal number in the range of " +
                   (std::is_floating_point_v<T> ? "a double" : std::is_signed_v<T> ? "a 64-bit integer"
                                                                                   : "a 64-bit unsigned integer");
        },
        "", "decimal");
}

// --threads of the commands that are not a task's (eval, tokenizer, attention-map).
void add_threads_option(CLI::App& command, std::int64_t& threads) {
    command.add_option("--threads", threads, "threads (0 = every core)")->transform(decimal<std::int64_t>())->check(CLI::Range(0, 4096))->capture_default_str();
}

// A task's flags. Each is written to `given`; only the flags on the command line override the
// preset's defaults (so `--preset lra --steps 100` keeps the rest of the LRA preset).
struct TaskFlags {
    CLI::App* app = nullptr;
    Config given;
    std::string resume;
    bool detect_anomaly = false;  // not part of the run's configuration: a debugging switch for this process
    double comm_timeout = 300;  // nor is this: how long a rank of a data-parallel job waits for the others
    std::vector<std::pair<CLI::Option*, std::function<void(Config&, const Config&)>>> fields;

    template <class T>
    void add(const char* flag, T Config::*field, const char* help, const Config& shown) {
        CLI::Option* option = app->add_option(flag, given.*field, help);
        option->default_str(CLI::detail::to_string(shown.*field));
        if constexpr (std::is_arithmetic_v<T>) option->transform(decimal<T>());
        fields.emplace_back(option, [field](Config& to, const Config& from) { to.*field = from.*field; });
    }

    // The preset's defaults with the given flags on top; for --resume, the run's configuration, with
    // the flags that may change on resume. The others may be given (a job script re-runs its own
    // command line with --resume added) but must equal the run's values.
    Config resolve(const std::string& task) const {
        // An empty value given on purpose is a mistake (an unset variable in a job script, say), not
        // a request for the default: --resume "" would silently start a new run.
        check_usage(app->get_option("--resume")->count() == 0 || !resume.empty(),
                    "--resume needs a run directory, got an empty one (is a variable in the command unset?)");
        check_usage(app->get_option("--run-dir")->count() == 0 || !given.run_dir.empty(),
                    "--run-dir needs a directory, got an empty one (is a variable in the command unset?); leave the flag out for "
                    "the default runs/TASK-ATTN-TIME");
        if (resume.empty()) {
            const Config preset = train::defaults(task, given.preset);
            Config c = preset;
            for (const auto& [option, copy] : fields)
                if (option->count() > 0) copy(c, given);
            // Without --warmup, a run shorter than its preset warms up for the same share of its
            // steps: the preset's whole warm-up would leave the learning rate short of its peak.
            if (app->get_option("--warmup")->count() == 0 && c.steps >= 1 && c.steps < preset.steps) {
                c.warmup = std::llround(static_cast<double>(preset.warmup) * static_cast<double>(c.steps) / static_cast<double>(preset.steps));
                std::printf("note: the warm-up is scaled to this run: %ld of its %ld steps, as the preset's %ld are of its %ld "
                            "(--warmup sets it)\n",
                            static_cast<long>(c.warmup), static_cast<long>(c.steps), static_cast<long>(preset.warmup), static_cast<long>(preset.steps));
            }
            return c;
        }
        check_usage(std::filesystem::exists(resume), "--resume ", resume, ": no such directory");
        check_usage(std::filesystem::is_directory(resume), "--resume ", resume, " is not a directory; give the run directory (which holds config.json)");
        check_usage(std::filesystem::exists(resume + "/config.json"), "--resume ", resume, " holds no config.json, so it is not a nyx-train run directory");
        const std::string source = resume + "/config.json";
        Config c = train::read_config(source);
        check_usage(c.task == task, resume, " is a ", c.task, " run; resume it with nyx-train ", c.task, " --resume ", resume);
        c.run_dir = resume;
        // Compared as stored: paths made absolute, as resolve_paths makes them.
        const nlohmann::ordered_json run = train::to_json(train::resolve_paths(c)), command = train::to_json(train::resolve_paths(given));
        const std::int64_t threads = c.threads;
        for (const auto& [option, copy] : fields) {
            if (option->count() == 0) continue;
            const std::string key = train::key_of(option->get_name());
            if (train::may_change_on_resume(key)) {
                copy(c, given);
                continue;
            }
            check_usage(key != "run_dir" || run[key] == command[key], "--run-dir names ", train::value_text(command[key]),
                        " but --resume names ", train::value_text(run[key]), "; a run resumes in its own directory");
            check_usage(run[key] == command[key], option->get_name(), " is ", train::value_text(run[key]), " in ", source,
                        ", the command gives ", train::value_text(command[key]), "; ", train::resume_changes());
        }
        if (c.threads != threads)
            std::printf("note: the run used %ld threads; with another count the losses may differ in the last bits from an "
                        "uninterrupted run (matrix products split their work by the thread count)\n",
                        static_cast<long>(threads));
        return c;
    }
};

void add_task_flags(TaskFlags& t, const std::string& task) {
    const Config shown = train::defaults(task, "demo");
    t.given = shown;
    CLI::App* app = t.app;
    if (task == "listops")
        t.add("--preset", &Config::preset, "defaults: demo (lengths 50-200, ~2 min) or lra (the LRA specification)", shown);
    t.add("--attn", &Config::attn, "attention: nystrom, softmax, linformer or performer", shown);
    t.add("--landmarks", &Config::landmarks, "Nyström landmarks m", shown);
    t.add("--pinv-iters", &Config::pinv_iters, "iterations of the pseudo-inverse", shown);
    t.add("--pinv-start", &Config::pinv_start, "pseudo-inverse start: original or per-matrix", shown);
    t.add("--conv", &Config::conv, "depthwise skip-connection kernel on V (odd; 0 = off)", shown);
    t.add("--projected-length", &Config::projected_length, "Linformer's k, the length keys and values are projected to", shown);
    t.add("--sharing", &Config::sharing, "Linformer's E and F: none, headwise, key-value or layerwise", shown);
    t.add("--features", &Config::features, "Performer's random features m", shown);
    t.add("--redraw-interval", &Config::redraw_interval, "Performer: new features every this many steps (0 = never)", shown);
    t.add("--dim", &Config::dim, "model width", shown);
    t.add("--heads", &Config::heads, "attention heads", shown);
    t.add("--head-dim", &Config::head_dim, "width of a head", shown);
    t.add("--hidden", &Config::hidden, "MLP and classifier width", shown);
    t.add("--layers", &Config::layers, "transformer blocks", shown);
    t.add("--dropout", &Config::dropout, "dropout probability", shown);
    t.add("--batch", &Config::batch, "sequences per step", shown);
    t.add("--lr", &Config::lr, "peak learning rate (AdamW, eps 1e-6)", shown);
    t.add("--warmup", &Config::warmup, "linear warm-up steps (left out: the preset's, in proportion to a shorter --steps)", shown);
    t.add("--steps", &Config::steps, "training steps in all", shown);
    t.add("--schedule", &Config::schedule, "after the warm-up: linear, cosine or constant", shown);
    t.add("--precision", &Config::precision, "f32, or bf16: mixed precision (bf16 products, f32 weights and the rest)", shown);
    t.add("--weight-decay", &Config::weight_decay, "AdamW's decoupled weight decay", shown);
    t.add("--clip", &Config::clip, "clip the gradient norm to this (0 = off)", shown);
    t.add("--seed", &Config::seed, "seed of the data, the weights and dropout", shown);
    t.add("--threads", &Config::threads, "threads (0 = NYX_NUM_THREADS or every core)", shown);
    t.add("--eval-every", &Config::eval_every, "validate and checkpoint every N steps", shown);
    t.add("--log-every", &Config::log_every, "write a metrics line every N steps", shown);
    t.add("--eval-size", &Config::eval_size, "evaluate on at most N examples of validation and of test, evenly spread (0 = all)", shown);
    t.add("--bucket", &Config::bucket, "batch sequences of similar length, sorting windows of N batches (0 = off)", shown);
    t.add("--pad-to", &Config::pad_to, "pad every batch to this length (0 = to its longest; the LRA padded to 2048)", shown);
    t.add("--run-dir", &Config::run_dir, "the run directory (default runs/TASK-ATTN-TIME)", shown);
    // Checked by rank 0 alone, in resolve(): the other ranks' machines need not have it.
    app->add_option("--resume", t.resume, "continue the run in RUN_DIR from its latest checkpoint");
    app->add_option("--comm-timeout", t.comm_timeout,
                    "with mpirun: seconds a rank waits for the others before it ends the job (a rank died or hangs)")
        ->transform(decimal<double>())
        ->check(CLI::Range(0.001, 1e8))
        ->capture_default_str();
    app->add_flag("--detect-anomaly", t.detect_anomaly,
                  "check every op's results and gradients for NaN and Inf, and stop at the first, naming the op (slow: for debugging)");
    if (task == "listops") {
        t.add("--train-file", &Config::train_file, "train on the LRA release's TSV files instead (with --val-file, --test-file)", shown);
        t.add("--val-file", &Config::val_file, "the release's basic_val.tsv", shown);
        t.add("--test-file", &Config::test_file, "the release's basic_test.tsv", shown);
        t.add("--min-len", &Config::min_len, "expressions are longer than this", shown);
        t.add("--max-len", &Config::max_len, "expressions are shorter than this", shown);
        t.add("--train-size", &Config::train_size, "training expressions", shown);
        t.add("--val-size", &Config::val_size, "validation expressions", shown);
        t.add("--test-size", &Config::test_size, "test expressions", shown);
    } else if (task == "pathfinder") {
        t.add("--train-size", &Config::train_size, "training images", shown);
        t.add("--val-size", &Config::val_size, "validation images", shown);
        t.add("--test-size", &Config::test_size, "test images", shown);
    } else if (task == "pretrain" || task == "finetune") {
        const bool pre = task == "pretrain";
        if (!pre) t.add("--from", &Config::from, "the pretrain run to start from (its weights, shape, attention and tokenizer)", shown);
        t.add("--tokenizer", &Config::tokenizer,
              pre ? "the SentencePiece model to start from (nyx-train tokenizer writes one)"
                  : "without --from: the SentencePiece model of the baseline trained from scratch",
              shown);
        t.add("--max-len", &Config::max_len, pre ? "tokens of a sentence-order pair, [CLS] and [SEP]s included" : "tokens of a passage, [CLS] and [SEP] included",
              shown);
        if (!pre) t.add("--folders", &Config::folders, "linux-doc's folders, comma-separated: the classes", shown);
        if (pre) t.add("--init", &Config::init, "start from these weights (safetensors in nyx's names: tools/torch_interop.py export writes them)", shown);
        t.add("--data-dir", &Config::data_dir,
              pre ? "a folder of reStructuredText documents to use instead of Debian's corpus" : "a folder of reStructuredText documents to use instead of Debian's corpus (its folders are the classes)", shown);
        t.add("--train-size", &Config::train_size,
              pre ? "sentence-order pairs an epoch draws (each drawn afresh, and masked afresh each batch)" : "training passages", shown);
        t.add("--val-size", &Config::val_size, pre ? "validation pairs (from the corpus's validation documents)" : "validation passages", shown);
        t.add("--test-size", &Config::test_size, pre ? "test pairs (from its test documents)" : "test passages", shown);
    } else if (task == "fashion-mnist") {
        t.add("--patch", &Config::patch, "0: 784 pixel tokens; p: (28/p)^2 patches of p*p pixels, embedded linearly", shown);
        t.add("--data-dir", &Config::data_dir, "folder of the gzip'd IDX files", shown);
        t.add("--val-size", &Config::val_size, "training images held out for validation", shown);
    } else {
        const bool text = task == "text";
        t.add("--data-dir", &Config::data_dir, "the tree of documents (*.rst, *.txt, gzip'd or not)", shown);
        t.add("--folders", &Config::folders, text ? "its top-level folders, comma-separated: the classes" : "its top-level folders that take part, comma-separated", shown);
        t.add("--max-len", &Config::max_len, text ? "bytes per passage (TSV files: texts are cut to this many)" : "bytes of each passage of a pair", shown);
        t.add("--train-size", &Config::train_size, text ? "training passages" : "training pairs", shown);
        t.add("--val-size", &Config::val_size, text ? "validation passages (TSV files: training lines held out)" : "validation pairs", shown);
        t.add("--test-size", &Config::test_size, text ? "test passages" : "test pairs", shown);
        if (text) {
            t.add("--train-file", &Config::train_file, "train on a TSV file instead: label<TAB>text per line", shown);
            t.add("--test-file", &Config::test_file, "test TSV, same form", shown);
        }
    }
}

// The configuration as rank 0 resolved it (from the flags, or from the run's config.json on
// --resume, which the other ranks' machines may not have), on every rank.
Config resolve_on_rank_0(const TaskFlags& flags, const std::string& task) {
    std::string text;
    if (dist::rank() == 0) {
        const Config config = train::resolve_paths(flags.resolve(task));
        try {  // config.json passed these checks when it was read: what fails here is the command's
            train::validate(config);
        } catch (const Error& e) {
            throw train::UsageError(e.what());
        }
        text = train::to_json(config).dump();
    }
    dist::broadcast(text);
    return train::from_json(nlohmann::ordered_json::parse(text), "rank 0's configuration");
}

// A failed rank of a data-parallel job ends the whole job (the others would wait for it). When the
// error is the same on every rank (bad data, say), rank 0 ends the job before the others print it,
// so it shows once.
[[noreturn]] void end_job(const char* message, int status) {
    std::signal(SIGTERM, SIG_DFL), std::signal(SIGINT, SIG_DFL);  // mpirun's SIGTERM then ends this rank quietly
    if (dist::rank() > 0) std::this_thread::sleep_for(std::chrono::seconds(2));
    std::fprintf(stderr, "\nnyx-train (rank %d of %d): %s\n", dist::rank(), dist::world_size(), message);
    dist::abort_job(status);
}

// The optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours, one edit each ("stpes" is one edit from "steps").
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// The name that a mistyped `word` most likely meant: the nearest within a third of its length (one
// edit at least), else the only name that begins with it ("fashion"); "" when none is likely.
std::string likely_meant(const std::string& word, const std::vector<std::string>& names) {
    const auto bare = [](const std::string& name) { return std::string_view(name).substr(std::min(name.find_first_not_of('-'), name.size())); };
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(1, bare(word).size() / 3) + 1;
    for (const std::string& name : names)
        if (const std::size_t d = edit_distance(bare(word), bare(name)); d < best_distance) best = name, best_distance = d;
    if (!best.empty() || bare(word).size() < 2) return best;
    const auto begins = [&](const std::string& name) { return name.starts_with(word); };
    return std::count_if(names.begin(), names.end(), begins) == 1 ? *std::find_if(names.begin(), names.end(), begins) : "";
}

// The long flags of a command ("--steps", "--help", ...).
std::vector<std::string> flags_of(const CLI::App& command) {
    std::vector<std::string> flags;
    for (const CLI::Option* option : command.get_options())
        for (const std::string& name : option->get_lnames()) flags.push_back("--" + name);
    return flags;
}

// What is wrong with a word of the command line that CLI11 could not place in `command`: an
// unknown flag (with the flag it most likely meant, or the commands that have it) or an argument
// too many. `commands` are all of nyx-train's.
std::string misplaced(const std::string& word, const CLI::App& command, const std::vector<CLI::App*>& commands) {
    const std::string where = command.get_parent() ? " for " + command.get_name() : "";
    if (!word.starts_with('-')) return "unexpected argument \"" + word + "\"" + where;
    const std::string flag = word.substr(0, word.find('='));
    if (const std::string meant = likely_meant(flag, flags_of(command)); !meant.empty())
        return "unknown flag " + flag + where + "; did you mean " + meant + "?";
    std::string holders;
    for (const CLI::App* other : commands) {
        const std::vector<std::string> flags = flags_of(*other);
        if (other != &command && std::find(flags.begin(), flags.end(), flag) != flags.end()) holders += (holders.empty() ? "" : ", ") + other->get_name();
    }
    return "unknown flag " + flag + where + (holders.empty() ? "" : " (a flag of " + holders + ")");
}

// What is wrong when CLI11 left words unplaced, or no command was given: "" when nothing is.
std::string unplaced_words(const CLI::App& app, const CLI::App* chosen, const std::vector<CLI::App*>& commands) {
    const std::vector<std::string> words = app.remaining();  // the words before the command, or all of them without one
    // A flag before the command would be silently ignored (nyx-train --steps 100 listops).
    const auto flag = std::find_if(words.begin(), words.end(), [](const std::string& w) { return w.starts_with('-'); });
    if (chosen && flag != words.end())
        return *flag + " comes before the command; flags go after it: nyx-train " + chosen->get_name() + " " + *flag + " ...";
    if (chosen) return chosen->remaining().empty() ? "" : misplaced(chosen->remaining().front(), *chosen, commands);
    std::vector<std::string> names;
    for (const CLI::App* command : commands) names.push_back(command->get_name());
    // The word meant as the command: the first close to a command's name, else the first that is not
    // a flag (the value of a flag before it, as in --threads 2 lisops, is passed over when a later
    // word is closer).
    auto word = std::find_if(words.begin(), words.end(), [&](const std::string& w) { return !w.starts_with('-') && !likely_meant(w, names).empty(); });
    if (word == words.end()) word = std::find_if(words.begin(), words.end(), [](const std::string& w) { return !w.starts_with('-'); });
    if (word != words.end()) {
        const std::string meant = likely_meant(*word, names);
        const std::string order = flag != words.end() && flag < word ? "; flags go after the command" : "";
        return "unknown command \"" + *word + "\"" + (meant.empty() ? "" : "; did you mean " + meant + "?") + order;
    }
    if (!words.empty()) return misplaced(words.front(), app, commands);
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i) list += (i == 0 ? "" : i + 1 == names.size() ? " or "
                                                                                                : ", ") +
                                                           names[i];
    return "a command is required: " + list;
}

// A mistake in the command line: the message, where to read the usage, and status 2.
int usage_error(const std::string& message, const CLI::App& command) {
    if (dist::rank() == 0) {  // the same on every rank
        std::string name = command.get_name();
        if (command.get_parent()) name = command.get_parent()->get_name() + " " + name;
        std::fprintf(stderr, "nyx-train: %s\nRun '%s --help' for the usage.\n", message.c_str(), name.c_str());
    }
    return train::usage_status;
}

}  // namespace

int main(int argc, char** argv) {
    // First of all, the address space. Under a small limit (ulimit -v below about 200000) OpenBLAS's
    // own thread, started when the library loaded, retries a failing allocation for ever, and a
    // normal exit would wait for it for ever: even --help would hang. So the check comes before
    // anything else, and a refusal leaves with _Exit, which does not wait.
    try {
        train::check_address_space(1);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nyx-train: %s\n", e.what());
        std::fflush(nullptr);
        std::_Exit(1);
    }
    train::route_signals_to_one_thread();  // before MPI, TBB or OpenMP start threads
    std::optional<dist::Session> session;  // MPI, when mpirun started this process
    try {
        session.emplace(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nyx-train: %s\n", e.what());
        return 1;
    }
    if (dist::rank() > 0) static_cast<void>(std::freopen("/dev/null", "w", stdout));  // rank 0 alone prints progress
    CLI::App app{"nyx-train: train a transformer encoder with Nyström, softmax, Linformer or Performer attention on the CPU", "nyx-train"};
    app.require_subcommand(0, 1);  // none: a usage error below, which can name a mistyped command
    app.set_version_flag("--version", version_text(), "print the version (and the git commit it was built from) and exit");
    app.footer(exit_statuses);
    std::deque<std::pair<std::string, TaskFlags>> tasks;  // a deque: CLI11 keeps pointers into each TaskFlags
    for (const auto& [task, about] : {std::pair{"listops", "the LRA ListOps task (generated)"},
                                      {"pathfinder", "the LRA Pathfinder task (generated 32 × 32 images, 1,024 pixels)"},
                                      {"fashion-mnist", "Fashion-MNIST as pixel or patch sequences (LRA's Image task)"},
                                      {"text", "byte-level text: which folder of linux-doc a passage comes from, or TSV files"},
                                      {"retrieval", "byte-level pairs: do two passages of linux-doc come from one document"},
                                      {"pretrain", "pretraining: masked-language modelling and sentence order on the Debian text corpus"},
                                      {"finetune", "fine-tuning a pretrain run (or a baseline from scratch): which folder of linux-doc a passage of tokens comes from"}}) {
        tasks.emplace_back(task, TaskFlags{});
        TaskFlags& flags = tasks.back().second;
        const bool own_words = std::string_view(task) == "pretrain" || std::string_view(task) == "finetune";
        flags.app = app.add_subcommand(task, std::string(own_words ? "" : "train on ") + about);
        if (std::string_view(task) == "listops")
            flags.app->footer("The defaults shown are the demo preset's. --preset lra takes the LRA specification instead: lengths "
                              "500-2000, 96000/2000/2000 expressions, 64 landmarks, conv 35, dropout 0.1, lr 1e-4, 1000 warm-up "
                              "steps, 5000 steps, eval every 500. Flags given on the command line override either preset.");
        add_task_flags(flags, task);
    }
    std::string target, split = "test", output;
    std::int64_t threads = 0, eval_size = 0;
    std::vector<std::string> run_dirs;
    CLI::App* eval = app.add_subcommand("eval", "evaluate a run's best checkpoint, or a checkpoint file");
    eval->add_option("target", target, "RUN_DIR or CHECKPOINT")->required();
    eval->add_option("--split", split, "train, val or test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
    add_threads_option(*eval, threads);
    eval->add_option("--eval-size", eval_size, "evaluate on at most N examples of the split, evenly spread (0 = all)")
        ->transform(decimal<std::int64_t>())
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{10'000'000}))
        ->capture_default_str();
    CLI::App* plot = app.add_subcommand("plot", "draw the loss and accuracy curves of one or more runs as SVG");
    plot->add_option("runs", run_dirs, "RUN_DIR...")->required();
    plot->add_option("--output", output, "the SVG file (default RUN_DIR/curves.svg, or comparison.svg for several runs)");
    std::string plot_x = "step", plot_metric = "accuracy";
    plot->add_option("--x", plot_x, "the x axis: step, or minutes of wall-clock time (from speed.jsonl)")
        ->check(CLI::IsMember({"step", "minutes"}))
        ->capture_default_str();
    plot->add_option("--metric", plot_metric, "the right panel's figure: accuracy, or one a run logs (pretrain: sop_accuracy, mlm_loss, sop_loss)")
        ->capture_default_str();
    train::TokenizerCommand tokenizer;
    CLI::App* tokenizer_app = app.add_subcommand("tokenizer", "train the SentencePiece tokenizer that pretrain starts from, on the corpus");
    tokenizer_app->add_option("--output", tokenizer.output, "the model file to write")->capture_default_str();
    tokenizer_app->add_option("--vocab-size", tokenizer.vocab_size, "ids in all (5 special ones and 256 bytes among them)")
        ->transform(decimal<std::int64_t>())
        ->check(CLI::Range(std::int64_t{262}, std::int64_t{65536}))
        ->capture_default_str();
    tokenizer_app->add_option("--model", tokenizer.model, "unigram or bpe")->check(CLI::IsMember({"unigram", "bpe"}))->capture_default_str();
    tokenizer_app->add_option("--max-sentences", tokenizer.max_sentences, "sentences sampled to train on (0 = all)")
        ->transform(decimal<std::int64_t>())
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}))
        ->capture_default_str();
    tokenizer_app->add_option("--seed", tokenizer.seed, "seed of the sample")->transform(decimal<std::uint64_t>())->capture_default_str();
    tokenizer_app->add_option("--data-dir", tokenizer.data_dir, "train on this folder's reStructuredText documents instead of Debian's corpus");
    add_threads_option(*tokenizer_app, tokenizer.threads);
    train::AttentionMapOptions map;
    CLI::App* attention_map =
        app.add_subcommand("attention-map", "draw one head's attention in a Nyström run: exact softmax, Nyström's approximation, their difference (SVG)");
    attention_map->add_option("target", map.target, "RUN_DIR or CHECKPOINT")->required();
    attention_map->add_option("--example", map.example, "the example of --split to draw")
        ->transform(decimal<std::int64_t>())
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}))
        ->capture_default_str();
    attention_map->add_option("--split", map.split, "train, val or test")->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
    attention_map->add_option("--input", map.input, "draw this input instead: a ListOps expression, or text (listops and text runs)");
    attention_map->add_option("--layer", map.layer, "the block, from 0")->transform(decimal<std::int64_t>())->capture_default_str();
    attention_map->add_option("--head", map.head, "the head, from 0")->transform(decimal<std::int64_t>())->capture_default_str();
    attention_map->add_option("--output", map.output, "the SVG file (default attention-map-layerL-headH.svg beside the checkpoint)");
    add_threads_option(*attention_map, map.threads);
    // Words CLI11 cannot place are kept (rather than refused with its own message), so that the
    // message can name the flag or command most likely meant.
    const std::vector<CLI::App*> commands = app.get_subcommands([](const CLI::App*) { return true; });
    app.allow_extras();
    for (CLI::App* command : commands) command->allow_extras();
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return dist::rank() == 0 ? app.exit(e) : 0;
    } catch (const CLI::ParseError& e) {
        const std::vector<CLI::App*> chosen = app.get_subcommands();
        return usage_error(e.what(), chosen.empty() ? app : *chosen.front());
    }
    CLI::App* chosen = app.get_subcommands().empty() ? nullptr : app.get_subcommands().front();
    if (const std::string mistake = unplaced_words(app, chosen, commands); !mistake.empty()) return usage_error(mistake, chosen ? *chosen : app);

    try {
        if (chosen == eval || chosen == plot || chosen == attention_map || chosen == tokenizer_app) {
            check_usage(dist::world_size() == 1, "nyx-train ", chosen->get_name(), " runs in one process; run it without mpirun");
            if (chosen == attention_map) return train::draw_attention_map(map);
            if (chosen == tokenizer_app) return train::train_tokenizer(tokenizer);
            return chosen == eval ? train::evaluate_checkpoint(target, split, threads, eval_size) : train::plot_runs(run_dirs, output, plot_x, plot_metric);
        }
        for (auto& [task, flags] : tasks) {
            if (flags.app != chosen) continue;
            dist::set_timeout(flags.comm_timeout);
            const Config config = resolve_on_rank_0(flags, task);
            nyx::detect_anomaly(flags.detect_anomaly);
            return train::train(config, !flags.resume.empty());
        }
        return train::usage_status;  // not reached: every command is handled above
    } catch (const train::UsageError& e) {
        if (dist::world_size() > 1) end_job(e.what(), train::usage_status);
        return usage_error(e.what(), *chosen);
    } catch (const std::bad_alloc&) {
        const char* message = "out of memory (std::bad_alloc): this run needs more memory than the machine, or the address-space limit "
                              "(ulimit -v), allows; try a smaller --batch, model or data";
        if (dist::world_size() > 1) end_job(message, 1);
        std::fprintf(stderr, "\nnyx-train: %s\n", message);
        return 1;
    } catch (const std::exception& e) {  // nyx::Error, and the file system's errors
        if (dist::world_size() > 1) end_job(e.what(), 1);
        std::fprintf(stderr, "\nnyx-train: %s\n", e.what());
        return 1;
    }
}
