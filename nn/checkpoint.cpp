#include "checkpoint.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace nyx::nn {
namespace {

constexpr const char* format = "nyx-training-state-1";

// A number from the metadata, read locale-free and whole ("0.003abc" is an error, not 0.003).
template <class T>
T metadata_number(const io::Metadata& metadata, const std::string& key, const std::string& path) {
    const auto it = metadata.find(key);
    NYX_CHECK(it != metadata.end(), "load_training_state: ", path, ": the metadata has no \"", key, "\"");
    T value{};
    const auto [end, error] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    NYX_CHECK(error == std::errc() && end == it->second.data() + it->second.size(), "load_training_state: ", path,
              ": metadata \"", key, "\" = \"", it->second, "\" is not a number");
    return value;
}

}  // namespace

void save_weights(const std::string& path, const Module& model, const io::Metadata& metadata) {
    io::save_safetensors(path, model.state_dict(), metadata);
}

void load_weights(const std::string& path, Module& model, bool strict) { load_weights(io::load_safetensors(path), path, model, strict); }

void load_weights(const io::Safetensors& file, const std::string& path, Module& model, bool strict) {
    const auto it = file.metadata.find("format");
    StateDict weights;
    if (it == file.metadata.end() || it->second != format) {
        weights = file.tensors;
    } else {
        for (const auto& [name, t] : file.tensors)
            if (name.starts_with("model/")) weights.emplace(name.substr(6), t);
    }
    try {
        model.load_state_dict(weights, strict);
    } catch (const Error& e) {
        throw Error(detail::cat("load_weights: ", path, ": ", e.what()));
    }
}

void save_training_state(const std::string& path, std::int64_t step, const Module& model, const optim::Optimizer& optimizer,
                         const optim::LRScheduler* schedule, const Generator& generator, const io::Metadata& extra) {
    io::TensorMap tensors;
    for (const auto& [name, t] : model.state_dict()) tensors.emplace("model/" + name, t);
    for (const auto& [name, t] : optimizer.state_dict()) tensors.emplace("optimizer/" + name, t);
    char lr[32];
    const auto written = std::to_chars(lr, lr + sizeof lr, optimizer.lr());  // shortest exact form, whatever the locale
    *written.ptr = '\0';
    io::Metadata metadata{{"format", format},
                                {"step", std::to_string(step)},
                                {"schedule_position", std::to_string(schedule ? schedule->position() : 0)},
                                {"lr", lr},
                                {"rng_seed", std::to_string(generator.seed())},
                                {"rng_offset", std::to_string(generator.offset())}};
    for (const auto& [key, value] : extra)
        NYX_CHECK(metadata.emplace(key, value).second, "save_training_state: the metadata key \"", key, "\" is nyx's own; use another");
    io::save_safetensors(path, tensors, metadata);
}

std::int64_t load_training_state(const std::string& path, Module& model, optim::Optimizer& optimizer, optim::LRScheduler* schedule,
                                 Generator& generator) {
    return load_training_state(io::load_safetensors(path), path, model, optimizer, schedule, generator);
}

std::int64_t load_training_state(const io::Safetensors& file, const std::string& path, Module& model, optim::Optimizer& optimizer,
                                 optim::LRScheduler* schedule, Generator& generator) {
    const auto it = file.metadata.find("format");
    NYX_CHECK(it != file.metadata.end() && it->second == format, "load_training_state: ", path,
              " is not a nyx training state (format \"", it == file.metadata.end() ? "" : it->second, "\", expected \"", format,
              "\"); a weights-only file loads with load_weights");
    StateDict weights, optimizer_state;
    for (const auto& [name, t] : file.tensors) {
        if (name.starts_with("model/")) weights.emplace(name.substr(6), t);
        else if (name.starts_with("optimizer/")) optimizer_state.emplace(name.substr(10), t);
        else throw Error(detail::cat("load_training_state: ", path, ": unexpected tensor \"", name, "\""));
    }
    // Everything is read and checked before anything is changed; what is changed is put back if a
    // later part is refused.
    const auto step = metadata_number<std::int64_t>(file.metadata, "step", path);
    const auto position = metadata_number<std::int64_t>(file.metadata, "schedule_position", path);
    const auto seed = metadata_number<std::uint64_t>(file.metadata, "rng_seed", path);
    const auto offset = metadata_number<std::uint64_t>(file.metadata, "rng_offset", path);
    const auto lr = metadata_number<double>(file.metadata, "lr", path);
    NYX_CHECK(step >= 0 && position >= 0, "load_training_state: ", path, ": the step (", step, ") and the schedule position (", position,
              ") must not be negative");
    NYX_CHECK(std::isfinite(lr) && lr >= 0, "load_training_state: ", path, ": the learning rate ", lr, " is not a number >= 0");
    const StateDict previous = optimizer.state_dict();
    const double previous_lr = optimizer.lr();
    const std::int64_t previous_position = schedule ? schedule->position() : 0;
    const auto restore = [&] {  // leave the optimizer and the schedule as they were
        optimizer.load_state_dict(previous);
        if (schedule) schedule->set_position(previous_position);
        optimizer.set_lr(previous_lr);
    };
    try {
        if (schedule) schedule->set_position(position);
        optimizer.load_state_dict(optimizer_state);
        model.load_state_dict(weights);
    } catch (const Error& e) {
        restore();
        throw Error(detail::cat("load_training_state: ", path, ": ", e.what()));
    } catch (...) {
        restore();
        throw;
    }
    // With a schedule, the learning rate is the schedule's at the restored position (set_position
    // above), so that a run resumed with more total steps follows its new plan from the first step;
    // the saved rate is for a run without one.
    if (!schedule) optimizer.set_lr(lr);
    generator = Generator(seed, offset);
    return step;
}

}  // namespace nyx::nn
