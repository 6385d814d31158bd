#include "run.hpp"
#include "json_text.hpp"

#include <charconv>
#include <filesystem>
#include <optional>
#include <variant>

#include <nlohmann/json.hpp>

#include <nyx/autograd/record.hpp>
#include <nyx/core/file.hpp>
#include <nyx/nn/checkpoint.hpp>

namespace nyx::models {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// The error for a configuration from before nyx-train wrote its "model" section.
std::string predates(const std::string& what, const std::string& task, const std::string& run_dir) {
    return detail::cat(what, " has no \"model\" section: the run predates nyx-train writing one. `nyx-train eval ", run_dir,
                       "` still evaluates it, and resuming it once (nyx-train ", task, " --resume ", run_dir,
                       " --steps N, N past its last step) rewrites config.json with the section");
}

// A run configuration (config.json, or a checkpoint's "config" metadata): a JSON object whose
// "task" and "model" load_run reads; nyx-train's own options beside them are its business.
Json parse_run_config(std::string_view text, const std::string& source) {
    Json j = parse_json_text(text, source);
    NYX_CHECK(j.is_object(), source, ": a run configuration is a JSON object, got ", j.type_name());
    return j;
}

std::string task_of(const Json& config, const std::string& source) {
    const auto it = config.find("task");
    NYX_CHECK(it != config.end() && it->is_string(), source, ": the configuration has no \"task\" string; is it nyx-train's?");
    return it->get<std::string>();
}

std::optional<ClassifierConfig> model_section(const Json& config, const std::string& source) {
    const auto it = config.find("model");
    if (it == config.end()) return std::nullopt;
    return classifier_config_from_json(it->dump(), source, "model.");
}

// The metadata's "config" of a checkpoint nyx-train wrote.
Json checkpoint_config(const io::Safetensors& file, const std::string& source) {
    const auto it = file.metadata.find("config");
    NYX_CHECK(it != file.metadata.end(), source, " has no nyx-train configuration in its metadata; was it written by nyx-train?");
    return parse_run_config(it->second, source + " (its metadata's \"config\")");
}

std::int64_t step_of(const io::Safetensors& file) {
    const auto it = file.metadata.find("step");
    std::int64_t step = 0;
    if (it == file.metadata.end()) return 0;
    const auto [end, error] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), step);
    return error == std::errc() && end == it->second.data() + it->second.size() && step >= 0 ? step : 0;
}

// The model and the generator its dropout draws from, in one allocation: the shared_ptr to the
// model keeps both alive.
struct ModelWithGenerator {
    Generator generator{0};  // the weights it initialises are overwritten by the checkpoint's
    EncoderClassifier model;
    explicit ModelWithGenerator(const ClassifierConfig& c) : model(c.encoder, c.classes, generator) {}
};

// The sizes a configuration gives every parameter, read off the checkpoint's tensors before the
// model is built: an edited or damaged configuration could otherwise allocate a model of any size
// (2^30 wide, say) before load_weights compares a single shape.
void check_sizes(const ClassifierConfig& c, const io::Safetensors& file, const std::string& source, const std::string& described_by) {
    const EncoderConfig& e = c.encoder;
    auto shape_of = [&](const std::string& name) -> std::optional<Shape> {
        for (const std::string& key : {name, "model/" + name})  // a weights file, or a training state's model part
            if (const auto it = file.tensors.find(key); it != file.tensors.end()) return it->second.shape();
        return std::nullopt;
    };
    auto expect = [&](const std::string& name, const Shape& want, const char* keys) {
        const std::optional<Shape> got = shape_of(name);
        NYX_CHECK(got && *got == want, "the model that ", described_by, " describes does not fit ", source, ": its ", keys, " give ", name, " ",
                  to_string(want), ", the checkpoint ", got ? "has " + to_string(*got) : std::string("has no such tensor"),
                  "; the two must come from one run (was the configuration edited, or the checkpoint copied from another run?)");
    };
    expect("position_embedding.weight", {e.max_len, e.dim}, "max_len and dim");
    if (e.input_features == 0) expect("token_embedding.weight", {e.vocab, e.dim}, "vocab and dim");
    else expect("input_projection.weight", {e.dim, e.input_features}, "input_features and dim");
    expect("head.0.weight", {e.hidden, e.head_features()}, "hidden, dim and dual_encoder");
    expect("head.2.weight", {c.classes, e.hidden}, "classes and hidden");
    if (e.layers > 0) {
        const std::string last = "blocks." + std::to_string(e.layers - 1) + ".";
        expect(last + "attn.q_proj.weight", {e.heads * e.head_dim, e.dim}, "layers, heads and head_dim");
        expect(last + "mlp.0.weight", {e.hidden, e.dim}, "layers and hidden");
        if (const auto* nystrom = std::get_if<nn::NystromOptions>(&e.attention); nystrom && nystrom->conv_kernel > 0)
            expect(last + "attn.attn.conv_weight", {e.heads, nystrom->conv_kernel}, "heads and conv_kernel");
    }
    const std::string beyond = "blocks." + std::to_string(e.layers) + ".norm1.weight";
    NYX_CHECK(!shape_of(beyond), "the model that ", described_by, " describes has ", e.layers, " layers, but ", source, " holds ", beyond,
              "; the two must come from one run");
}

LoadedRun build(const ClassifierConfig& c, std::string task, const io::Safetensors& file, const std::string& source,
                const std::string& described_by) {
    check_sizes(c, file, source, described_by);
    const auto holder = std::make_shared<ModelWithGenerator>(c);
    std::shared_ptr<EncoderClassifier> model(holder, &holder->model);
    try {
        nn::load_weights(file, source, *model);
    } catch (const Error& e) {
        throw Error(detail::cat(e.what(), "\nThe model that ", described_by, " describes does not fit ", source,
                                "; the two must come from one run (was the configuration edited, or the checkpoint copied from another run?)"));
    }
    for (const auto& [name, p] : model->named_parameters())
        if (const std::string bad = autograd::first_non_finite(p); !bad.empty())
            throw Error(detail::cat(source, " holds non-finite weights (", name, " holds ", bad, "); it was damaged, or diverged"));
    model->eval();
    return {std::move(model), c.encoder, c.classes, c.class_names, std::move(task), source, step_of(file)};
}

}  // namespace

std::optional<ClassifierConfig> checkpoint_model_config(const io::Safetensors& file, const std::string& source) {
    if (!file.metadata.contains("config")) return std::nullopt;
    return model_section(checkpoint_config(file, source), source + " (its metadata's \"config\")");
}

LoadedRun load_checkpoint(const io::Safetensors& file, const std::string& source) {
    const Json config = checkpoint_config(file, source);
    const std::optional<ClassifierConfig> model = model_section(config, source + " (its metadata's \"config\")");
    const std::string task = task_of(config, source);
    if (!model) throw Error(predates(source + "'s configuration", task, "RUN_DIR"));
    return build(*model, task, file, source, "its metadata");
}

LoadedRun load_checkpoint(const std::string& path) { return load_checkpoint(io::load_safetensors(path), path); }

namespace {

// A run directory's config.json, and then its checkpoint, read; `caller` names the function in errors.
struct RunFiles {
    std::string config_path, path;
    Json config;
    io::Safetensors file;
};
RunFiles read_config(const std::string& run_dir, const char* caller) {
    NYX_CHECK(fs::exists(run_dir), caller, ": ", run_dir, ": no such directory");
    NYX_CHECK(fs::is_directory(run_dir), caller, ": ", run_dir, " is not a directory; give the run directory (which holds config.json)");
    RunFiles r{(fs::path(run_dir) / "config.json").string(), {}, {}, {}};
    NYX_CHECK(fs::exists(r.config_path), caller, ": ", run_dir, " holds no config.json; is it a nyx-train run directory?");
    r.config = parse_run_config(io::read_text_file(r.config_path), r.config_path);
    return r;
}
void read_checkpoint(RunFiles& r, const std::string& run_dir, Checkpoint which, const char* caller) {
    const char* name = which == Checkpoint::best ? "best.safetensors" : "latest.safetensors";
    r.path = (fs::path(run_dir) / name).string();
    NYX_CHECK(fs::exists(r.path), caller, ": ", run_dir, " has no ", name, " yet: nyx-train writes ",
              which == Checkpoint::best ? "it at the run's first evaluation (--eval-every)" : "it at each evaluation and on Ctrl-C",
              ", and this run stopped before", which == Checkpoint::best ? " that" : " either", "; train it further (--resume)");
    r.file = io::load_safetensors(r.path);
}

// The model and the generator its dropout draws from, in one allocation.
struct MaskedLMWithGenerator {
    Generator generator{0};  // the weights it initialises are overwritten by the checkpoint's
    MaskedLM model;
    explicit MaskedLMWithGenerator(const EncoderConfig& c) : model(c, generator) {}
};

}  // namespace

LoadedMaskedLM load_masked_lm(const std::string& run_dir, Checkpoint which) {
    RunFiles r = read_config(run_dir, "load_masked_lm");
    const auto it = r.config.find("model");
    const std::string task = task_of(r.config, r.config_path);
    NYX_CHECK(task == "pretrain" && it != r.config.end(), "load_masked_lm: ", run_dir, " is a ", task,
              " run; its model is a classifier (models::load_run loads it)");
    const EncoderConfig config = encoder_config_from_json(it->dump(), r.config_path, "model.");
    read_checkpoint(r, run_dir, which, "load_masked_lm");
    NYX_CHECK(config.segments >= 1 && config.input_features == 0, "load_masked_lm: ", r.config_path, "'s model is not a masked language model");
    const auto expect = [&](const std::string& name, const Shape& want) {  // before a model of any size is built
        const auto t = r.file.tensors.find(name), state = r.file.tensors.find("model/" + name);
        const Tensor* got = t != r.file.tensors.end() ? &t->second : state != r.file.tensors.end() ? &state->second
                                                                                                   : nullptr;
        NYX_CHECK(got && got->shape() == want, "load_masked_lm: ", r.path, " does not fit ", r.config_path, ": ", name, " should be ",
                  to_string(want), "; the two must come from one run");
    };
    expect("token_embedding.weight", {config.vocab, config.dim});
    expect("position_embedding.weight", {config.max_len, config.dim});
    expect("mlm_transform.weight", {config.dim, config.dim});
    const auto holder = std::make_shared<MaskedLMWithGenerator>(config);
    std::shared_ptr<MaskedLM> model(holder, &holder->model);
    nn::load_weights(r.file, r.path, *model);
    model->eval();
    return {std::move(model), config, r.path, step_of(r.file)};
}

LoadedRun load_run(const std::string& run_dir, Checkpoint which) {
    RunFiles r = read_config(run_dir, "load_run");
    const std::string& config_path = r.config_path;
    const std::string task = task_of(r.config, config_path);
    NYX_CHECK(task != "pretrain", "load_run: ", run_dir, " is a pretrain run; its model is a masked language model (models::load_masked_lm loads it)");
    const std::optional<ClassifierConfig> model = model_section(r.config, config_path);
    if (!model) throw Error(predates(config_path, task, run_dir));
    read_checkpoint(r, run_dir, which, "load_run");
    const std::string& path = r.path;
    const io::Safetensors& file = r.file;
    // A checkpoint from before the "model" section has none (a run resumed since keeps such a
    // best.safetensors until validation improves): config.json's then describes it alone.
    if (const std::optional<ClassifierConfig> own = checkpoint_model_config(file, path))
        if (const auto d = first_difference(*own, *model))
            throw Error(detail::cat(path, " is not this run's checkpoint: its model has ", d->key, " ", d->first, " where ", config_path,
                                    " has ", d->second, " (copied from another run, or config.json edited?)"));
    return build(*model, task, file, path, config_path);
}

}  // namespace nyx::models
