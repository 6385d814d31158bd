#include "config_json.hpp"
#include "json_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>

#include <nlohmann/json.hpp>

#include <nyx/core/file.hpp>

namespace nyx::models {
namespace {

using Json = nlohmann::ordered_json;

// The largest size a configuration may name (any larger is a damaged file, not a model).
constexpr std::int64_t size_limit = std::int64_t{1} << 30;

// nyx-train's option names, which a hand-written section might use by mistake, and the library's.
const std::map<std::string, std::string, std::less<>> library_names = {
    {"attn", "attention.kind"}, {"conv", "conv_kernel"}, {"pinv_iters", "pinv_iterations"}, {"max_positions", "max_len"}};

// Reads one JSON object strictly: each key taken once, of its type, and finish() refuses the rest.
class Reader {
  public:
    Reader(const Json& object, const std::string& source, std::string prefix) : object_(object), source_(source), prefix_(std::move(prefix)) {
        NYX_CHECK(object.is_object(), source_, ": ", where(), " must be a JSON object, got ", object.type_name());
    }

    std::int64_t integer(const char* key, std::int64_t least, std::int64_t most) {
        const Json& value = find(key);
        NYX_CHECK(value.is_number_integer() && !(value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t{INT64_MAX}),
                  source_, ": \"", prefix_, key, "\" must be an integer, got ", shown(value));
        const auto n = value.get<std::int64_t>();
        NYX_CHECK(n >= least && n <= most, source_, ": \"", prefix_, key, "\" must lie in ", least, "..", most, ", got ", n);
        return n;
    }
    double probability(const char* key) {
        const Json& value = find(key);
        NYX_CHECK(value.is_number(), source_, ": \"", prefix_, key, "\" must be a number, got ", shown(value));
        const auto p = value.get<double>();
        NYX_CHECK(std::isfinite(p) && p >= 0 && p < 1, source_, ": \"", prefix_, key, "\" must lie in [0, 1), got ", p);
        return p;
    }
    std::string text(const char* key) {
        const Json& value = find(key);
        NYX_CHECK(value.is_string(), source_, ": \"", prefix_, key, "\" must be a string, got ", shown(value));
        return value.get<std::string>();
    }
    // Keys that configurations from before they were added lack: `absent` when missing.
    std::int64_t optional_integer(const char* key, std::int64_t least, std::int64_t most, std::int64_t absent) {
        return object_.contains(key) ? integer(key, least, most) : absent;
    }
    bool optional_boolean(const char* key, bool absent) {
        if (!object_.contains(key)) return absent;
        const Json& value = find(key);
        NYX_CHECK(value.is_boolean(), source_, ": \"", prefix_, key, "\" must be true or false, got ", shown(value));
        return value.get<bool>();
    }
    const Json& object(const char* key) {
        const Json& value = find(key);
        NYX_CHECK(value.is_object(), source_, ": \"", prefix_, key, "\" must be a JSON object, got ", shown(value));
        return value;
    }
    std::vector<std::string> strings(const char* key) {
        const Json& value = find(key);
        NYX_CHECK(value.is_array(), source_, ": \"", prefix_, key, "\" must be an array of strings, got ", shown(value));
        std::vector<std::string> out;
        for (const Json& item : value) {
            NYX_CHECK(item.is_string(), source_, ": \"", prefix_, key, "\" must be an array of strings; item ", out.size(), " is ", shown(item));
            out.push_back(item.get<std::string>());
        }
        return out;
    }
    std::string prefix() const { return prefix_; }

    // Every key was read: any other is unknown (a misspelling, or another program's name for one).
    void finish() const {
        if (read_ == object_.size()) return;
        for (const auto& item : object_.items()) {
            if (taken(item.key())) continue;
            const auto known = library_names.find(item.key());
            throw Error(detail::cat(source_, ": unknown key \"", prefix_, item.key().substr(0, 40), "\"",
                                    known == library_names.end() ? std::string() : detail::cat(" (the library's name is \"", known->second, "\")")));
        }
    }

  private:
    const Json& find(const char* key) {
        const auto it = object_.find(key);
        NYX_CHECK(it != object_.end(), source_, ": ", where(), " has no \"", key, "\"");
        keys_.emplace_back(key);
        ++read_;
        return *it;
    }
    bool taken(const std::string& key) const {
        for (const std::string& k : keys_)
            if (k == key) return true;
        return false;
    }
    std::string where() const { return prefix_.empty() ? std::string("the configuration") : detail::cat("\"", prefix_.substr(0, prefix_.size() - 1), "\""); }
    static std::string shown(const Json& value) { return detail::cat(value.type_name(), " ", value.dump().substr(0, 40)); }

    const Json& object_;
    const std::string& source_;
    std::string prefix_;
    std::vector<std::string> keys_;
    std::size_t read_ = 0;
};

// nn::LinformerSharing's values in order, as config.json spells them
constexpr std::array<const char*, 4> sharing_names = {"none", "headwise", "key_value", "layerwise"};

Json attention_json(const nn::AttentionOptions& attention) {
    Json j = Json::object();
    if (const auto* nystrom = std::get_if<nn::NystromOptions>(&attention)) {
        j["kind"] = "nystrom";
        j["landmarks"] = nystrom->landmarks;
        j["pinv_iterations"] = nystrom->pinv_iterations;
        j["pinv_start"] = nystrom->pinv_start == nn::PinvStart::original ? "original" : "per_matrix";
        j["conv_kernel"] = nystrom->conv_kernel;
    } else if (const auto* linformer = std::get_if<nn::LinformerOptions>(&attention)) {
        j["kind"] = "linformer";
        j["projected_length"] = linformer->projected_length;
        j["max_length"] = linformer->max_length;
        j["sharing"] = sharing_names[static_cast<std::size_t>(linformer->sharing)];
    } else if (const auto* performer = std::get_if<nn::PerformerOptions>(&attention)) {
        j["kind"] = "performer";
        j["features"] = performer->features;
        j["redraw_interval"] = performer->redraw_interval;
    } else {
        j["kind"] = "softmax";
        j["dropout"] = std::get<nn::SoftmaxOptions>(attention).dropout;
    }
    return j;
}

Json encoder_json(const EncoderConfig& c) {
    Json j = Json::object();
    j["vocab"] = c.vocab;
    j["input_features"] = c.input_features;
    j["max_len"] = c.max_len;
    j["dim"] = c.dim;
    j["heads"] = c.heads;
    j["head_dim"] = c.head_dim;
    j["hidden"] = c.hidden;
    j["layers"] = c.layers;
    j["dropout"] = c.dropout;
    j["attention"] = attention_json(c.attention);
    j["dtype"] = std::string(name(c.dtype));
    if (c.dual_encoder) j["dual_encoder"] = true;  // only when set: older nyx reads the rest
    if (c.segments > 0) j["segments"] = c.segments;
    return j;
}

Json classifier_json(const ClassifierConfig& c) {
    Json j = encoder_json(c.encoder);
    j["classes"] = c.classes;
    j["class_names"] = c.class_names;
    return j;
}

nn::AttentionOptions read_attention(const Json& object, const std::string& source, const std::string& prefix) {
    Reader r(object, source, prefix);
    const std::string kind = r.text("kind");
    nn::AttentionOptions attention;
    if (kind == "nystrom") {
        nn::NystromOptions o;
        o.landmarks = r.integer("landmarks", 1, size_limit);
        o.pinv_iterations = r.integer("pinv_iterations", 0, 1000);
        const std::string start = r.text("pinv_start");
        NYX_CHECK(start == "original" || start == "per_matrix", source, ": \"", prefix, "pinv_start\" must be \"original\" or \"per_matrix\", got \"",
                  start.substr(0, 40), "\"");
        o.pinv_start = start == "original" ? nn::PinvStart::original : nn::PinvStart::per_matrix;
        o.conv_kernel = r.integer("conv_kernel", 0, size_limit);
        NYX_CHECK(o.conv_kernel == 0 || o.conv_kernel % 2 == 1, source, ": \"", prefix, "conv_kernel\" must be 0 (no skip connection) or odd, got ",
                  o.conv_kernel);
        attention = o;
    } else if (kind == "linformer") {
        nn::LinformerOptions o;
        o.projected_length = r.integer("projected_length", 1, size_limit);
        o.max_length = r.integer("max_length", 0, size_limit);
        const std::string sharing = r.text("sharing");
        const auto* found = std::find(sharing_names.begin(), sharing_names.end(), sharing);
        NYX_CHECK(found != sharing_names.end(), source, ": \"", prefix, "sharing\" must be \"none\", \"headwise\", \"key_value\" or \"layerwise\", got \"",
                  sharing.substr(0, 40), "\"");
        o.sharing = static_cast<nn::LinformerSharing>(found - sharing_names.begin());
        attention = o;
    } else if (kind == "performer") {
        nn::PerformerOptions o;
        o.features = r.integer("features", 1, size_limit);
        o.redraw_interval = r.integer("redraw_interval", 0, size_limit);
        attention = o;
    } else {
        NYX_CHECK(kind == "softmax", source, ": \"", prefix, "kind\" must be \"nystrom\", \"softmax\", \"linformer\" or \"performer\", got \"",
                  kind.substr(0, 40), "\"");
        attention = nn::SoftmaxOptions{.dropout = r.probability("dropout")};
    }
    r.finish();
    return attention;
}

// The EncoderConfig's keys of `r`'s object (finish() is the caller's: a ClassifierConfig has more).
EncoderConfig read_encoder(Reader& r, const std::string& source) {
    EncoderConfig c;
    c.vocab = r.integer("vocab", 1, size_limit);
    c.input_features = r.integer("input_features", 0, size_limit);
    c.max_len = r.integer("max_len", 1, size_limit);
    c.dim = r.integer("dim", 1, size_limit);
    c.heads = r.integer("heads", 1, size_limit);
    c.head_dim = r.integer("head_dim", 1, size_limit);
    c.hidden = r.integer("hidden", 1, size_limit);
    c.layers = r.integer("layers", 0, 65536);
    c.dropout = r.probability("dropout");
    c.attention = read_attention(r.object("attention"), source, r.prefix() + "attention.");
    const std::string dtype = r.text("dtype");
    NYX_CHECK(dtype == "f32" || dtype == "f64", source, ": \"", r.prefix(), "dtype\" must be \"f32\" or \"f64\" (the dtypes a model computes in), got \"",
              dtype.substr(0, 40), "\"");
    c.dtype = dtype == "f32" ? f32 : f64;
    c.dual_encoder = r.optional_boolean("dual_encoder", false);
    c.segments = r.optional_integer("segments", 0, 16, 0);
    return c;
}

// The first differing key of two JSON objects with the same keys in the same order (nested objects
// compared key by key, named "outer.inner").
std::optional<ConfigDifference> first_difference(const Json& a, const Json& b, const std::string& prefix) {
    for (const auto& item : a.items()) {
        const auto other = b.find(item.key());
        if (other == b.end()) return ConfigDifference{prefix + item.key(), item.value().dump(), "nothing"};
        if (item.value().is_object() && other->is_object()) {
            if (auto d = first_difference(item.value(), *other, prefix + item.key() + ".")) return d;
        } else if (item.value() != *other) {
            return ConfigDifference{prefix + item.key(), item.value().dump(), other->dump()};
        }
    }
    for (const auto& item : b.items())
        if (!a.contains(item.key())) return ConfigDifference{prefix + item.key(), "nothing", item.value().dump()};
    return std::nullopt;
}

}  // namespace

std::string to_json(const EncoderConfig& config, int indent) { return encoder_json(config).dump(indent); }
std::string to_json(const ClassifierConfig& config, int indent) { return classifier_json(config).dump(indent); }

EncoderConfig encoder_config_from_json(std::string_view json, const std::string& source, std::string_view key_prefix) {
    const Json j = parse_json_text(json, source);
    Reader r(j, source, std::string(key_prefix));
    EncoderConfig c = read_encoder(r, source);
    r.finish();
    return c;
}

ClassifierConfig classifier_config_from_json(std::string_view json, const std::string& source, std::string_view key_prefix) {
    const Json j = parse_json_text(json, source);
    Reader r(j, source, std::string(key_prefix));
    ClassifierConfig c;
    c.encoder = read_encoder(r, source);
    c.classes = r.integer("classes", 1, size_limit);
    c.class_names = r.strings("class_names");
    NYX_CHECK(c.class_names.empty() || static_cast<std::int64_t>(c.class_names.size()) == c.classes, source, ": \"", key_prefix,
              "class_names\" must name every one of the ", c.classes, " classes, or be empty; it names ", c.class_names.size());
    r.finish();
    return c;
}

bool operator==(const EncoderConfig& a, const EncoderConfig& b) { return encoder_json(a) == encoder_json(b); }
bool operator==(const ClassifierConfig& a, const ClassifierConfig& b) { return classifier_json(a) == classifier_json(b); }

std::optional<ConfigDifference> first_difference(const ClassifierConfig& first, const ClassifierConfig& second) {
    return first_difference(classifier_json(first), classifier_json(second), "");
}

std::optional<ConfigDifference> first_difference(std::string_view first, std::string_view second) {
    return first_difference(parse_json_text(first, "the first configuration"), parse_json_text(second, "the second configuration"), "");
}

nlohmann::ordered_json parse_json_text(std::string_view text, const std::string& source) {
    const std::size_t nul = text.find('\0');
    NYX_CHECK(nul == std::string_view::npos, source, ": a NUL byte at offset ", nul, "; a configuration is text (was it damaged?)");
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
    NYX_CHECK(!j.is_discarded(), source, ": not valid JSON");
    if (const auto key = io::repeated_json_key(text))
        throw Error(detail::cat(source, ": the key \"", key->substr(0, 40), "\" appears twice; keep one (which value was meant is unclear)"));
    return j;
}

}  // namespace nyx::models
