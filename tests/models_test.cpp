// models: EncoderConfig and ClassifierConfig as JSON (models/config_json.hpp), and a run directory
// loaded back with models::load_run (models/run.hpp): identical logits, and errors that say what to fix.
#include <regex>

#include "test_util.hpp"

using namespace nyx;
namespace fs = std::filesystem;

namespace {

const models::ClassifierConfig nystrom_classifier{
    .encoder = {.vocab = 17, .max_len = 40, .dim = 16, .heads = 2, .head_dim = 8, .hidden = 24, .layers = 2, .dropout = 0.25, .attention = nn::NystromOptions{.landmarks = 4, .pinv_iterations = 5, .pinv_start = nn::PinvStart::per_matrix, .conv_kernel = 3}},
    .classes = 3,
    .class_names = {"low", "middle", "high"}};

// A run directory as nyx-train leaves it, from a model of `config`: config.json holds the task,
// options of the trainer's own (which load_run leaves alone) and the "model" section, and each
// checkpoint's metadata repeats it.
std::string run_config(const models::ClassifierConfig& config) {
    return "{\"task\": \"listops\", \"steps\": 30, \"model\": " + models::to_json(config, 2) + "}\n";
}

void write_run(const fs::path& dir, const models::ClassifierConfig& config, models::EncoderClassifier& model, Generator& generator) {
    fs::create_directories(dir);
    write_bytes(dir / "config.json", run_config(config));
    nn::save_weights(dir / "best.safetensors", model, {{"config", run_config(config)}, {"step", "20"}});
    optim::AdamW optimizer(model.named_parameters(), {.lr = 1e-3});
    nn::save_training_state(dir / "latest.safetensors", 30, model, optimizer, nullptr, generator, {{"config", run_config(config)}});
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("an EncoderConfig is JSON with the library's names, and reads back equal") {
    const models::EncoderConfig softmax{.vocab = 257, .input_features = 16, .max_len = 1000, .dim = 32, .heads = 4, .head_dim = 8, .hidden = 64, .layers = 0, .dropout = 0.1, .attention = nn::SoftmaxOptions{.dropout = 0.05}, .dtype = f64};
    CHECK(models::to_json(softmax) ==
          R"({"vocab":257,"input_features":16,"max_len":1000,"dim":32,"heads":4,"head_dim":8,"hidden":64,"layers":0,"dropout":0.1,)"
          R"("attention":{"kind":"softmax","dropout":0.05},"dtype":"f64"})");
    CHECK(models::encoder_config_from_json(models::to_json(softmax), "softmax") == softmax);
    CHECK(models::encoder_config_from_json(models::to_json(softmax, 2), "indented") == softmax);

    const models::EncoderConfig& nystrom = nystrom_classifier.encoder;
    CHECK(models::to_json(nystrom).find(R"("attention":{"kind":"nystrom","landmarks":4,"pinv_iterations":5,"pinv_start":"per_matrix","conv_kernel":3})") !=
          std::string::npos);
    CHECK(models::encoder_config_from_json(models::to_json(nystrom), "nystrom") == nystrom);
    CHECK(models::encoder_config_from_json(models::to_json(models::EncoderConfig{}), "defaults") == models::EncoderConfig{});
    CHECK_FALSE(nystrom == softmax);
    // A dual encoder (pairs) says so; a configuration without the key is a single encoder.
    models::EncoderConfig dual = softmax;
    dual.dual_encoder = true;
    CHECK(models::to_json(dual).ends_with(R"("dtype":"f64","dual_encoder":true})"));
    CHECK(models::encoder_config_from_json(models::to_json(dual), "dual") == dual);
    CHECK_FALSE(dual == softmax);
    const std::string older = std::regex_replace(models::to_json(dual), std::regex(",\"dual_encoder\":true"), "");
    CHECK(models::encoder_config_from_json(older, "older") == softmax);
    CHECK_ERROR_CONTAINS(models::encoder_config_from_json(std::regex_replace(models::to_json(dual), std::regex("true"), "1"), "enc.json"),
                         "\"dual_encoder\" must be true or false, got number 1");

    // Linformer and Performer, with every Linformer sharing.
    models::EncoderConfig linformer = softmax;
    linformer.attention = nn::LinformerOptions{.projected_length = 64, .max_length = 0, .sharing = nn::LinformerSharing::key_value};
    CHECK(models::to_json(linformer).find(R"("attention":{"kind":"linformer","projected_length":64,"max_length":0,"sharing":"key_value"})") !=
          std::string::npos);
    for (auto sharing : {nn::LinformerSharing::none, nn::LinformerSharing::headwise, nn::LinformerSharing::key_value, nn::LinformerSharing::layerwise}) {
        std::get<nn::LinformerOptions>(linformer.attention).sharing = sharing;
        CHECK(models::encoder_config_from_json(models::to_json(linformer), "linformer") == linformer);
    }
    models::EncoderConfig performer = softmax;
    performer.attention = nn::PerformerOptions{.features = 128, .redraw_interval = 500};
    CHECK(models::to_json(performer).find(R"("attention":{"kind":"performer","features":128,"redraw_interval":500})") != std::string::npos);
    CHECK(models::encoder_config_from_json(models::to_json(performer), "performer") == performer);
    const std::string bad_sharing = std::regex_replace(models::to_json(linformer), std::regex("layerwise"), "per-layer");
    CHECK_ERROR_CONTAINS(models::encoder_config_from_json(bad_sharing, "enc.json"), "\"attention.sharing\" must be \"none\", \"headwise\"");

    // A classifier: the encoder's keys, then its classes and their names (or none).
    const std::string text = models::to_json(nystrom_classifier);
    CHECK(text.ends_with(R"("dtype":"f32","classes":3,"class_names":["low","middle","high"]})"));
    CHECK(models::classifier_config_from_json(text, "classifier") == nystrom_classifier);
    models::ClassifierConfig unnamed = nystrom_classifier;
    unnamed.class_names.clear();
    CHECK(models::classifier_config_from_json(models::to_json(unnamed), "unnamed") == unnamed);
    CHECK_FALSE(unnamed == nystrom_classifier);

    models::ClassifierConfig other = nystrom_classifier;
    std::get<nn::NystromOptions>(other.encoder.attention).landmarks = 8;
    const auto d = models::first_difference(nystrom_classifier, other);
    REQUIRE(d.has_value());
    CHECK(d->key == "attention.landmarks");
    CHECK(d->first == "4");
    CHECK(d->second == "8");
    CHECK_FALSE(models::first_difference(nystrom_classifier, nystrom_classifier).has_value());
}

TEST_CASE("a configuration's JSON is read strictly: errors name the source and the key") {
    const std::string good = models::to_json(nystrom_classifier);
    // `good` with `from` replaced by `to` (once).
    auto with = [&](const std::string& from, const std::string& to) {
        const std::size_t at = good.find(from);
        REQUIRE(at != std::string::npos);
        return std::string(good).replace(at, from.size(), to);
    };
    auto read = [](const std::string& text) { return models::classifier_config_from_json(text, "cfg.json", "model."); };
    CHECK_ERROR_CONTAINS(read(with(R"("max_len":40,)", "")), "cfg.json", "has no \"max_len\"");
    CHECK_ERROR_CONTAINS(read(with(R"("conv_kernel":3)", R"("conv":3)")), "cfg.json", "has no \"conv_kernel\"");
    CHECK_ERROR_CONTAINS(read(with(R"("conv_kernel":3)", R"("conv_kernel":3,"conv":3)")), "cfg.json: unknown key \"model.attention.conv\"",
                         "the library's name is \"conv_kernel\"");
    CHECK_ERROR_CONTAINS(read(with(R"("vocab":17,)", R"("vocab":17,"colour":"red",)")), "unknown key \"model.colour\"");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":"16")")), "\"model.dim\" must be an integer, got string \"16\"");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":16.5)")), "\"model.dim\" must be an integer");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":true)")), "\"model.dim\" must be an integer, got boolean");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":18446744073709551615)")), "\"model.dim\" must be an integer");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":0)")), "\"model.dim\" must lie in 1..", "got 0");
    CHECK_ERROR_CONTAINS(read(with(R"("dropout":0.25)", R"("dropout":1.5)")), "\"model.dropout\" must lie in [0, 1), got 1.5");
    CHECK_ERROR_CONTAINS(read(with(R"("kind":"nystrom")", R"("kind":"linear")")),
                         "\"model.attention.kind\" must be \"nystrom\", \"softmax\", \"linformer\" or \"performer\"");
    CHECK_ERROR_CONTAINS(read(with(R"("per_matrix")", R"("per-matrix")")), "\"model.attention.pinv_start\" must be \"original\" or \"per_matrix\"");
    CHECK_ERROR_CONTAINS(read(with(R"("conv_kernel":3)", R"("conv_kernel":4)")), "\"model.attention.conv_kernel\" must be 0", "or odd, got 4");
    CHECK_ERROR_CONTAINS(read(with(R"("dtype":"f32")", R"("dtype":"bf16")")), "\"model.dtype\" must be \"f32\" or \"f64\"");
    CHECK_ERROR_CONTAINS(read(with(R"(,"high"])", "]")), "\"model.class_names\" must name every one of the 3 classes, or be empty; it names 2");
    CHECK_ERROR_CONTAINS(read(with(R"("high")", "7")), "\"model.class_names\" must be an array of strings; item 2 is number 7");
    CHECK_ERROR_CONTAINS(read(with(R"({"kind")", R"(["kind")")), "cfg.json: not valid JSON");
    CHECK_ERROR_CONTAINS(read(with(R"("attention":{)", R"("attention":7,"x":{)")), "\"model.attention\" must be a JSON object, got number 7");
    CHECK_ERROR_CONTAINS(read(with(R"("dim":16)", R"("dim":16,"dim":32)")), "cfg.json: the key \"dim\" appears twice");
    CHECK_ERROR_CONTAINS(read("[1, 2]"), "cfg.json: \"model\" must be a JSON object, got array");
    CHECK_ERROR_CONTAINS(models::encoder_config_from_json(good, "enc.json"), "enc.json: unknown key \"classes\"");
}

TEST_CASE("load_run rebuilds a run's model in eval mode, and its logits equal the trained model's") {
    const fs::path dir = scratch_folder("load-run");
    Generator generator(5);
    models::EncoderClassifier trained(nystrom_classifier.encoder, nystrom_classifier.classes, generator);
    write_run(dir / "run", nystrom_classifier, trained, generator);

    Generator data(9);
    const Tensor ids = randint(0, 17, {4, 40}, data);
    Tensor mask = ones({4, 40});
    mask.narrow(1, 30, 10).narrow(0, 0, 2).zero_();
    trained.eval();
    const std::vector<double> expected = values(trained(ids, mask));

    for (const models::Checkpoint which : {models::Checkpoint::best, models::Checkpoint::latest}) {
        const models::LoadedRun run = models::load_run((dir / "run").string(), which);
        CHECK_FALSE(run.model->is_training());  // dropout 0.25 would change the logits
        CHECK(values((*run.model)(ids, mask)) == expected);
        CHECK(run.config == nystrom_classifier.encoder);
        CHECK(run.model->config() == nystrom_classifier.encoder);
        CHECK(run.classes == 3);
        CHECK(run.model->classes() == 3);
        CHECK(run.class_names == nystrom_classifier.class_names);
        CHECK(run.task == "listops");
        CHECK(run.step == (which == models::Checkpoint::best ? 20 : 30));
        CHECK(run.checkpoint == (dir / "run" / (which == models::Checkpoint::best ? "best.safetensors" : "latest.safetensors")).string());
    }
    // A checkpoint alone carries the same configuration, and the model outlives the LoadedRun.
    std::shared_ptr<models::EncoderClassifier> model = models::load_checkpoint((dir / "run" / "best.safetensors").string()).model;
    CHECK(values((*model)(ids, mask)) == expected);
    model->train();  // its dropout draws from a generator that lives as long as the model
    CHECK(values((*model)(ids, mask)) != expected);
    fs::remove_all(dir);
}

TEST_CASE("load_run's errors say what to fix") {
    const fs::path dir = scratch_folder("load-run-errors");
    Generator generator(5);
    models::EncoderClassifier model(nystrom_classifier.encoder, nystrom_classifier.classes, generator);
    const std::string run = (dir / "run").string();
    write_run(run, nystrom_classifier, model, generator);

    CHECK_ERROR_CONTAINS(models::load_run((dir / "nowhere").string()), "load_run: ", "nowhere: no such directory");
    CHECK_ERROR_CONTAINS(models::load_run(run + "/config.json"), "config.json is not a directory; give the run directory");
    fs::create_directories(dir / "empty");
    CHECK_ERROR_CONTAINS(models::load_run((dir / "empty").string()), "empty holds no config.json; is it a nyx-train run directory?");

    // A run from before config.json had its "model" section.
    fs::create_directories(dir / "old");
    write_bytes(dir / "old" / "config.json", R"({"task": "listops", "max_positions": 199, "conv": 15})");
    CHECK_ERROR_CONTAINS(models::load_run((dir / "old").string()), "old/config.json has no \"model\" section: the run predates",
                         "nyx-train eval", "nyx-train listops --resume ");
    // A run stopped before its first evaluation.
    fs::copy(run, dir / "young", fs::copy_options::recursive);
    fs::remove(dir / "young" / "best.safetensors");
    CHECK_ERROR_CONTAINS(models::load_run((dir / "young").string()), "young has no best.safetensors yet", "first evaluation");
    CHECK(models::load_run((dir / "young").string(), models::Checkpoint::latest).step == 30);

    // config.json edited: a model that no longer fits the checkpoint's weights (the checkpoint's
    // own section is gone, as in checkpoints from before it), or that differs from the checkpoint's section.
    models::ClassifierConfig longer = nystrom_classifier;
    longer.encoder.max_len = 2048;
    write_bytes(dir / "run" / "config.json", run_config(longer));
    CHECK_ERROR_CONTAINS(models::load_run(run), "best.safetensors is not this run's checkpoint: its model has max_len 40 where",
                         "config.json has 2048");
    nn::save_weights(dir / "run" / "best.safetensors", model, {{"config", R"({"task": "listops"})"}});
    CHECK_ERROR_CONTAINS(models::load_run(run), "position_embedding.weight", "[40, 16]", "[2048, 16]", "config.json describes does not fit",
                         "best.safetensors");
    // Sizes far beyond the checkpoint's are refused before anything is allocated for them.
    models::ClassifierConfig huge = nystrom_classifier;
    huge.encoder.dim = std::int64_t{1} << 30, huge.encoder.layers = 65536;
    write_bytes(dir / "run" / "config.json", run_config(huge));
    CHECK_ERROR_CONTAINS(models::load_run(run), "position_embedding.weight [40, 1073741824], the checkpoint has [40, 16]");
    huge = nystrom_classifier, huge.encoder.layers += 1;
    write_bytes(dir / "run" / "config.json", run_config(huge));
    CHECK_ERROR_CONTAINS(models::load_run(run), "layers, heads and head_dim give blocks.", "has no such tensor");
    huge = nystrom_classifier, huge.encoder.layers -= 1;
    write_bytes(dir / "run" / "config.json", run_config(huge));
    CHECK_ERROR_CONTAINS(models::load_run(run), "layers, but", "holds blocks.");
    write_bytes(dir / "run" / "config.json", run_config(longer));
    nn::save_weights(dir / "run" / "best.safetensors", model);
    CHECK_ERROR_CONTAINS(models::load_run(run), "position_embedding.weight");
    CHECK_ERROR_CONTAINS(models::load_checkpoint(run + "/best.safetensors"), "has no nyx-train configuration in its metadata");
    nn::save_weights(dir / "run" / "best.safetensors", model, {{"config", R"({"task": "listops"})"}});
    CHECK_ERROR_CONTAINS(models::load_checkpoint(run + "/best.safetensors"), "best.safetensors's configuration has no \"model\" section");

    // A damaged model section names config.json and the key.
    std::string damaged = run_config(nystrom_classifier);
    damaged.replace(damaged.find(R"("dim": 16)"), 9, R"("dim": "x")");
    write_bytes(dir / "run" / "config.json", damaged);
    CHECK_ERROR_CONTAINS(models::load_run(run), "run/config.json: \"model.dim\" must be an integer");
    write_bytes(dir / "run" / "config.json", R"({"model": )" + models::to_json(nystrom_classifier) + "}");
    CHECK_ERROR_CONTAINS(models::load_run(run), "config.json: the configuration has no \"task\" string");
    fs::remove_all(dir);
}

}  // TEST_SUITE
