// nyx-bench: the end-to-end measurements that ../shared/anchors/torch_nystrom.py makes for
// PyTorch, with the same flags and the same JSON fields, so that the two compare line by line.
//
//   nyx-bench train     [--attn nystrom|softmax] [--n 2048] [--batch 8] ...   one AdamW step of the encoder
//   nyx-bench attention [--attn ...] [--forward-only] ...                     the attention module alone
//   nyx-bench gemm      [--shape M,N,K] [--size S]                           nyx's products against the libraries
//   mpirun -np K nyx-bench allreduce [--mb 4]                                 dist::all_reduce of f32 gradients
// train and attention take --precision f32|bf16 (bf16: under nyx::AutocastGuard, as the yardstick's
// --precision bf16 runs under torch.autocast).
//
// It prints one JSON line (gemm: one per shape). Times are medians over --steps after --warmup.
// peak_rss_mb is the process's peak; base_rss_mb what it held before any model or data existed;
// module_mb (attention) the most the caching allocator held above its inputs during a step;
// gflop_per_step (train) the step's FLOPs as train_gflop counts them, and gflops its rate. gemm
// times one M×K by K×N product on --threads threads: nyx's matmul in f32 and under autocast
// (bf16 inputs, f32 result), and OpenBLAS's sgemm and oneDNN's f32 and bf16 matmul called directly,
// split into row blocks over the threads as nyx splits a product.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <nyx/core/blas.hpp>
#include <nyx/core/onednn.hpp>
#include <nyx/nyx.hpp>

using namespace nyx;

namespace {

struct Flags {
    std::string attn = "nystrom";
    std::int64_t n = 2048, batch = 8, dim = 64, hidden = 128, heads = 2, head_dim = 32, layers = 2, vocab = 32, landmarks = 64, conv = 35;
    std::int64_t projected_length = 256, features = 256;  // Linformer's k, Performer's m
    double dropout = 0.1;
    bool forward_only = false;
    std::string precision = "f32";
    std::vector<std::string> shapes;  // gemm: "M,N,K"; the table when empty and no --size
    std::int64_t size = 0;            // gemm: one square product
    double mb = 4;             // allreduce
    int threads = 2, steps = 5, warmup = 2;
    std::uint64_t seed = 0;
};

double peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024;
}

double current_rss_mb() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// The median of `steps` timed runs after `warmup` untimed ones, in seconds.
double median_seconds(const Flags& f, const std::function<void()>& step) {
    std::vector<double> times;
    for (int i = 0; i < f.warmup + f.steps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        step();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (i >= f.warmup) times.push_back(seconds);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

nn::AttentionOptions attention_options(const Flags& f) {
    if (f.attn == "softmax") return nn::SoftmaxOptions{.dropout = f.dropout};
    if (f.attn == "linformer") return nn::LinformerOptions{.projected_length = f.projected_length, .max_length = f.n};
    if (f.attn == "performer") return nn::PerformerOptions{.features = f.features};
    return nn::NystromOptions{.landmarks = f.landmarks, .conv_kernel = f.conv};
}

// The FLOPs of one training step, in units of 10⁹: 2·m·n·k for each matrix product of the forward
// pass and 2 per multiply-add of the Nyström convolution, times 3 for forward and backward (a
// product's backward is two products of its size). Elementwise work (softmax, layer norm, AdamW)
// is not counted.
double train_gflop(const Flags& f) {
    const auto B = static_cast<double>(f.batch), n = static_cast<double>(f.n), D = static_cast<double>(f.dim),
               h = static_cast<double>(f.heads), d = static_cast<double>(f.head_dim), H = static_cast<double>(f.hidden),
               m = static_cast<double>(f.landmarks);
    double layer = 2 * B * n * D * (h * d) * 4  // the Q, K, V and output projections
                   + 2 * B * n * D * H * 2;     // the MLP's two layers
    const nn::AttentionOptions options = attention_options(f);
    const auto* nystrom = std::get_if<nn::NystromOptions>(&options);
    if (const auto* linformer = std::get_if<nn::LinformerOptions>(&options)) {
        const auto k = static_cast<double>(linformer->projected_length);
        layer += B * h * 2 * (2 * k * n * d) + B * h * 2 * (2 * n * k * d);  // E K and F V, then Q K̄ᵀ and the weights times V̄
    } else if (const auto* performer = std::get_if<nn::PerformerOptions>(&options)) {
        const auto m = static_cast<double>(performer->features);
        layer += B * h * (2 * (2 * n * d * m)          // ω Q and ω K
                          + 2 * m * n * d + 2 * n * m * d  // φ(K)ᵀ V, and φ(Q) times it
                          + 2 * n * m);                    // φ(Q) times φ(K)ᵀ 1
    } else if (!nystrom || nystrom->landmarks >= f.n) {
        layer += B * h * 2 * (2 * n * n * d);  // Q Kᵀ, and the weights times V
    } else {
        const auto iterations = static_cast<double>(nystrom->pinv_iterations);
        layer += B * h * (2 * n * m * d                    // Q K̃ᵀ
                          + 2 * m * m * d                  // Q̃ K̃ᵀ
                          + 2 * m * n * d * 2              // Q̃ Kᵀ, and B V
                          + iterations * 4 * 2 * m * m * m  // four m×m products per pseudo-inverse iteration
                          + 2 * n * m * m + 2 * n * m * d);  // F Z, and (F Z)(B V)
    }
    if (nystrom) layer += 2 * B * h * n * d * static_cast<double>(nystrom->conv_kernel);  // the depthwise convolution
    const double head = 2 * B * D * H + 2 * B * H * 10;  // the classifier on the pooled output
    return 3 * (static_cast<double>(f.layers) * layer + head) / 1e9;
}

std::string train(const Flags& f, Generator& gen) {
    models::EncoderConfig config{.vocab = f.vocab, .max_len = f.n, .dim = f.dim, .heads = f.heads, .head_dim = f.head_dim,
                                 .hidden = f.hidden, .layers = f.layers, .dropout = f.dropout, .attention = attention_options(f)};
    models::EncoderClassifier model(config, 10, gen);
    optim::AdamW opt(model.named_parameters(), {.lr = 1e-4, .eps = 1e-6, .weight_decay = 0});
    const Tensor ids = randint(1, f.vocab, {f.batch, f.n}, gen), mask = ones({f.batch, f.n}), labels = randint(0, 10, {f.batch}, gen);
    const double seconds = median_seconds(f, [&] {
        Tensor loss;
        {
            AutocastGuard autocast(f.precision == "bf16");
            loss = ops::cross_entropy(model(ids, mask), labels);
        }
        opt.zero_grad();
        loss.backward();
        opt.step();
    });
    char out[240];
    std::snprintf(out, sizeof out, "\"step_ms\": %.2f, \"tokens_per_s\": %.0f, \"gflop_per_step\": %.3f, \"gflops\": %.1f",
                  seconds * 1e3, static_cast<double>(f.batch * f.n) / seconds, train_gflop(f), train_gflop(f) / seconds);
    return out;
}

// One M×K by K×N product per library, in GFLOP/s; the libraries are called as nyx calls them, on
// row blocks of the product, one per thread.
std::string gemm(const Flags& f, Generator& gen, std::int64_t m, std::int64_t n, std::int64_t k) {
    const Tensor a = randn({m, k}, f32, gen), b = randn({k, n}, f32, gen), c = empty({m, n});
    const Tensor a16 = a.to(bf16), b16 = b.to(bf16);
    const double flop = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    auto rate = [&](const std::function<void()>& product) { return flop / median_seconds(f, product) / 1e9; };
    auto split = [&](auto library) {
        return [&, library] {
            const std::int64_t rows = (m + f.threads - 1) / f.threads;
            parallel_for(0, m, rows, [&](std::int64_t first, std::int64_t last) { library(first, last); });
        };
    };
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* pc = c.data<float>();
    const double openblas = rate(split([&](std::int64_t first, std::int64_t last) {
        blas::openblas_gemm<float>(false, false, last - first, n, k, pa + first * k, k, pb, n, 0.f, pc + first * n, n);
    }));
    double onednn_f32 = 0, onednn_bf16 = 0;
    if (onednn::available()) {
        onednn_f32 = rate(split([&](std::int64_t first, std::int64_t last) {
            onednn::gemm(false, false, last - first, n, k, pa + first * k, k, pb, n, false, pc + first * n, n);
        }));
        onednn_bf16 = rate(split([&](std::int64_t first, std::int64_t last) {
            onednn::gemm(false, false, last - first, n, k, a16.data<bfloat16>() + first * k, k, b16.data<bfloat16>(), n, false,
                         pc + first * n, n);
        }));
    }
    const double nyx_f32 = rate([&] { a.matmul(b); });
    const double nyx_bf16 = rate([&] {
        AutocastGuard autocast;
        a.matmul(b);
    });
    char out[400];
    std::snprintf(out, sizeof out,
                  "\"m\": %ld, \"n\": %ld, \"k\": %ld, \"isa\": \"%s\", \"gflops\": {\"nyx_f32\": %.1f, \"nyx_bf16\": %.1f, "
                  "\"openblas_f32\": %.1f, \"onednn_f32\": %.1f, \"onednn_bf16\": %.1f}, \"nyx_backend\": {\"f32\": \"%s\", \"bf16\": \"%s\"}",
                  static_cast<long>(m), static_cast<long>(n), static_cast<long>(k), onednn::isa_name(), nyx_f32, nyx_bf16,
                  openblas, onednn_f32, onednn_bf16, std::string(blas::name(blas::backend_for(f32))).c_str(),
                  blas::native_bf16() ? "oneDNN bf16" : "f32 products of bf16-rounded inputs");
    return out;
}

// The time of one allreduce of `mb` MiB of f32, as data-parallel training averages gradients: the
// ranks meet at a barrier first (so that one rank's late start is not counted), and each
// repetition counts the slowest rank's time.
std::string allreduce(const Flags& f) {
    Tensor t = ones({std::max<std::int64_t>(1, static_cast<std::int64_t>(f.mb * (1 << 20) / 4))});
    Tensor times = zeros({f.warmup + f.steps}, f64);
    for (int i = 0; i < f.warmup + f.steps; ++i) {
        dist::barrier();
        const auto start = std::chrono::steady_clock::now();
        dist::all_reduce(t);
        times.data<double>()[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    dist::all_reduce(times, dist::ReduceOp::max);
    std::vector<double> timed(times.data<double>() + f.warmup, times.data<double>() + f.warmup + f.steps);
    std::nth_element(timed.begin(), timed.begin() + static_cast<std::ptrdiff_t>(timed.size() / 2), timed.end());
    const double seconds = timed[timed.size() / 2], bytes = static_cast<double>(t.numel()) * 4;
    char out[200];
    std::snprintf(out, sizeof out, "\"ranks\": %d, \"mb\": %.3f, \"ms\": %.3f, \"gb_per_s\": %.2f", dist::world_size(), bytes / (1 << 20),
                  seconds * 1e3, bytes / seconds / 1e9);
    return out;
}

std::string attention(const Flags& f, Generator& gen) {
    std::shared_ptr<nn::Attention> module;
    const nn::AttentionOptions options = attention_options(f);
    if (f.attn == "softmax") module = std::make_shared<nn::SoftmaxAttention>();
    else if (f.attn == "linformer") module = std::make_shared<nn::LinformerAttention>(f.heads, std::get<nn::LinformerOptions>(options), f32, gen);
    else if (f.attn == "performer") module = std::make_shared<nn::PerformerAttention>(f.head_dim, std::get<nn::PerformerOptions>(options), f32, gen);
    else module = std::make_shared<nn::NystromAttention>(f.heads, std::get<nn::NystromOptions>(options), f32, gen);
    auto input = [&] {
        Tensor t = randn({f.batch, f.heads, f.n, f.head_dim}, f32, gen);
        return f.forward_only ? t : t.requires_grad_();
    };
    const Tensor q = input(), k = input(), v = input(), mask = ones({f.batch, f.n});
    const std::size_t inputs = memory::stats().live_bytes;
    memory::reset_peak();
    const double seconds = median_seconds(f, [&] {
        AutocastGuard autocast(f.precision == "bf16");
        if (f.forward_only) {
            NoGradGuard no_grad;
            (*module)(q, k, v, mask);
        } else {
            (*module)(q, k, v, mask).sum().backward();
        }
    });
    char out[160];
    std::snprintf(out, sizeof out, "\"ms\": %.2f, \"module_mb\": %.1f", seconds * 1e3,
                  static_cast<double>(memory::stats().peak_live_bytes - inputs) / (1 << 20));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    dist::Session session(argc, argv);  // the allreduce mode runs under mpirun
    if (dist::rank() > 0 && !std::freopen("/dev/null", "w", stdout)) return 1;
    CLI::App app{"nyx-bench: the PyTorch yardstick's measurements, taken with nyx (one JSON line out)"};
    app.require_subcommand(1);
    Flags f;
    CLI::App *gemm_mode = nullptr, *allreduce_mode = nullptr;
    for (CLI::App* mode : {app.add_subcommand("train", "one optimiser step of the EncoderClassifier on random tokens"),
                           app.add_subcommand("attention", "the attention module alone on random Q, K, V [batch, heads, n, head_dim]"),
                           gemm_mode = app.add_subcommand("gemm", "matrix products [M, K] x [K, N]: nyx's against OpenBLAS's and oneDNN's"),
                           allreduce_mode = app.add_subcommand("allreduce", "under mpirun: one allreduce of --mb MiB of f32 over the ranks")}) {
        mode->add_option("--threads", f.threads, "threads")->check(CLI::Range(1, 4096))->capture_default_str();
        mode->add_option("--steps", f.steps, "timed steps")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--warmup", f.warmup, "untimed steps first")->check(CLI::NonNegativeNumber)->capture_default_str();
        mode->add_option("--seed", f.seed, "random seed")->capture_default_str();
        if (mode == gemm_mode) {
            mode->add_option("--size", f.size, "one square product: rows = columns = inner dimension")->check(CLI::Range(1, 1 << 15));
            mode->add_option("--shape", f.shapes, "M,N,K (repeatable); default: 2048,2048,2048 16384,64,64 16384,128,64 "
                                                  "2048,64,2048 8192,256,256")
                ->check([](const std::string& text) {
                    long m = 0, n = 0, k = 0;
                    char end = 0;
                    if (std::sscanf(text.c_str(), "%ld,%ld,%ld%c", &m, &n, &k, &end) != 3 || m < 1 || n < 1 || k < 1 ||
                        m > (1 << 16) || n > (1 << 16) || k > (1 << 16))
                        return std::string("expected M,N,K: three sizes from 1 to 65536, as 2048,64,2048");
                    return std::string();
                });
            continue;
        }
        if (mode == allreduce_mode) {
            mode->add_option("--mb", f.mb, "MiB of f32 to reduce")->check(CLI::Range(1e-6, 4096.0))->capture_default_str();
            continue;
        }
        mode->add_option("--attn", f.attn, "attention module")
            ->check(CLI::IsMember({"nystrom", "softmax", "linformer", "performer"}))
            ->capture_default_str();
        mode->add_option("--n", f.n, "sequence length")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--batch", f.batch, "sequences per step")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--dim", f.dim, "model width")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--hidden", f.hidden, "MLP width")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--heads", f.heads, "attention heads")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--head-dim", f.head_dim, "width of a head")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--layers", f.layers, "transformer blocks")->check(CLI::NonNegativeNumber)->capture_default_str();
        mode->add_option("--vocab", f.vocab, "vocabulary size")->check(CLI::Range(2, 1 << 30))->capture_default_str();
        mode->add_option("--landmarks", f.landmarks, "Nyström landmarks")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--conv", f.conv, "Nyström conv kernel (odd; 0 = off)")->check(CLI::NonNegativeNumber)->capture_default_str();
        mode->add_option("--projected-length", f.projected_length, "Linformer's k")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--features", f.features, "Performer's random features m")->check(CLI::PositiveNumber)->capture_default_str();
        mode->add_option("--dropout", f.dropout, "dropout probability")->check(CLI::Range(0.0, 0.99))->capture_default_str();
        mode->add_option("--precision", f.precision, "f32, or bf16: mixed precision under nyx::AutocastGuard")
            ->check(CLI::IsMember({"f32", "bf16"}))
            ->capture_default_str();
        if (mode->get_name() == "attention") mode->add_flag("--forward-only", f.forward_only, "time the forward pass only");
    }
    CLI11_PARSE(app, argc, argv);
    const std::string mode = app.get_subcommands().front()->get_name();
    try {
        set_num_threads(f.threads);
        Generator gen(f.seed);
        const double base = current_rss_mb();  // before any model or data
        auto print = [&](const std::string& out) {
            char shape[200] = "";  // the model's configuration, which gemm and allreduce do not have
            if (mode == "train" || mode == "attention")
                std::snprintf(shape, sizeof shape, "\"attn\": \"%s\", \"n\": %ld, \"batch\": %ld, \"precision\": \"%s\", ",
                              f.attn.c_str(), static_cast<long>(f.n), static_cast<long>(f.batch), f.precision.c_str());
            std::printf("{\"system\": \"nyx-%s\", \"mode\": \"%s\", %s\"threads\": %d, %s, \"peak_rss_mb\": %.0f, \"base_rss_mb\": %.0f}\n",
                        NYX_VERSION, mode.c_str(), shape, f.threads, out.c_str(), peak_rss_mb(), base);
        };
        if (mode == "gemm") {
            if (f.size > 0) f.shapes.push_back(std::to_string(f.size) + "," + std::to_string(f.size) + "," + std::to_string(f.size));
            if (f.shapes.empty()) f.shapes = {"2048,2048,2048", "16384,64,64", "16384,128,64", "2048,64,2048", "8192,256,256"};
            for (const std::string& text : f.shapes) {
                long m = 0, n = 0, k = 0;
                std::sscanf(text.c_str(), "%ld,%ld,%ld", &m, &n, &k);
                print(gemm(f, gen, m, n, k));
            }
            return 0;
        }
        print(mode == "train" ? train(f, gen) : mode == "attention" ? attention(f, gen) : allreduce(f));
        return 0;
    } catch (const nyx::Error& e) {
        std::fprintf(stderr, "nyx-bench: %s\n", e.what());
        return 1;
    }
}
