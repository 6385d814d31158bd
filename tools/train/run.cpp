#include "run.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <nyx/core/blas.hpp>

#include "metrics.hpp"
#include "objective.hpp"
#include "plot.hpp"
#include "run_dir.hpp"

namespace nyx::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Set by the handler (on whichever thread the signal lands), read by the training loop.
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

// Ctrl-C (or SIGTERM) asks the run to save and stop after the current step, or evaluation batch; a
// second one kills.
extern "C" void on_interrupt(int signal) {
    interrupted.store(true);
    std::signal(signal, SIG_DFL);
    constexpr char note[] = "\nnyx-train: stopping after this step or evaluation batch (press Ctrl-C again to kill at once)\n";
    constexpr char note_ranks[] =
        "\nnyx-train: stopping after this step or evaluation batch (a signal from mpirun: Ctrl-C, or another rank ended)\n";
    if (dist::world_size() > 1) {  // every rank gets the signal; one note is enough
        if (dist::rank() == 0) [[maybe_unused]] const auto written = ::write(STDERR_FILENO, note_ranks, sizeof note_ranks - 1);
        return;
    }
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, note, sizeof note - 1);
}

}  // namespace

void route_signals_to_one_thread() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    // The handler (on_interrupt, while a run trains) or the default action runs on the thread
    // started here, or on one of OpenBLAS's threads, never on a thread inside a oneDNN product.
    // (A signal sent to the main thread alone, with tgkill, would stay pending: nothing sends one.)
    if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) return;
    try {
        std::thread([signals] {
            pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
            for (;;) ::pause();
        }).detach();
    } catch (const std::system_error& e) {  // no thread to be had (a limit on processes): signals as before
        pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
        std::fprintf(stderr, "nyx-train: warning: no thread for Ctrl-C (%s); it may abort a run inside a oneDNN product\n", e.what());
    }
}

namespace {

// Under mpirun without --threads or NYX_NUM_THREADS: this rank's share of its machine's cores, so
// that the ranks on one machine do not each start a thread per core. The share is of the cores
// mpirun binds the rank to, and of the machine's cores divided among its ranks, whichever is less.
int threads_per_rank() {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    const int bound = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int ranks_here = local ? std::max(1, std::atoi(local)) : 1;
    return std::max(1, std::min(bound, static_cast<int>(std::thread::hardware_concurrency()) / ranks_here));
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024;
}

std::string clock_text(double seconds) {
    const auto s = static_cast<long>(seconds);
    char out[32];
    if (s >= 3600) std::snprintf(out, sizeof out, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(out, sizeof out, "%02ld:%02ld", s / 60, s % 60);
    return out;
}

std::string rate_text(double per_second) {
    char out[32];
    if (per_second >= 1e6) std::snprintf(out, sizeof out, "%.2fM", per_second / 1e6);
    else if (per_second >= 1e3) std::snprintf(out, sizeof out, "%.1fk", per_second / 1e3);
    else std::snprintf(out, sizeof out, "%.0f", per_second);
    return out;
}

// Progress is redrawn in place on a terminal; otherwise, and under mpirun (which gives the ranks a
// terminal of its own, whatever its output is), it is printed as plain lines.
bool redrawn_in_place() { return ::isatty(STDOUT_FILENO) && dist::world_size() == 1; }

// A bar redrawn in place on a terminal; plain lines, one per logged step, otherwise.
class Progress {
  public:
    // The loss and accuracy shown, smoothed for the eye (metrics.jsonl has the exact values). Each
    // checkpoint holds them, so that a resumed run shows the figures of a run that never stopped.
    struct Smoothed {
        double loss = 0, accuracy = 0;
        bool started = false;
    };

    Progress(std::int64_t first, std::int64_t total, Smoothed smoothed)
        : first_(first), total_(total), terminal_(redrawn_in_place()), smoothed_(smoothed) {}
    const Smoothed& smoothed() const { return smoothed_; }

    void update(std::int64_t step, double loss, double accuracy, double lr, double tokens_per_s, bool logged) {
        Smoothed& s = smoothed_;
        s.loss = s.started ? 0.95 * s.loss + 0.05 * loss : loss;
        s.accuracy = s.started ? 0.95 * s.accuracy + 0.05 * accuracy : accuracy;
        s.started = shown_ = true;
        const double elapsed = seconds_since(start_);
        const double eta = elapsed / static_cast<double>(step - first_) * static_cast<double>(total_ - step);
        char stats[200];
        std::snprintf(stats, sizeof stats, "loss %.4f  acc %5.1f%%  lr %.2e  %s tok/s  %s < %s", s.loss, 100 * s.accuracy, lr,
                      rate_text(tokens_per_s).c_str(), clock_text(elapsed).c_str(), clock_text(eta).c_str());
        if (!terminal_) {
            if (logged) std::printf("step %ld/%ld  %s\n", static_cast<long>(step), static_cast<long>(total_), stats);
            std::fflush(stdout);
            return;
        }
        if (step != total_ && seconds_since(last_draw_) < 0.1) return;
        last_draw_ = Clock::now();
        constexpr int width = 24;
        const auto filled = static_cast<int>(width * step / total_);
        std::printf("\r\033[K%*ld/%ld [%s%s] %s", static_cast<int>(std::to_string(total_).size()), static_cast<long>(step),
                    static_cast<long>(total_), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                    std::string(static_cast<std::size_t>(width - filled), '.').c_str(), stats);
        std::fflush(stdout);
    }

    // A message on its own line (above the bar on a terminal).
    template <class... Args>
    void say(const char* format, Args... args) {
        if (terminal_) std::printf("\r\033[K");
        std::printf(format, args...);
        std::printf("\n");
        std::fflush(stdout);
    }
    void finish() {
        if (terminal_ && shown_) std::printf("\n");
    }

  private:
    std::int64_t first_, total_;
    bool terminal_, shown_ = false;
    Smoothed smoothed_;
    Clock::time_point start_ = Clock::now(), last_draw_{};
};

// "eval val  120/313 batches  00:04 < 00:06" while an evaluation runs: redrawn in place on a
// terminal, and cleared when it ends; otherwise a line every 10 seconds, so that a log shows a long
// evaluation under way without filling up with short ones.
class EvalProgress {
  public:
    EvalProgress(std::string label, std::int64_t total) : label_(std::move(label)), total_(total) {}
    ~EvalProgress() {
        if (terminal_ && drawn_) std::printf("\r\033[K"), std::fflush(stdout);
    }
    EvalProgress(const EvalProgress&) = delete;
    EvalProgress& operator=(const EvalProgress&) = delete;

    void update(std::int64_t done) {
        if (seconds_since(last_draw_) < (terminal_ ? 0.1 : 10.0)) return;
        last_draw_ = Clock::now();
        const double elapsed = seconds_since(start_);
        const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
        std::printf("%seval %s  %*ld/%ld batches  %s < %s%s", terminal_ ? "\r\033[K" : "", label_.c_str(),
                    static_cast<int>(std::to_string(total_).size()), static_cast<long>(done), static_cast<long>(total_),
                    clock_text(elapsed).c_str(), clock_text(eta).c_str(), terminal_ ? "" : "\n");
        std::fflush(stdout);
        drawn_ = true;
    }

  private:
    std::string label_;
    std::int64_t total_;
    bool terminal_ = redrawn_in_place(), drawn_ = false;
    Clock::time_point start_ = Clock::now(), last_draw_ = terminal_ ? Clock::time_point{} : start_;
};

// Whether Ctrl-C or SIGTERM reached this process or, under mpirun, any rank: a collective, which
// every rank calls at the same point.
bool interrupted_on_any_rank() {
    if (dist::world_size() == 1) return interrupted.load();
    Tensor flag = tensor({interrupted.load() ? 1.0 : 0.0}, f64);
    dist::all_reduce(flag);
    return flag.item<double>() > 0;
}

// "2000 examples", or "500 of 2000 examples (--eval-size 500)" when a cap left some out.
std::string examples_text(std::int64_t evaluated, std::int64_t all) {
    if (evaluated == all) return detail::cat(all, " examples");
    return detail::cat(evaluated, " of ", all, " examples (--eval-size ", evaluated, ")");
}

// runs/TASK-ATTN-TIME, created here; a suffix keeps two runs started in the same second apart.
std::string new_run_dir(const Config& c) {
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    const std::string base = "runs/" + c.task + "-" + c.attn + "-" + stamp;
    std::error_code error;
    fs::create_directories("runs", error);
    NYX_CHECK(!error, "cannot create the folder runs in ", fs::current_path().string(), " (", error.message(),
              ") for the run directory; run nyx-train in a writable folder, or give --run-dir");
    for (int i = 1;; ++i) {
        const std::string dir = i == 1 ? base : base + "-" + std::to_string(i);
        const bool made = fs::create_directory(dir, error);
        NYX_CHECK(!error, "cannot create the run directory ", dir, " (", error.message(), "); give a writable --run-dir");
        if (made) return dir;
    }
}

constexpr std::array<std::string_view, 8> run_files = {".lock", "config.json", "metrics.jsonl", "speed.jsonl",
                                                       "curves.svg", "latest.safetensors", "best.safetensors", tokenizer_file};

// A temporary file that io::write_file_atomically left when a kill interrupted it: one of the run's
// files followed by .tmp-PID-N. Nothing else counts, so that no file of a user's is taken for one.
bool is_run_temporary(const std::string& name) {
    return std::any_of(run_files.begin(), run_files.end(), [&](std::string_view file) {
        const std::string prefix = std::string(file) + ".tmp-";
        if (!name.starts_with(prefix)) return false;
        const std::string tail = name.substr(prefix.size());
        const std::size_t dash = tail.find('-');
        const auto digits = [](std::string_view t) { return !t.empty() && std::all_of(t.begin(), t.end(), [](char ch) { return ch >= '0' && ch <= '9'; }); };
        return dash != std::string::npos && digits(std::string_view(tail).substr(0, dash)) && digits(std::string_view(tail).substr(dash + 1));
    });
}

// A new run starts in a directory that is new, empty, or left by a nyx-train run that stopped
// before its first checkpoint; never in one that holds anything else, which the run would mix its
// files with, and overwrite.
void check_new_run_directory(const std::string& dir) {
    if (!fs::exists(dir)) return;
    check_usage(fs::is_directory(dir), "--run-dir ", dir, " is a file, not a directory");
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
        const bool of_a_run = std::find(run_files.begin(), run_files.end(), name) != run_files.end() || is_run_temporary(name);
        check_usage(of_a_run, dir, " is not empty and not a nyx-train run directory (it holds ", name,
                    "); give a new or empty --run-dir, or --resume a run");
    }
    NYX_CHECK(!error, "cannot read the run directory ", dir, " (", error.message(), ")");
    if (!fs::exists(dir + "/config.json")) return;
    try {
        static_cast<void>(read_config(dir + "/config.json"));
    } catch (const Error& e) {
        throw UsageError(detail::cat(dir, " holds a config.json that is not a nyx-train run's (", e.what(), "); give a new or empty --run-dir"));
    }
}

}  // namespace

void check_writable_folder_of(const std::string& path, const char* flag) {
    const fs::path parent = fs::path(path).parent_path();
    const std::string folder = parent.empty() ? "." : parent.string();
    check_usage(fs::is_directory(folder), flag, " ", path, ": there is no folder ", folder, " to write it in");
    NYX_CHECK(::access(folder.c_str(), W_OK) == 0, "cannot write ", path, ": the folder ", folder, " is not writable (", std::strerror(errno), ")");
}

namespace {

// The name a run has in a plot's legend: its directory's name, and its attention.
std::string run_label(const std::string& run_dir) {
    const fs::path path = fs::path(run_dir).lexically_normal();
    std::string label = (path.has_filename() ? path.filename() : path.parent_path().filename()).string();
    if (fs::exists(run_dir + "/config.json")) label += " (" + read_config(run_dir + "/config.json").attn + ")";
    return label;
}

// Temporary files of writes that a kill interrupted.
void remove_stale_temporaries(const std::string& dir) {
    for (const auto& entry : fs::directory_iterator(dir))
        if (is_run_temporary(entry.path().filename().string())) fs::remove(entry.path());
}

// A checkpoint's "model" section (when it has one, as checkpoints since config.json gained it do)
// against the model the options build for the data as it is now (`model_json`): renamed text
// classes would silently swap labels, other lengths overflow the positions, another tokenizer
// other ids.
void check_data_matches(const io::Safetensors& checkpoint, const std::string& path, const std::string& model_json) {
    const auto it = checkpoint.metadata.find("config");
    if (it == checkpoint.metadata.end()) return;
    const nlohmann::json config = nlohmann::json::parse(it->second, nullptr, false);
    if (config.is_discarded() || !config.contains("model")) return;
    // Read and written again in the library's form, so that keys a newer nyx writes with their
    // default values (or leaves out) do not count as a difference.
    const std::string stored = config["model"].contains("classes")
                                   ? models::to_json(models::classifier_config_from_json(config["model"].dump(), path, "model."))
                                   : models::to_json(models::encoder_config_from_json(config["model"].dump(), path, "model."));
    if (const auto d = models::first_difference(stored, model_json))
        throw Error(detail::cat(path, ": the data no longer gives the run's model: the checkpoint's model has ", d->key, " ", d->first,
                                ", the data as it is now gives ", d->second, "; restore the run's data files"));
}

// The bytes of a file that rank 0 reads, on every rank (the others may run on machines without the
// run directory), parsed.
io::Safetensors read_on_rank_0(const std::string& path) {
    std::string bytes;
    if (dist::rank() == 0) {
        const std::vector<unsigned char> file = io::read_file(path);
        bytes.assign(file.begin(), file.end());
    }
    dist::broadcast(bytes);
    return io::parse_safetensors({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, path);
}

// The configuration a checkpoint's metadata holds (nyx-train writes it into every checkpoint).
Config config_of(const io::Safetensors& file, const std::string& path) {
    const auto it = file.metadata.find("config");
    NYX_CHECK(it != file.metadata.end(), path, " has no nyx-train configuration in its metadata; was it written by nyx-train?");
    return parse_config(it->second, path + " (its metadata's \"config\")");
}

// The first parameter holding NaN or ±inf, as "NAME holds ...", or "" when all are finite.
std::string first_non_finite_weight(const nn::Module& model) {
    for (const auto& [name, p] : model.named_parameters())
        if (const std::string bad = autograd::first_non_finite(p); !bad.empty()) return detail::cat(name, " holds ", bad);
    return {};
}

// A checkpoint's weights, just loaded, are finite: a file written by anything else than nyx-train
// (which never saves non-finite weights) or damaged is refused rather than evaluated to NaN.
void check_loaded_weights(const nn::Module& model, const std::string& path) {
    const std::string bad = first_non_finite_weight(model);
    NYX_CHECK(bad.empty(), path, " holds non-finite weights (", bad, "); it is not a checkpoint nyx-train wrote, or it was damaged");
}

// What latest.safetensors adds to the run's metadata: "validation": "pending" when Ctrl-C stopped
// the validation of its step (a resume does it first), and the progress display's smoothed figures.
constexpr const char *validation_key = "validation", *smoothed_loss_key = "smoothed_loss", *smoothed_accuracy_key = "smoothed_accuracy",
                     *seconds_key = "seconds";

std::string exact_text(double value) {  // read back to the same double
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::optional<double> metadata_number(const io::Metadata& metadata, const std::string& key) {
    const auto it = metadata.find(key);
    if (it == metadata.end()) return std::nullopt;
    double value = 0;
    const char *first = it->second.data(), *last = first + it->second.size();
    const auto [end, error] = std::from_chars(first, last, value);
    if (error != std::errc() || end != last) return std::nullopt;
    return value;
}

// A metrics.jsonl record: the step, the split, every figure, and the learning rate of a training step.
nlohmann::ordered_json record(std::int64_t step, const char* split, const Figures& figures, std::optional<double> lr = std::nullopt) {
    nlohmann::ordered_json r = {{"step", step}, {"split", split}};
    for (const Figure& f : figures) r[f.name] = f.value;
    if (lr) r["lr"] = *lr;
    return r;
}

// ", sop_accuracy 81.20%, mlm_loss 4.1000": the figures beyond the loss and the accuracy.
std::string other_figures(const Figures& figures) {
    std::string text;
    for (const Figure& f : figures) {
        if (f.name == "loss" || f.name == "accuracy") continue;
        char value[48];
        if (f.name.ends_with("accuracy")) std::snprintf(value, sizeof value, " %.2f%%", 100 * f.value);
        else std::snprintf(value, sizeof value, " %.4f", f.value);
        text += ", " + f.name + value;
    }
    return text;
}

void write_plot(const std::string& run_dir) {
    const std::string svg = plot_svg({{run_label(run_dir), read_metrics(run_dir + "/metrics.jsonl")}});
    io::write_file_atomically(run_dir + "/curves.svg", svg);
}

}  // namespace

// Refused before the first matrix product: OpenBLAS reserves 128 MiB for each thread that
// multiplies matrices and, when that fails, retries for ever (deaf to SIGTERM), and the C library
// reserves 64 MiB for each thread that allocates. The floor, 256 MiB and 256 MiB per thread, leaves
// room for the rest of a small run.
void check_address_space(int threads) {
    rlimit limit{};
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    constexpr std::uint64_t mib = std::uint64_t{1} << 20;
    const std::uint64_t needed = (256 + 256 * static_cast<std::uint64_t>(threads)) * mib;
    NYX_CHECK(limit.rlim_cur >= needed, "the address space is limited to ", limit.rlim_cur / mib, " MiB (ulimit -v ", limit.rlim_cur / 1024,
              "), and nyx-train with ", threads, threads == 1 ? " thread" : " threads", " needs at least ", needed / mib,
              " MiB (256 MiB, and 256 MiB per thread for OpenBLAS's and the C library's buffers); raise it (ulimit -v ", needed / 1024,
              " or more)", threads > 1 ? " or use fewer --threads" : "");
}

std::optional<Evaluation> evaluate(Objective& objective, const std::string& split, const Config& c, const std::string& label) {
    nn::Module& model = objective.model();
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    const AutocastGuard autocast(c.precision == "bf16");
    // In a data-parallel job rank r takes batches r, r + K, ..., and the sums are added up. The ranks
    // go through the batches in rounds of K, and before each round agree whether to stop.
    const int ranks = dist::world_size();
    const data::Dataset& dataset = objective.split(split);
    data::LoaderOptions options = objective.loader_options(false);
    options.batch_size = c.batch, options.bucket = c.bucket, options.prefetch = ranks == 1;
    data::Loader loader(dataset, options);
    const std::int64_t batches = loader.batches_per_epoch();
    EvalProgress progress(label, batches);
    Tensor sums = zeros({static_cast<std::int64_t>(objective.sums_size())}, f64);
    for (std::int64_t round = 0; round < batches; round += ranks) {
        if (interrupted_on_any_rank()) {
            model.train(was_training);
            return std::nullopt;
        }
        if (const std::int64_t i = round + dist::rank(); i < batches) {
            loader.seek(i);
            const Sums batch_sums = objective.forward(loader.next()).sums;
            for (std::size_t k = 0; k < batch_sums.size(); ++k) sums.data<double>()[k] += batch_sums[k];
        }
        progress.update(std::min(round + ranks, batches));
    }
    dist::all_reduce(sums);
    model.train(was_training);
    const std::vector<double> total = sums.to_vector();
    return Evaluation{objective.figures(total), dataset.size()};
}

namespace {

// Ctrl-C and SIGTERM ask the run to stop after its step while this lives, however the run ends.
struct InterruptHandlers {
    InterruptHandlers() {
        interrupted.store(false);
        std::signal(SIGINT, on_interrupt);
        std::signal(SIGTERM, on_interrupt);
    }
    ~InterruptHandlers() { std::signal(SIGINT, SIG_DFL), std::signal(SIGTERM, SIG_DFL); }
    InterruptHandlers(const InterruptHandlers&) = delete;
    InterruptHandlers& operator=(const InterruptHandlers&) = delete;
};

// One training run, in the phases train() calls: set-up or resume (the constructor), one step,
// evaluation and checkpoint, and the report. In a data-parallel job (mpirun -np K) every rank
// runs it; rank 0 alone touches the run directory and prints (main() silences the others).
class Run {
  public:
    Run(Config config, bool resume);
    bool finished() const { return step_ >= c_.steps && !validation_due_; }
    std::int64_t step() const { return step_; }
    // The step ended an --eval-every interval, or the run, and its validation has not ended yet
    // (after a resume too, when Ctrl-C stopped the validation: the checkpoint says so).
    bool validation_due() const { return validation_due_; }
    // Where to resume from, for an error's message.
    std::string last_good() const {
        if (!lead_) return latest_ + " on rank 0's machine, if it has written one yet";
        return fs::exists(latest_) ? latest_ : std::string("(none yet)");
    }

    struct StepResult {
        data::Batch batch;
        bool stop = false;  // some rank was interrupted: all stop after this step
    };
    StepResult train_step();
    bool evaluate_and_checkpoint();  // false when interrupted: nothing is written
    // After Ctrl-C: checkpoint, then exit status 130. `batch` is the last step's, none when no step
    // ran since the resume (the weights are then the checkpoint's).
    int save_and_stop(const data::Batch* batch);
    int report();  // the test split and the summary: exit status 0 (130 when interrupted)

  private:
    void set_up_directory(bool resume);
    void resume_from_checkpoint();
    void print_start(bool resume) const;
    void check_run_dir() const {  // before each write: still the directory this process locked
        if (lead_) held_->check_unchanged();
    }
    void check_weights() const;                        // before any checkpoint: finite, and one replica
    void check_divergence(double loss, bool checkpoint_due);
    void check_weights_loss(double loss) const;        // the loss of the weights a checkpoint would hold
    double batch_loss(const data::Batch& batch);
    void before_checkpoint();                          // a checkpoint never covers unwritten metrics
    void save_latest();
    std::string steps_text() const;

    static constexpr const char* stopping = "; stopping (try a lower --lr or --clip 1, or find the op with --detect-anomaly)";
    static constexpr std::int64_t divergence_steps = 10;

    Config c_;
    const Clock::time_point started_ = Clock::now();
    const int ranks_ = dist::world_size();
    const bool lead_ = dist::rank() == 0;
    std::optional<RunDirectory> held_;
    std::string dir_, latest_, best_path_;
    io::Metadata run_metadata_;
    Generator generator_;  // initialises the weights, then drives dropout
    std::unique_ptr<Objective> objective_;  // the data and the model, and how a batch is scored
    nn::Module* model_ = nullptr;           // the objective's
    std::unique_ptr<optim::AdamW> optimizer_;
    std::unique_ptr<optim::LRScheduler> schedule_;
    std::int64_t step_ = 0, first_step_ = 0;
    bool validation_due_ = false;
    Progress::Smoothed resumed_smoothing_;
    Tensor best_ = full({1}, -1.0, f64);  // the best validation accuracy so far
    std::unique_ptr<dist::DataParallel> parallel_;
    std::unique_ptr<data::Loader> loader_;
    std::optional<MetricsWriter> metrics_, speed_;
    std::optional<Progress> progress_;
    std::vector<Tensor> parameter_list_;
    double train_seconds_ = 0, interval_seconds_ = 0;
    double seconds_before_ = 0;   // the run's wall-clock seconds before this process (its checkpoint's)
    bool seconds_known_ = false;  // seconds_before_ came from the checkpoint
    std::int64_t trained_positions_ = 0, trained_tokens_ = 0, interval_positions_ = 0;
    // Divergence: a guess that knows nothing has the loss Objective::uniform_loss (ln of the number
    // of classes), so a loss a hundred times that, step after step, is a run that is no longer
    // learning (a learning rate far too high, say). It stops the run as a non-finite loss does.
    double divergence_loss_ = 0;
    std::int64_t steps_above_ = 0;
    std::optional<InterruptHandlers> handlers_;  // from the first step to the last
};

Run::Run(Config config, bool resume) : c_(std::move(config)) {
    // c.threads stays as given (0: chosen here), so that a resume with another K chooses afresh.
    if (c_.threads > 0) set_num_threads(static_cast<int>(c_.threads));
    else if (ranks_ > 1 && !std::getenv("NYX_NUM_THREADS")) set_num_threads(threads_per_rank());
    check_address_space(num_threads());
    set_up_directory(resume);

    std::printf("nyx-train %s: loading the data...\n", c_.task.c_str());
    std::fflush(stdout);
    generator_ = Generator(derived_seed(c_.seed, Stream::model));
    objective_ = make_objective(c_, generator_);  // sets max_positions and classes, and validates
    model_ = &objective_->model();
    run_metadata_ = {{"config", to_json(c_, objective_->model_json()).dump()}};
    optimizer_ = std::make_unique<optim::AdamW>(model_->named_parameters(),
                                                optim::AdamWOptions{.lr = c_.lr, .eps = 1e-6, .weight_decay = c_.weight_decay});
    const optim::Schedule kind = c_.schedule == "linear" ? optim::Schedule::linear
                                 : c_.schedule == "cosine" ? optim::Schedule::cosine
                                                           : optim::Schedule::constant;
    schedule_ = std::make_unique<optim::LRScheduler>(*optimizer_, optim::ScheduleOptions{.kind = kind, .warmup_steps = c_.warmup, .total_steps = c_.steps});
    if (resume) resume_from_checkpoint();
    generator_ = dist::rank_stream(generator_);                 // each rank its own dropout masks
    parallel_ = std::make_unique<dist::DataParallel>(*model_);  // rank 0's weights on every rank; each backward() averages the gradients
    data::LoaderOptions loading = objective_->loader_options(true);
    loading.batch_size = c_.batch, loading.shuffle = true, loading.drop_last = true, loading.seed = derived_seed(c_.seed, Stream::loader);
    loading.bucket = c_.bucket, loading.shards = ranks_, loading.shard = dist::rank();
    loader_ = std::make_unique<data::Loader>(objective_->split("train"), loading);
    loader_->seek(step_);
    // Only now, with everything accepted, does the run directory change.
    if (lead_) {
        check_run_dir();
        metrics_.emplace(dir_ + "/metrics.jsonl", step_, !validation_due_), speed_.emplace(dir_ + "/speed.jsonl", step_, true);  // read, not yet written
        if (!seconds_known_) {  // a checkpoint from before it held its time: speed.jsonl's last at its step
            const auto times = read_seconds(dir_ + "/speed.jsonl", step_);
            seconds_before_ = times && !times->empty() ? times->back().second : 0;
        }
        if (!resume)
            for (const auto& [name, bytes] : objective_->run_files()) io::write_file_atomically(dir_ + "/" + name, bytes);
        io::write_file_atomically(dir_ + "/config.json", to_json(c_, objective_->model_json()).dump(2) + "\n");
        metrics_->start(), speed_->start();
    }
    first_step_ = step_;
    print_start(resume);

    handlers_.emplace();
    progress_.emplace(step_, c_.steps, resumed_smoothing_);
    parameter_list_ = model_->parameters();
    divergence_loss_ = 100 * objective_->uniform_loss();
}

// Rank 0 holds the run directory, locked, for the whole run. Nothing in it changes before the
// data, the configuration and the checkpoint are all accepted, but the lock file (which names
// the holder) and the temporary files of a killed write (which are removed).
void Run::set_up_directory(bool resume) {
    if (lead_) {
        check_usage(c_.batch % ranks_ == 0, "--batch ", c_.batch, " is the whole batch of the ", ranks_, " ranks, who take equal shares of it, ",
                    "so it must be a multiple of ", ranks_, "; try --batch ", std::max<std::int64_t>(1, c_.batch / ranks_) * ranks_);
        if (c_.run_dir.empty()) c_.run_dir = new_run_dir(c_);
        if (!resume) check_new_run_directory(c_.run_dir);
        held_.emplace(c_.run_dir);
        const std::string latest = c_.run_dir + "/latest.safetensors";
        if (resume) check_usage(fs::exists(latest), c_.run_dir, " has no latest.safetensors to resume from; start it afresh without --resume");
        else  // a directory whose run stopped before its first checkpoint may be started afresh
            check_usage(!fs::exists(latest), c_.run_dir, " already holds a run; continue it with --resume ", c_.run_dir, ", or choose another --run-dir");
        remove_stale_temporaries(c_.run_dir);  // safe: no other process has the directory
    }
    dist::broadcast(c_.run_dir);
    dir_ = c_.run_dir, latest_ = dir_ + "/latest.safetensors", best_path_ = dir_ + "/best.safetensors";
}

// A checkpoint written by any number of ranks: the state is the same on all of them.
void Run::resume_from_checkpoint() {
    const io::Safetensors checkpoint = read_on_rank_0(latest_);
    // The checkpoint must be this run's, not another's of the same shape (another seed, say).
    if (const auto d = first_difference(config_of(checkpoint, latest_), c_))
        throw Error(detail::cat(latest_, " is not this run's checkpoint: its configuration has ", d->key, " ", d->first, " where ", dir_,
                                "/config.json has ", d->second, " (copied from another run?); resume the run it belongs to, or start "
                                "afresh without --resume"));
    // ...and its model the one the options build for the data (checkpoints from before config.json
    // had its "model" section have none to compare).
    check_data_matches(checkpoint, latest_, objective_->model_json());
    step_ = nn::load_training_state(checkpoint, latest_, *model_, *optimizer_, schedule_.get(), generator_);
    check_loaded_weights(*model_, latest_);
    const io::Metadata& m = checkpoint.metadata;
    validation_due_ = m.contains(validation_key) && m.at(validation_key) == "pending";
    // A checkpoint saved with its validation pending (Ctrl-C during it) may end the run with that
    // validation: --steps may equal its step, never fall below it.
    check_usage(step_ < c_.steps || (validation_due_ && step_ == c_.steps), dir_, " already ran ", step_, " steps; give --steps ",
                validation_due_ ? "of at least " : "larger than ", step_, " to continue it");
    const std::optional<double> loss = metadata_number(m, smoothed_loss_key), accuracy = metadata_number(m, smoothed_accuracy_key);
    if (loss && accuracy) resumed_smoothing_ = {*loss, *accuracy, true};  // checkpoints from before: smoothed afresh
    if (const std::optional<double> seconds = metadata_number(m, seconds_key)) seconds_before_ = *seconds, seconds_known_ = true;
    if (lead_)  // the validations the checkpoint covers
        for (const MetricsRecord& r : read_metrics(dir_ + "/metrics.jsonl"))
            if (r.split == "val" && (r.step < step_ || (r.step == step_ && !validation_due_)))
                best_.data<double>()[0] = std::max(best_.data<double>()[0], r.accuracy);
    dist::broadcast(best_);
}

void Run::print_start(bool resume) const {
    const std::string threads = detail::cat(num_threads(), num_threads() == 1 ? " thread" : " threads");
    const std::string layout = ranks_ > 1 ? detail::cat(ranks_, " ranks × ", threads) : threads;
    std::printf("%s: %s; %s attention, %ld parameters, %s\n%s %s from step %ld to %ld\n", c_.task.c_str(), objective_->describe().c_str(),
                c_.attn.c_str(), static_cast<long>(model_->parameter_count()), layout.c_str(), resume ? "resuming" : "training", dir_.c_str(),
                static_cast<long>(step_), static_cast<long>(c_.steps));
    if (const std::string details = objective_->details(); !resume && !details.empty()) std::printf("%s\n", details.c_str());
    // The learning rate of step s (counted from 0) is s / warmup of its peak during the warm-up.
    if (c_.warmup >= c_.steps)
        std::printf("warning: --warmup %ld is not shorter than --steps %ld: the learning rate rises to only %.0f%% of --lr %g, and "
                    "never decays; give a shorter --warmup (or leave it out: tools/train/README.md, \"Warm-up\")\n",
                    static_cast<long>(c_.warmup), static_cast<long>(c_.steps), 100.0 * static_cast<double>(c_.steps - 1) / static_cast<double>(c_.warmup), c_.lr);
    if (c_.precision == "bf16")
        std::printf("mixed precision: bf16 products, f32 weights and everything else (%s)\n",
                    blas::native_bf16() ? "this CPU multiplies bf16 natively"
                                        : "this CPU has no AVX512_BF16, so the products multiply bf16-rounded values as f32: "
                                          "bf16's results at f32's speed");
}

void Run::check_weights() const {
    if (const std::string bad = first_non_finite_weight(*model_); !bad.empty())
        throw Error(detail::cat("the weights became non-finite (", bad, ")", stopping));
    dist::check_replicas_identical(*model_);
}

void Run::check_divergence(double loss, bool checkpoint_due) {
    steps_above_ = loss > divergence_loss_ ? steps_above_ + 1 : 0;
    if (steps_above_ < divergence_steps && (steps_above_ == 0 || !checkpoint_due)) return;  // no checkpoint from such a step
    const std::string when = steps_above_ >= divergence_steps ? detail::cat("for ", steps_above_, " steps in a row") : "where a checkpoint was due";
    throw Error(detail::cat("the loss diverged: ", loss, " is above ", divergence_loss_, " (100 times ", objective_->uniform_loss_text(),
                            ", a uniform guess's loss) ", when, stopping));
}

// A step's training loss comes from the weights before its update, so the weights a checkpoint
// would hold are checked too, by a loss computed from them (validation's, or the step's batch
// again, in eval mode so that no dropout mask is drawn).
void Run::check_weights_loss(double loss) const {
    if (!(loss <= divergence_loss_))  // NaN and +inf too
        throw Error(detail::cat("the loss diverged: the weights after this step give the loss ", loss, ", above ", divergence_loss_,
                                " (100 times ", objective_->uniform_loss_text(), ", a uniform guess's loss)", stopping));
}

double Run::batch_loss(const data::Batch& batch) {
    NoGradGuard no_grad;
    const AutocastGuard autocast(c_.precision == "bf16");
    model_->eval();
    Tensor loss = tensor({objective_->forward(batch).loss.item<float>()}, f64);
    model_->train();
    dist::all_reduce(loss);
    return loss.item<double>() / ranks_;
}

void Run::before_checkpoint() {
    check_run_dir();
    if (lead_) metrics_->sync(), speed_->sync();
}

void Run::save_latest() {
    before_checkpoint();
    io::Metadata m = run_metadata_;
    if (validation_due_) m.emplace(validation_key, "pending");
    if (const Progress::Smoothed& s = progress_->smoothed(); s.started)
        m.emplace(smoothed_loss_key, exact_text(s.loss)), m.emplace(smoothed_accuracy_key, exact_text(s.accuracy));
    m.emplace(seconds_key, exact_text(seconds_before_ + seconds_since(started_)));  // the run's wall-clock time, for speed.jsonl
    if (lead_) nn::save_training_state(latest_, step_, *model_, *optimizer_, schedule_.get(), generator_, m);
}

Run::StepResult Run::train_step() {
    const auto step_start = Clock::now();
    StepResult result{loader_->next()};
    const data::Batch& batch = result.batch;
    const Objective::Output out = [&] {
        const AutocastGuard autocast(c_.precision == "bf16");  // the backward follows each op's forward
        return objective_->forward(batch);
    }();
    const Tensor& loss = out.loss;
    optimizer_->zero_grad();
    loss.backward();  // with K ranks, returns with the gradients averaged over them
    if (c_.clip > 0) optim::clip_grad_norm(parameter_list_, c_.clip);
    const double lr = optimizer_->lr();
    optimizer_->step();
    schedule_->step();
    ++step_;
    // The step over the whole batch: the ranks' sums, positions and tokens, and whether any was
    // interrupted (so that all stop after the same step).
    std::vector<double> totals = out.sums;
    totals.insert(totals.end(), {static_cast<double>(batch.mask.numel()), static_cast<double>(batch.tokens), interrupted.load() ? 1.0 : 0.0});
    Tensor summed = from_vector(totals, {static_cast<std::int64_t>(totals.size())});
    dist::all_reduce(summed);
    totals = summed.to_vector();
    const std::size_t k = out.sums.size();
    const Figures figures = objective_->figures(std::span<const double>(totals).first(k));
    const double loss_value = figure(figures, "loss"), accuracy = figure(figures, "accuracy");
    const auto step_positions = static_cast<std::int64_t>(totals[k]);
    result.stop = totals[k + 2] > 0;
    const double seconds = seconds_since(step_start);
    if (step_ == first_step_ + 1) parallel_->reset_stats();  // the first step also waits for the slowest rank's start
    train_seconds_ += seconds, interval_seconds_ += seconds;
    trained_positions_ += step_positions, interval_positions_ += step_positions, trained_tokens_ += static_cast<std::int64_t>(totals[k + 1]);
    NYX_CHECK(std::isfinite(loss_value), "the loss became ", std::isnan(loss_value) ? "NaN" : loss_value > 0 ? "Inf" : "-Inf", stopping);
    validation_due_ = step_ % c_.eval_every == 0 || step_ == c_.steps;
    check_divergence(loss_value, validation_due_ || (result.stop && step_ < c_.steps));

    const bool logged = step_ % c_.log_every == 0 || step_ == c_.steps;
    const double tokens_per_s = static_cast<double>(interval_positions_) / interval_seconds_;
    if (logged && lead_) {
        check_run_dir();
        metrics_->write(record(step_, "train", figures, lr));
        speed_->write({{"step", step_},
                       {"tokens_per_s", std::round(tokens_per_s)},
                       {"seconds", std::round((seconds_before_ + seconds_since(started_)) * 1000) / 1000}});
    }
    if (logged) interval_seconds_ = 0, interval_positions_ = 0;
    progress_->update(step_, loss_value, accuracy, lr, tokens_per_s, logged);
    return result;
}

bool Run::evaluate_and_checkpoint() {
    check_weights();
    const std::optional<Evaluation> val = evaluate(*objective_, "val", c_, "val");
    if (!val) return false;
    const double val_loss = figure(val->figures, "loss"), val_accuracy = figure(val->figures, "accuracy");
    if (val->examples > 0) check_weights_loss(val_loss);
    check_run_dir();
    if (lead_) metrics_->write(record(step_, "val", val->figures));
    validation_due_ = false;
    const bool improved = val_accuracy > best_.data<double>()[0];
    if (improved) {
        best_.data<double>()[0] = val_accuracy;
        io::Metadata m = run_metadata_;
        m.emplace("step", std::to_string(step_));
        m.emplace("val_accuracy", std::to_string(val_accuracy));
        before_checkpoint();
        if (lead_) nn::save_weights(best_path_, *model_, m);
    }
    save_latest();
    progress_->say("step %ld: validation loss %.4f, accuracy %.2f%%%s%s", static_cast<long>(step_), val_loss, 100 * val_accuracy,
                   other_figures(val->figures).c_str(), improved ? " (best so far)" : "");
    return true;
}

int Run::save_and_stop(const data::Batch* batch) {
    check_weights();
    if (batch) check_weights_loss(batch_loss(*batch));
    save_latest();
    if (lead_) write_plot(dir_);
    progress_->say("interrupted at step %ld%s: saved %s\ncontinue with: nyx-train %s --resume %s", static_cast<long>(step_),
                   validation_due_ ? ", during its validation (a resume validates it first)" : "", latest_.c_str(), c_.task.c_str(), dir_.c_str());
    handlers_.reset();
    return 130;
}

// "300 steps", or after a resume the steps this process ran: "107 steps (194-300, resumed at step 193)".
std::string Run::steps_text() const {
    const std::int64_t ran = c_.steps - first_step_;
    const std::string text = detail::cat(ran, ran == 1 ? " step" : " steps");
    if (first_step_ == 0) return text;
    if (ran == 0) return detail::cat(text, " (resumed at step ", first_step_, " for its validation)");
    return detail::cat(text, " (", first_step_ + 1, "-", c_.steps, ", resumed at step ", first_step_, ")");
}

int Run::report() {
    progress_->finish();
    nn::load_weights(read_on_rank_0(best_path_), best_path_, *model_);
    const std::optional<Evaluation> test = evaluate(*objective_, "test", c_, "test");
    handlers_.reset();
    if (lead_) {
        check_run_dir();
        if (test) metrics_->write(record(step_, "test", test->figures));
        write_plot(dir_);
    }
    if (!test) {
        std::printf("interrupted during the test evaluation; the run is done and saved (nyx-train eval %s tests it)\n", dir_.c_str());
        return 130;
    }
    const double per_second = train_seconds_ > 0 ? 1 / train_seconds_ : 0;
    const std::int64_t ran = c_.steps - first_step_;
    char per_step[64] = "";
    if (ran > 0) std::snprintf(per_step, sizeof per_step, " (%.1f ms per step while training)", 1e3 * train_seconds_ / static_cast<double>(ran));
    std::printf("test accuracy %.2f%% (loss %.4f, %s%s; best validation accuracy %.2f%%); %s\n"
                "%s in %s%s; while training %s tokens/s (padded positions; %s without the padding); peak memory %.0f MB\n",
                100 * figure(test->figures, "accuracy"), figure(test->figures, "loss"),
                examples_text(test->examples, objective_->split_size_before_cap("test")).c_str(), other_figures(test->figures).c_str(),
                100 * best_.data<double>()[0], objective_->baseline("test").c_str(), steps_text().c_str(), clock_text(seconds_since(started_)).c_str(), per_step,
                rate_text(static_cast<double>(trained_positions_) * per_second).c_str(),
                rate_text(static_cast<double>(trained_tokens_) * per_second).c_str(), peak_rss_mb());
    if (const dist::CommStats& s = parallel_->stats(); s.steps > 0) {
        const auto n = static_cast<double>(s.steps);
        std::printf("data parallel: %d ranks; per step (after the first) %.2f MB of gradients averaged in %ld buckets: allreduce "
                    "%.2f ms, of which %.2f ms after backward() ended\n",
                    ranks_, static_cast<double>(s.bytes) / n / 1e6, static_cast<long>(parallel_->buckets()), 1e3 * s.allreduce_seconds / n,
                    1e3 * s.exposed_seconds / n);
    }
    std::printf("run directory %s, plot %s/curves.svg\n", dir_.c_str(), dir_.c_str());
    return 0;
}

}  // namespace

int train(Config c, bool resume) {
    Run run(std::move(c), resume);
    std::optional<data::Batch> last;  // the last step's batch
    while (!run.finished()) {
        // A run that Ctrl-C stopped during a validation resumes with that validation.
        const bool step = !run.validation_due();
        const std::int64_t current = run.step() + (step ? 1 : 0);
        try {  // an error names its step and the last good checkpoint, which it leaves as it was
            bool stop = false;
            if (step) {
                Run::StepResult result = run.train_step();
                stop = result.stop, last = std::move(result.batch);
            }
            if (run.validation_due() && !run.evaluate_and_checkpoint()) stop = true;
            if (stop && !run.finished()) return run.save_and_stop(last ? &*last : nullptr);
        } catch (const UsageError& e) {
            throw UsageError(detail::cat("at step ", current, ": ", e.what(), "\nThe last good checkpoint is ", run.last_good()));
        } catch (const Error& e) {
            throw Error(detail::cat("at step ", current, ": ", e.what(), "\nThe last good checkpoint is ", run.last_good()));
        }
    }
    return run.report();
}

namespace {

// The checkpoint file of `target`: a run directory's best.safetensors (else latest.safetensors),
// or the file itself.
std::string checkpoint_path(const std::string& target, std::int64_t threads) {
    if (threads > 0) set_num_threads(static_cast<int>(threads));
    check_address_space(num_threads());
    check_usage(fs::exists(target), target, ": no such run directory or checkpoint file");
    std::string path = target;
    if (fs::is_directory(target)) {
        path = target + "/best.safetensors";
        if (!fs::exists(path)) path = target + "/latest.safetensors";
        check_usage(fs::exists(path), target, " holds no best.safetensors or latest.safetensors; is it a nyx-train run directory?");
    }
    return path;
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& target, std::int64_t threads) {
    const std::string path = checkpoint_path(target, threads);
    const io::Safetensors file = io::load_safetensors(path);
    LoadedCheckpoint loaded{path, config_of(file, path), {}, nullptr};
    loaded.config.run_dir = fs::path(path).parent_path().string();  // a fine-tuning run's tokenizer.model, wherever the run was moved
    check_usage(loaded.config.task != "pretrain", path, " is a pretrain run's checkpoint; this command reads classifiers' (fine-tune it "
                "first: nyx-train finetune --from RUN)");
    loaded.data = load_data(loaded.config);
    const models::ClassifierConfig from_data = model_config(loaded.config, loaded.data.train);
    if (models::checkpoint_model_config(file, path)) {
        check_data_matches(file, path, models::to_json(from_data));  // text classes renamed would swap the labels silently
        loaded.model = models::load_checkpoint(file, path).model;  // as its "model" section describes it
    } else {  // a checkpoint from before the section: the model the options build for the data
        Generator generator(loaded.config.seed);
        loaded.model = std::make_shared<models::EncoderClassifier>(from_data.encoder, from_data.classes, generator);
        nn::load_weights(file, path, *loaded.model);
    }
    check_loaded_weights(*loaded.model, path);
    loaded.model->eval();
    return loaded;
}

const data::SequenceDataset& split_of(const Splits& s, const std::string& split) {
    NYX_CHECK(split == "train" || split == "val" || split == "test", "--split must be train, val or test, got ", split);
    return split == "train" ? s.train : split == "val" ? s.val : s.test;
}

int evaluate_checkpoint(const std::string& target, const std::string& split, std::int64_t threads, std::int64_t eval_size) {
    std::string path;
    Config config;
    Generator generator;
    std::unique_ptr<Objective> objective;
    const std::string file_path = checkpoint_path(target, threads);
    const io::Safetensors file = io::load_safetensors(file_path);
    if (config_of(file, file_path).task == "pretrain") {
        // Pretraining's objective, made as the run made it, with the checkpoint's weights.
        path = file_path, config = config_of(file, path);
        config.eval_size = eval_size;
        config.run_dir = fs::path(path).parent_path().string();  // its tokenizer.model, wherever the run was moved
        objective = make_objective(config, generator);
        check_data_matches(file, path, objective->model_json());
        nn::load_weights(file, path, objective->model());
        check_loaded_weights(objective->model(), path);
    } else {
        LoadedCheckpoint loaded = load_checkpoint(target, threads);
        path = loaded.path, config = loaded.config;
        objective = classification_of(std::move(loaded.data), loaded.model, eval_size);
    }
    const Evaluation e = evaluate(*objective, split, config, split).value();  // no Ctrl-C handler here: Ctrl-C ends the process
    std::printf("%s: %s accuracy %.2f%% (loss %.4f, %s%s); %s\n", path.c_str(), split.c_str(), 100 * figure(e.figures, "accuracy"),
                figure(e.figures, "loss"), examples_text(e.examples, objective->split_size_before_cap(split)).c_str(),
                other_figures(e.figures).c_str(), objective->baseline(split).c_str());
    return 0;
}

int plot_runs(const std::vector<std::string>& run_dirs, std::string output, const std::string& x, const std::string& metric) {
    check_usage(x == "step" || x == "minutes", "--x must be step or minutes, got ", x);
    std::vector<PlotSeries> runs;
    for (const std::string& dir : run_dirs) {
        const std::string file = dir + "/metrics.jsonl";
        check_usage(fs::is_directory(dir), dir, fs::exists(dir) ? " is not a directory; give a run directory" : ": no such run directory");
        check_usage(fs::exists(file), dir, " has no metrics.jsonl; is it a nyx-train run directory?");
        PlotSeries series{run_label(dir), read_metrics(file, metric), {}};
        if (x == "minutes") {
            // Each record at the wall-clock time of its step, interpolated between the logged steps.
            const auto logged = read_seconds(dir + "/speed.jsonl");
            check_usage(logged.has_value(), dir, "/speed.jsonl has no wall-clock times (a run begun before they were logged); plot it with --x step");
            check_usage(!logged->empty(), dir, " has logged no step yet; plot it when it has");
            const auto& times = *logged;
            for (const MetricsRecord& r : series.records) {
                auto after = std::lower_bound(times.begin(), times.end(), r.step, [](const auto& t, std::int64_t s) { return t.first < s; });
                double seconds = after == times.end() ? times.back().second : after->second;
                if (after != times.end() && after->first != r.step) {
                    const std::int64_t from_step = after == times.begin() ? 0 : std::prev(after)->first;
                    const double from = after == times.begin() ? 0 : std::prev(after)->second;
                    seconds = from + (after->second - from) * static_cast<double>(r.step - from_step) / static_cast<double>(after->first - from_step);
                }
                series.x.push_back(seconds / 60);
            }
        }
        runs.push_back(std::move(series));
    }
    if (output.empty()) output = run_dirs.size() == 1 ? run_dirs.front() + "/curves.svg" : "comparison.svg";
    check_writable_folder_of(output, "--output");
    check_usage(std::any_of(runs.begin(), runs.end(),
                            [&](const PlotSeries& r) { return std::any_of(r.records.begin(), r.records.end(), [&](const MetricsRecord& m) {
                                                           return m.line.find("\"" + metric + "\":") != std::string::npos;
                                                       }); }),
                "--metric ", metric, ": no run logs it (every run logs accuracy; pretrain runs also sop_accuracy, mlm_loss and sop_loss)");
    io::write_file_atomically(output, plot_svg(runs, x == "minutes" ? "minutes (wall clock)" : "step", metric));
    std::printf("wrote %s\n", output.c_str());
    return 0;
}

}  // namespace nyx::train
