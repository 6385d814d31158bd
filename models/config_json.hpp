#pragma once
// A classifier's configuration as JSON, with the library's own names: what a nyx-train run's
// config.json holds in its "model" section (models/run.hpp), enough to rebuild the model before its
// weights are loaded.
//
//     {"vocab": 17, "input_features": 0, "max_len": 199, "dim": 64, "heads": 2, "head_dim": 32,
//      "hidden": 128, "layers": 2, "dropout": 0.0,
//      "attention": {"kind": "nystrom", "landmarks": 16, "pinv_iterations": 6,
//                    "pinv_start": "original", "conv_kernel": 15},
//      "dtype": "f32", "classes": 10, "class_names": ["0", "1", ..., "9"]}
//
// The attention is {"kind": "softmax", "dropout": 0.0} for nn::SoftmaxOptions; "pinv_start" is
// "original" or "per_matrix" (nn::PinvStart). Linformer's is {"kind": "linformer",
// "projected_length": 256, "max_length": 0, "sharing": "headwise"} ("none", "headwise",
// "key_value" or "layerwise"), Performer's {"kind": "performer", "features": 256,
// "redraw_interval": 0}. "dual_encoder": true and "segments": S appear only when set (configurations
// from before they existed lack them, and read as false and 0). Reading is strict: every key present, of its type and
// within its range, and no other key. An error names the source and the key ("attention.landmarks").
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encoder.hpp"

namespace nyx::models {

// An EncoderClassifier's whole configuration: EncoderClassifier(encoder, classes) rebuilds it.
struct ClassifierConfig {
    EncoderConfig encoder;
    std::int64_t classes = 0;
    std::vector<std::string> class_names;  // empty, or one per class, in class order
};

// One JSON object; `indent` as nlohmann::json::dump takes it (-1: on one line).
std::string to_json(const EncoderConfig& config, int indent = -1);
// The EncoderConfig's keys, then "classes" and "class_names".
std::string to_json(const ClassifierConfig& config, int indent = -1);

// Strict readers of the above. `source` names the text in errors (a file, say); `key_prefix` goes
// before each key they name ("model." for the "model" section of a larger file).
EncoderConfig encoder_config_from_json(std::string_view json, const std::string& source, std::string_view key_prefix = "");
ClassifierConfig classifier_config_from_json(std::string_view json, const std::string& source, std::string_view key_prefix = "");

// Equal when their JSON is (every field, the attention's options included).
bool operator==(const EncoderConfig& a, const EncoderConfig& b);
bool operator==(const ClassifierConfig& a, const ClassifierConfig& b);

// The first key, in the JSON's order ("attention.landmarks" inside the attention), whose values
// differ, with both values as JSON text; none when the configurations are equal.
struct ConfigDifference {
    std::string key, first, second;
};
std::optional<ConfigDifference> first_difference(const ClassifierConfig& first, const ClassifierConfig& second);
// The same of two configurations' JSON texts (an EncoderConfig's, or a ClassifierConfig's).
std::optional<ConfigDifference> first_difference(std::string_view first, std::string_view second);

}  // namespace nyx::models
