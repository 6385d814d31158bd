#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <nyx/core/file.hpp>

namespace nyx::data {
namespace {

bool is_integer(const std::string& s) {
    long long value = 0;
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
    return error == std::errc() && end == s.data() + s.size();
}

}  // namespace

SequenceDataset read_text_tsv(const std::string& path, const TextOptions& options) {
    NYX_CHECK(options.max_length >= 1 && options.max_length <= 65536, "read_text_tsv: max_length must lie in 1..65536, got ",
              options.max_length);
    const std::string text = io::read_text_file(path);
    struct Row {
        std::string label;
        std::int64_t line;
        Sequence example;
    };
    std::vector<Row> rows;
    io::for_each_line(text, [&](std::int64_t line_number, std::string_view line) {
        if (line.empty()) return;
        const std::size_t tab = line.find('\t');
        NYX_CHECK(tab != std::string_view::npos, path, ":", line_number, ": expected \"label<TAB>text\"; the line has no tab");
        NYX_CHECK(tab > 0, path, ":", line_number, ": the label is empty");
        NYX_CHECK(tab + 1 < line.size(), path, ":", line_number, ": the text is empty");
        const std::string_view body = line.substr(tab + 1, static_cast<std::size_t>(options.max_length));
        Sequence e;
        e.tokens.reserve(body.size());
        for (const char c : body) e.tokens.push_back(static_cast<std::uint16_t>(static_cast<unsigned char>(c) + 1));
        rows.push_back({std::string(line.substr(0, tab)), line_number, std::move(e)});
    });
    NYX_CHECK(!rows.empty(), path, ": no examples; expected lines of \"label<TAB>text\"");

    std::vector<std::string> classes = options.classes;
    if (classes.empty()) {
        for (const Row& row : rows) classes.push_back(row.label);
        std::sort(classes.begin(), classes.end());
        classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
        if (std::all_of(classes.begin(), classes.end(), is_integer))
            std::stable_sort(classes.begin(), classes.end(), [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
    }
    NYX_CHECK(classes.size() >= 2, path, ": every line has the label \"", classes.front().substr(0, 40),
              "\"; classification needs at least 2 classes");
    std::map<std::string, std::int64_t, std::less<>> ids;
    for (std::size_t i = 0; i < classes.size(); ++i) ids.emplace(classes[i], static_cast<std::int64_t>(i));
    SequenceDataset d{path, {}, text_vocab, static_cast<std::int64_t>(classes.size()), 1, classes};
    d.examples.reserve(rows.size());
    for (Row& row : rows) {
        const auto it = ids.find(row.label);
        NYX_CHECK(it != ids.end(), path, ":", row.line, ": the label \"", row.label.substr(0, 40), "\" is not one of the ",
                  classes.size(), " classes of the training file");
        NYX_CHECK(options.max_classes <= 0 || it->second < options.max_classes, path, ":", row.line, ": the label \"",
                  row.label.substr(0, 40), "\" is class ", it->second + 1, " of ", classes.size(), "; at most ", options.max_classes,
                  " classes are allowed");
        row.example.label = it->second;
        d.examples.push_back(std::move(row.example));
    }
    return d;
}

}  // namespace nyx::data
