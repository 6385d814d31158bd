// nn (continued): safetensors files and checkpoints.
#include <cstring>

#include <nlohmann/json.hpp>

#include "test_util.hpp"

using namespace nyx;
namespace fs = std::filesystem;

namespace {

// A file made by hand: an 8-byte little-endian length (the header's, unless given), the header text, the data.
std::string craft(const std::string& header, const std::string& data, std::uint64_t length = UINT64_MAX) {
    if (length == UINT64_MAX) length = header.size();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    return out + header + data;
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("safetensors round-trips every dtype, rank 0, empty and non-contiguous tensors, and metadata") {
    const fs::path folder = scratch_folder("roundtrip");
    Generator gen(1);
    const io::TensorMap tensors{{"a.f32", randn({2, 3}, f32, gen)},
                                {"b.f64", randn({4}, f64, gen)},
                                {"c.i64", randint(-5, 5, {3, 1, 2}, gen)},
                                {"d.scalar", scalar(2.5, f64)},
                                {"e.empty", zeros({0, 3})},
                                {"f.transposed", randn({3, 2}, f32, gen).transpose(0, 1)}};
    io::save_safetensors(folder / "t.safetensors", tensors, {{"note", "hello"}});
    const io::Safetensors back = io::load_safetensors(folder / "t.safetensors");
    REQUIRE(back.tensors.size() == tensors.size());
    for (const auto& [name, t] : tensors) {
        INFO(name);
        const Tensor& u = back.tensors.at(name);
        CHECK(u.shape() == t.shape());
        CHECK(u.dtype() == t.dtype());
        CHECK(values(u) == values(t));
    }
    CHECK(back.metadata == io::Metadata{{"note", "hello"}});
    // No temporary file is left beside the target.
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 1);
    fs::remove_all(folder);
}

TEST_CASE("the bytes nyx writes read back with an independent reader") {
    const fs::path folder = scratch_folder("independent");
    const Tensor a = tensor({1.5, -2, 3.25}, f32), b = from_vector<std::int64_t>({7, -8}, {2, 1});
    io::save_safetensors(folder / "x.safetensors", {{"a", a}, {"b", b}});
    const std::string bytes = read_bytes(folder / "x.safetensors");
    // The format by hand: u64 little-endian length, JSON, then raw little-endian data.
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
    CHECK(length % 8 == 0);  // the header is padded so the data is 8-byte aligned
    const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, length));
    const std::string data = bytes.substr(8 + length);
    CHECK(header["a"]["dtype"] == "F32");
    CHECK(header["a"]["shape"] == nlohmann::json::array({3}));
    CHECK(header["b"]["dtype"] == "I64");
    CHECK(header["b"]["shape"] == nlohmann::json::array({2, 1}));
    float floats[3];
    std::memcpy(floats, data.data() + header["a"]["data_offsets"][0].get<std::size_t>(), sizeof floats);
    CHECK(floats[0] == 1.5f);
    CHECK(floats[1] == -2.0f);
    CHECK(floats[2] == 3.25f);
    std::int64_t ints[2];
    std::memcpy(ints, data.data() + header["b"]["data_offsets"][0].get<std::size_t>(), sizeof ints);
    CHECK(ints[0] == 7);
    CHECK(ints[1] == -8);
    CHECK(data.size() == 3 * 4 + 2 * 8);
    fs::remove_all(folder);
}

TEST_CASE("each validation rule rejects a crafted bad file, naming the file and the problem") {
    const fs::path folder = scratch_folder("invalid");
    const std::string path = folder / "bad.safetensors";
    const std::string eight(8, '\0');
    auto rejects = [&](const std::string& bytes, const std::string& expected) {
        write_bytes(path, bytes);
        CHECK_ERROR_CONTAINS(io::load_safetensors(path), path, expected);
    };
    rejects("12345", "fewer than the 8-byte header length");
    rejects(craft("{}", "", 0), "outside 1..");
    rejects(craft("{}", "", (std::uint64_t{100} << 20) + 1), "outside 1..");
    rejects("{\"task\": \"listops\"}\n", "not a safetensors file: it starts with the text \"{\"task\": \"listops\"}\"");  // a text file
    rejects(std::string("\x7f\x45\x4c\x46\x02\x01\x01\x00", 8) + "more", "not a safetensors file (bytes 0-7, the header length, read ");  // a program
    rejects(craft("{}", "", 50), "runs past the end of the file");
    rejects(craft("{\"a\": ", ""), "not valid JSON");
    rejects(craft("[1, 2]", ""), "does not start with '{'");
    rejects(craft("\xEF\xBB\xBF{}", ""), "does not start with '{'");  // a byte-order mark
    rejects(craft(R"({"a": {"dtype": "F32", "dtype": "F64", "shape": [1], "data_offsets": [0, 4]}})", "1234"), "names a key twice");
    rejects(craft(R"({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "1234"), "empty name");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "1234"),
            "names a key twice");
    rejects(craft(R"({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", "1234"), "dtype \"F16\" is not one nyx reads");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "1234"), "shape entry 0 is not a size >= 0");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", ""), "tensor \"a\": the shape");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [0, 4611686018427387904, 4], "data_offsets": [0, 0]}})", ""), "tensor \"a\": the shape");
    // A deeply nested shape is reported, not printed (printing it would recurse a million levels).
    rejects(craft(R"({"a": {"dtype": "F32", "shape": )" + std::string(1000000, '[') + std::string(1000000, ']') +
                      R"(, "data_offsets": [0, 0]}})", ""),
            "shape entry 0 is not a size >= 0");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [1]}})", "1234"), "needs an object with dtype, shape and data_offsets");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", "1234"), "two integers");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", "1234"), "hold 4 bytes, but shape [2] of F32 needs 8");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}})", eight), "do not lie inside the 8 data bytes");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                  eight + "1234"),
            "the spans overlap");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                  eight + "1234"),
            "a hole in the data");
    rejects(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", eight), "4 bytes after the last tensor");
    rejects(craft(R"({"__metadata__": {"k": 3}})", ""), "__metadata__ value of \"k\" is not a string");
    CHECK_ERROR_CONTAINS(io::load_safetensors(folder / "missing.safetensors"), "missing.safetensors", "cannot open");
    // 50 entries that all claim the same megabyte are rejected before any of them is allocated.
    std::string many = "{";
    for (int i = 0; i < 50; ++i) many += (i ? ", " : "") + std::string("\"t") + std::to_string(i) + R"(": {"dtype": "F32", "shape": [262144], "data_offsets": [0, 1048576]})";
    write_bytes(path, craft(many + "}", std::string(1 << 20, '\0')));
    const std::size_t before = memory::stats().live_bytes;
    memory::reset_peak();
    CHECK_ERROR_CONTAINS(io::load_safetensors(path), "the spans overlap");
    CHECK(memory::stats().peak_live_bytes - before < (1u << 20));
    // A valid crafted file with padding after the JSON and an empty tensor reads fine.
    const std::string padded = craft(R"({"e": {"dtype": "I64", "shape": [0], "data_offsets": [0, 0]}}  )", "");
    const io::Safetensors ok =
        io::parse_safetensors({reinterpret_cast<const unsigned char*>(padded.data()), padded.size()}, "memory");
    CHECK(ok.tensors.at("e").numel() == 0);
    fs::remove_all(folder);
}

TEST_CASE("a failed save leaves nothing behind and does not touch an existing file") {
    const fs::path folder = scratch_folder("atomic");
    CHECK_ERROR_CONTAINS(io::save_safetensors(folder / "no" / "such" / "dir.safetensors", {{"a", ones({2})}}), "save_safetensors",
                         "cannot create");
    io::save_safetensors(folder / "m.safetensors", {{"a", ones({2})}});
    CHECK_ERROR_CONTAINS(io::save_safetensors(folder / "m.safetensors", {{"__metadata__", ones({2})}}), "cannot name a tensor");
    CHECK(values(io::load_safetensors(folder / "m.safetensors").tensors.at("a")) == std::vector<double>{1, 1});
    // The rename fails (the target is a folder that is not empty) after the temporary file was
    // written: it is removed, and the file beside it is untouched.
    fs::create_directories(folder / "taken" / "inside");
    CHECK_ERROR_CONTAINS(io::save_safetensors(folder / "taken", {{"a", zeros({2})}}), "save_safetensors", "cannot complete");
    CHECK(values(io::load_safetensors(folder / "m.safetensors").tensors.at("a")) == std::vector<double>{1, 1});
    CHECK(std::distance(fs::directory_iterator(folder), fs::directory_iterator()) == 2);  // m.safetensors and taken/
    fs::remove_all(folder);
}

TEST_CASE("weights round-trip into a fresh model; a training state resumes with bitwise-identical losses") {
    const fs::path folder = scratch_folder("resume");
    const models::EncoderConfig config{.vocab = 8, .max_len = 12, .dim = 16, .heads = 2, .head_dim = 8, .hidden = 32, .layers = 2,
                                       .dropout = 0.1, .attention = nn::NystromOptions{.landmarks = 4, .conv_kernel = 3}};
    Generator data_gen(42);
    const Tensor ids = randint(0, 8, {64, 12}, data_gen), labels = randint(0, 3, {64}, data_gen);
    Tensor mask = ones({64, 12});
    mask.narrow(1, 9, 3).narrow(0, 0, 32).zero_();  // half the sequences padded
    auto batch = [&](std::int64_t step) { return (step * 8) % 64; };

    // One run of 30 steps, saving the training state after step 10.
    Generator gen(7);
    models::EncoderClassifier model(config, 3, gen);
    optim::AdamW opt(model.named_parameters(), {.lr = 3e-3, .eps = 1e-6, .weight_decay = 0.01});
    optim::LRScheduler schedule(opt, {.kind = optim::Schedule::linear, .warmup_steps = 5, .total_steps = 30});
    auto train_step = [&](models::EncoderClassifier& m, optim::AdamW& o, optim::LRScheduler& s, std::int64_t step) {
        const std::int64_t start = batch(step);
        const Tensor loss = ops::cross_entropy(m(ids.narrow(0, start, 8), mask.narrow(0, start, 8)), labels.narrow(0, start, 8));
        loss.backward();
        optim::clip_grad_norm(m.parameters(), 1.0);
        o.step();
        s.step();
        o.zero_grad();
        return loss.item<double>();
    };
    std::vector<double> uninterrupted;
    for (std::int64_t step = 0; step < 30; ++step) {
        const double loss = train_step(model, opt, schedule, step);
        if (step >= 10) uninterrupted.push_back(loss);
        if (step == 9) nn::save_training_state(folder / "state.safetensors", 10, model, opt, &schedule, gen);
    }

    // A fresh process's view: new objects, another seed; everything comes from the file.
    Generator other(999);
    models::EncoderClassifier resumed_model(config, 3, other);
    optim::AdamW resumed_opt(resumed_model.named_parameters(), {.lr = 3e-3, .eps = 1e-6, .weight_decay = 0.01});
    optim::LRScheduler resumed_schedule(resumed_opt, {.kind = optim::Schedule::linear, .warmup_steps = 5, .total_steps = 30});
    const std::int64_t start = nn::load_training_state(folder / "state.safetensors", resumed_model, resumed_opt, &resumed_schedule, other);
    CHECK(start == 10);
    std::vector<double> resumed;
    for (std::int64_t step = start; step < 30; ++step) resumed.push_back(train_step(resumed_model, resumed_opt, resumed_schedule, step));
    CHECK(resumed.size() == 20);
    CHECK(resumed == uninterrupted);

    // Weights alone.
    nn::save_weights(folder / "model.safetensors", model);
    Generator third(3);
    models::EncoderClassifier copy(config, 3, third);
    nn::load_weights(folder / "model.safetensors", copy);
    model.eval(), copy.eval();
    CHECK(values(copy(ids, mask)) == values(model(ids, mask)));
    CHECK_ERROR_CONTAINS(nn::load_training_state(folder / "model.safetensors", copy, resumed_opt, nullptr, third),
                         "not a nyx training state", "load_weights");
    // A training state whose metadata was tampered with is refused, naming the file and the key.
    io::Safetensors state = io::load_safetensors(folder / "state.safetensors");
    state.metadata["lr"] = "0.003abc";
    io::save_safetensors(folder / "tampered.safetensors", state.tensors, state.metadata);
    CHECK_ERROR_CONTAINS(nn::load_training_state(folder / "tampered.safetensors", resumed_model, resumed_opt, nullptr, other),
                         "tampered.safetensors", "\"lr\"", "not a number");
    // A checkpoint of another model is refused with the list of differences.
    models::EncoderClassifier bigger({.vocab = 8, .max_len = 12, .dim = 24, .heads = 2, .head_dim = 8, .hidden = 32, .layers = 1}, 3);
    CHECK_ERROR_CONTAINS(nn::load_weights(folder / "model.safetensors", bigger), "Unexpected: blocks.1.", "Mis-shaped: ");

    // load_weights reads the model's part of a training state; extra metadata travels with it.
    nn::save_training_state(folder / "meta.safetensors", 30, model, opt, &schedule, gen, {{"config", "{\"a\": 1}"}});
    CHECK(io::load_safetensors(folder / "meta.safetensors").metadata.at("config") == "{\"a\": 1}");
    models::EncoderClassifier from_state(config, 3, third);
    nn::load_weights(folder / "meta.safetensors", from_state);
    from_state.eval();
    CHECK(values(from_state(ids, mask)) == values(model(ids, mask)));
    CHECK_ERROR_CONTAINS(nn::save_training_state(folder / "x.safetensors", 1, model, opt, &schedule, gen, {{"step", "2"}}), "\"step\"",
                         "nyx's own");
    // A state whose weights are refused changes neither the model nor the optimizer.
    io::Safetensors broken = io::load_safetensors(folder / "state.safetensors");
    broken.tensors.at("model/norm.weight") = zeros({3});
    io::save_safetensors(folder / "broken.safetensors", broken.tensors, broken.metadata);
    const auto snapshot = [](const nn::StateDict& state) {
        std::map<std::string, std::vector<double>> out;
        for (const auto& [key, t] : state) out[key] = values(t);
        return out;
    };
    const auto optimizer_before = snapshot(resumed_opt.state_dict()), model_before = snapshot(resumed_model.state_dict());
    CHECK_ERROR_CONTAINS(nn::load_training_state(folder / "broken.safetensors", resumed_model, resumed_opt, nullptr, other), "Mis-shaped");
    CHECK(snapshot(resumed_opt.state_dict()) == optimizer_before);
    CHECK(snapshot(resumed_model.state_dict()) == model_before);
    // So does one whose step or schedule position is out of range.
    for (const auto& [key, value] : {std::pair{"step", "-1"}, {"step", "18446744073709551615"}, {"schedule_position", "-5"}}) {
        io::Safetensors odd = io::load_safetensors(folder / "state.safetensors");
        odd.metadata[key] = value;
        io::save_safetensors(folder / "odd.safetensors", odd.tensors, odd.metadata);
        const double lr_before = resumed_opt.lr();
        CHECK_ERROR_CONTAINS(nn::load_training_state(folder / "odd.safetensors", resumed_model, resumed_opt, &resumed_schedule, other),
                             "odd.safetensors");
        CHECK(resumed_opt.lr() == lr_before);
        CHECK(snapshot(resumed_opt.state_dict()) == optimizer_before);
        CHECK(snapshot(resumed_model.state_dict()) == model_before);
    }
    fs::remove_all(folder);
}

TEST_CASE("a training state resumed under a schedule planned over more steps takes the new schedule's learning rate at once") {
    const fs::path folder = scratch_folder("resume-longer");
    const auto plan = [](std::int64_t total) {
        return optim::ScheduleOptions{.kind = optim::Schedule::linear, .warmup_steps = 2, .total_steps = total};
    };
    // A run of 10 steps, to the end of its schedule: its last learning rate is 0.
    Generator gen(1);
    nn::Linear layer(3, 1, {}, gen);
    optim::AdamW opt(layer.named_parameters(), {.lr = 1e-3, .eps = 1e-6, .weight_decay = 0});
    optim::LRScheduler schedule(opt, plan(10));
    for (int step = 0; step < 10; ++step) {
        layer(ones({4, 3})).sum().backward();
        opt.step();
        schedule.step();
        opt.zero_grad();
    }
    CHECK(opt.lr() == 0);
    nn::save_training_state(folder / "state.safetensors", 10, layer, opt, &schedule, gen);
    // Resumed with 20 steps in all: step 11 runs at the new plan's rate, 1e-3 · (20 - 10) / (20 - 2).
    nn::Linear resumed_layer(3, 1, {}, gen);
    optim::AdamW resumed(resumed_layer.named_parameters(), {.lr = 1e-3, .eps = 1e-6, .weight_decay = 0});
    optim::LRScheduler longer(resumed, plan(20));
    CHECK(nn::load_training_state(folder / "state.safetensors", resumed_layer, resumed, &longer, gen) == 10);
    CHECK(longer.position() == 10);
    CHECK(resumed.lr() == doctest::Approx(1e-3 * optim::lr_factor(plan(20), 10)).epsilon(1e-12));
    CHECK(resumed.lr() == doctest::Approx(5.5556e-4).epsilon(1e-4));
    // Without a schedule the saved rate is restored.
    optim::AdamW constant(resumed_layer.named_parameters(), {.lr = 0.5, .eps = 1e-6, .weight_decay = 0});
    nn::load_training_state(folder / "state.safetensors", resumed_layer, constant, nullptr, gen);
    CHECK(constant.lr() == 0);
    fs::remove_all(folder);
}

}  // TEST_SUITE
