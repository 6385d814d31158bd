#include "metrics.hpp"

#include <filesystem>

#include <nyx/core/error.hpp>
#include <nyx/core/file.hpp>

namespace nyx::train {

namespace {
// The JSON objects of a file, one per line, each with its line as written. Lines that are not an
// object with an integer "step" (the torn last line of a killed writer, say) are skipped.
std::vector<std::pair<nlohmann::json, std::string>> read_records(const std::string& path) {
    std::vector<std::pair<nlohmann::json, std::string>> records;
    if (!std::filesystem::exists(path)) return records;
    io::for_each_line(io::read_text_file(path), [&](std::int64_t, std::string_view line) {
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer())
            records.emplace_back(std::move(j), std::string(line));
    });
    return records;
}
}  // namespace

std::vector<MetricsRecord> read_metrics(const std::string& path, const std::string& metric) {
    std::vector<MetricsRecord> records;
    for (auto& [j, line] : read_records(path)) {
        if (!j.contains("split") || !j["split"].is_string() || !j.contains("loss") || !j["loss"].is_number()) continue;
        MetricsRecord r{j["step"].get<std::int64_t>(), j["split"].get<std::string>(), j["loss"].get<double>(), 0, std::move(line)};
        if (j.contains(metric) && j[metric].is_number()) r.accuracy = j[metric].get<double>();
        records.push_back(std::move(r));
    }
    return records;
}

std::optional<std::vector<std::pair<std::int64_t, double>>> read_seconds(const std::string& path, std::int64_t last_step) {
    std::vector<std::pair<std::int64_t, double>> out;
    for (const auto& [j, line] : read_records(path)) {
        const auto step = j["step"].get<std::int64_t>();
        if (step > last_step) continue;
        if (!j.contains("seconds") || !j["seconds"].is_number()) return std::nullopt;
        out.emplace_back(step, j["seconds"].get<double>());
    }
    return out;
}

MetricsWriter::MetricsWriter(const std::string& path, std::int64_t last_step, bool validated) : path_(path) {
    for (const auto& [j, line] : read_records(path)) {  // a finished run's test result is redone
        const std::int64_t step = j["step"].get<std::int64_t>();
        const bool test = j.contains("split") && j["split"] == "test", val = j.contains("split") && j["split"] == "val";
        if (!test && (step < last_step || (step == last_step && (validated || !val)))) kept_ += line + "\n";
    }
}

void MetricsWriter::start() {
    io::write_file_atomically(path_, kept_);
    kept_.clear();
    out_.open(path_, std::ios::app);
    NYX_CHECK(out_.good(), path_, ": cannot open for writing");
}

void MetricsWriter::write(const nlohmann::ordered_json& record) {
    out_ << record.dump() << '\n';
    out_.flush();
    NYX_CHECK(out_.good(), "writing metrics failed (is the disk full?)");
}

void MetricsWriter::sync() {
    out_.flush();
    NYX_CHECK(out_.good(), "writing metrics failed (is the disk full?)");
    io::sync_file(path_);
}

}  // namespace nyx::train
