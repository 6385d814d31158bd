#include "corpus.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>

#include <nyx/core/file.hpp>

namespace nyx::data {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_document_bytes = std::size_t{64} << 20;
constexpr std::size_t max_sentence_bytes = 2000;

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::size_t indent_of(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && is_space(line[i])) ++i;
    return i;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        lines.push_back(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

// A section adornment, a transition or a simple table's border: one punctuation character
// repeated (with spaces between columns), at least twice; or a grid table's border (+---+---+).
bool is_adornment(std::string_view line) {
    line = trim(line);
    if (line.size() < 2) return false;
    constexpr std::string_view punctuation = "=-~^*+#\"'`:._<>!$%&(),/;?@[\\]{|}";
    if (line.front() == '+' && line.find_first_not_of("+-=: |") == std::string_view::npos) return true;
    const char c = line.front();
    if (punctuation.find(c) == std::string_view::npos) return false;
    if (!std::all_of(line.begin(), line.end(), [c](char x) { return x == c || x == ' '; })) return false;
    return line.find(' ') == std::string_view::npos || c == '=' || c == '-';  // columns apart: a simple table's border
}

// The name of an explicit markup's directive (".. note::" gives "note"), "" for comments, targets,
// footnotes and substitution definitions.
std::string_view directive_name(std::string_view markup) {
    const std::size_t end = markup.find("::");
    if (end == std::string_view::npos) return {};
    const std::string_view name = trim(markup.substr(0, end));
    return std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-' || c == ':' || c == '_'; }) ? name : std::string_view{};
}

// Directives whose bodies are code, tables, pictures or structure rather than prose: skipped with
// their bodies. Every other directive (admonitions, a function's or class's description) keeps its
// body's text, without the directive's line (a signature), but for admonitions' text on it.
bool is_skipped_directive(std::string_view name) {
    if (const std::size_t colon = name.rfind(':'); colon != std::string_view::npos) name.remove_prefix(colon + 1);  // c:macro -> macro
    static constexpr std::array<std::string_view, 34> skipped = {
        "code-block", "code", "sourcecode", "highlight", "literalinclude", "include", "toctree", "image", "figure", "raw",
        "kernel-doc", "kernel-include", "kernel-abi", "kernel-feat", "math", "productionlist", "doctest", "testcode", "testoutput",
        "testsetup", "testcleanup", "parsed-literal", "graphviz", "digraph", "csv-table", "list-table", "flat-table", "table",
        "index", "only", "tabularcolumns", "contents", "sectionauthor", "moduleauthor"};
    return std::find(skipped.begin(), skipped.end(), name) != skipped.end();
}

bool is_admonition(std::string_view name) {
    static constexpr std::array<std::string_view, 11> kept = {"note", "warning", "attention", "caution", "danger", "error",
                                                              "hint", "important", "tip", "admonition", "seealso"};
    return std::find(kept.begin(), kept.end(), name) != kept.end();
}

// A directive's option (":maxdepth: 2", ":noindex:") at the start of its body.
bool is_option(std::string_view line) {
    if (line.size() < 3 || line.front() != ':') return false;
    const std::size_t end = line.find(':', 1);
    return end != std::string_view::npos && end > 1 && (end + 1 == line.size() || line[end + 1] == ' ') &&
           std::all_of(line.begin() + 1, line.begin() + static_cast<std::ptrdiff_t>(end), [](char c) { return is_alnum(c) || c == '-' || c == '_'; });
}

// The text a role, reference or interpreted text shows: "title <target>" shows its title, "~a.b"
// the last part b, "!x" x.
std::string shown_text(std::string_view inner) {
    if (const std::size_t open = inner.rfind(" <"); open != std::string_view::npos && inner.ends_with('>')) inner = inner.substr(0, open);
    else if (inner.starts_with('<') && inner.ends_with('>')) inner = inner.substr(1, inner.size() - 2);
    if (inner.starts_with('!')) inner.remove_prefix(1);
    if (inner.starts_with('~')) {
        inner.remove_prefix(1);
        if (const std::size_t dot = inner.rfind('.'); dot != std::string_view::npos) inner = inner.substr(dot + 1);
    }
    return std::string(inner);
}

// The end of an inline markup that starts at `from` and is closed by `close`: the position of the
// closing string, which must not be preceded by a space; npos when there is none.
std::size_t closing(std::string_view s, std::size_t from, std::string_view close) {
    for (std::size_t at = s.find(close, from); at != std::string_view::npos; at = s.find(close, at + 1))
        if (at > from && !is_space(s[at - 1])) return at;
    return std::string_view::npos;
}

// Inline markup unwrapped, as strip_rst says; then runs of spaces made one.
std::string plain_inline(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    const auto skip_reference_tail = [&] {  // `x`_ and `x`__
        while (i < s.size() && s[i] == '_') ++i;
    };
    while (i < s.size()) {
        const char c = s[i];
        const bool word_start = i == 0 || !is_alnum(s[i - 1]);
        if (s.substr(i).starts_with("``")) {  // an inline literal: verbatim, no escapes inside
            if (const std::size_t end = s.find("``", i + 2); end != std::string_view::npos) {
                out += s.substr(i + 2, end - i - 2), i = end + 2;
                continue;
            }
        } else if (c == ':' && word_start) {  // :role:`text` (role names may hold colons: :c:func:)
            std::size_t j = i + 1;
            while (j < s.size() && (is_alnum(s[j]) || s[j] == '-' || s[j] == '_' || s[j] == '.' || s[j] == '+' || s[j] == ':')) ++j;
            if (j > i + 2 && s[j - 1] == ':' && j < s.size() && s[j] == '`')
                if (const std::size_t end = s.find('`', j + 1); end != std::string_view::npos) {
                    out += shown_text(s.substr(j + 1, end - j - 1)), i = end + 1;
                    skip_reference_tail();
                    continue;
                }
        } else if (c == '`') {  // `interpreted text`, `reference`_, `title <url>`_
            if (const std::size_t end = s.find('`', i + 1); end != std::string_view::npos && end > i + 1) {
                out += shown_text(s.substr(i + 1, end - i - 1)), i = end + 1;
                skip_reference_tail();
                continue;
            }
        } else if (s.substr(i).starts_with("**") && i + 2 < s.size() && !is_space(s[i + 2])) {
            if (const std::size_t end = closing(s, i + 2, "**"); end != std::string_view::npos) {
                out += s.substr(i + 2, end - i - 2), i = end + 2;
                continue;
            }
        } else if ((c == '*' || c == '|') && word_start && i + 1 < s.size() && !is_space(s[i + 1]) && s[i + 1] != c) {
            // *emphasis* and |substitution|: closed before a non-word character
            const std::size_t end = closing(s, i + 1, std::string_view(&s[i], 1));
            if (end != std::string_view::npos && end - i <= 80 && (end + 1 == s.size() || !is_alnum(s[end + 1]))) {
                out += s.substr(i + 1, end - i - 1), i = end + 1;
                continue;
            }
        } else if (c == '[') {  // footnote and citation references: [1]_, [#note]_, [CIT2002]_
            if (const std::size_t end = s.find("]_", i + 1); end != std::string_view::npos && end - i <= 40) {
                const std::string_view label = s.substr(i + 1, end - i - 1);
                if (!label.empty() && std::all_of(label.begin(), label.end(), [](char x) { return is_alnum(x) || x == '#' || x == '-' || x == '_'; })) {
                    while (!out.empty() && out.back() == ' ') out.pop_back();
                    i = end + 2;
                    continue;
                }
            }
        } else if (c == '\\' && i + 1 < s.size()) {  // an escaped character stands for itself
            out += s[i + 1], i += 2;
            continue;
        }
        out += c, ++i;
    }
    std::string collapsed;
    collapsed.reserve(out.size());
    for (const char x : out)
        if (!(is_space(x) && (collapsed.empty() || collapsed.back() == ' '))) collapsed += is_space(x) ? ' ' : x;
    while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
    return collapsed;
}

// A bullet or enumerator at the start of a list item ("- ", "* ", "• ", "#. ", "12. ", "(a) "), or 0.
std::size_t bullet_length(std::string_view line) {
    for (std::string_view b : {"- ", "* ", "+ ", "#. ", "\xe2\x80\xa2 "})
        if (line.starts_with(b)) return b.size();
    std::size_t i = 0;
    while (i < line.size() && i < 4 && (is_alnum(line[i]))) ++i;
    if (i > 0 && i + 1 < line.size() && (line[i] == '.' || line[i] == ')') && line[i + 1] == ' ' &&
        std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(i), [](char x) { return x >= '0' && x <= '9'; }))
        return i + 2;
    return 0;
}

// Paragraphs of `text` (each a list of its lines' texts) as one string, paragraphs apart.
class Paragraphs {
  public:
    void add_line(std::string_view line) {
        if (!current_.empty()) current_ += ' ';
        current_ += line;
    }
    void end() {
        const std::string plain = plain_inline(current_);
        current_.clear();
        if (plain.empty()) return;
        if (!text_.empty()) text_ += "\n\n";
        text_ += plain;
    }
    std::string take() {
        end();
        return std::move(text_);
    }

  private:
    std::string current_, text_;
};

}  // namespace

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t length = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2
                                        : (b >> 4) == 0xe   ? 3
                                        : (b >> 3) == 0x1e  ? 4
                                                            : 0;
        if (length > 1 && i + length <= s.size()) {
            std::uint32_t code = b & (0x7f >> length);
            for (std::size_t k = 1; k < length && length; ++k) {
                const auto c = static_cast<unsigned char>(s[i + k]);
                if ((c & 0xc0) != 0x80) length = 0;
                else code = (code << 6) | (c & 0x3f);
            }
            // overlong forms, surrogates and code points past U+10FFFF are invalid too
            static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
            if (length && (code < least[length] || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)) length = 0;
        } else if (length > 1) {
            length = 0;
        }
        if (length == 0) {
            ++i;
            continue;
        }
        out.append(s.substr(i, length)), i += length;
    }
    return out;
}

std::string strip_rst(std::string_view text) {
    Paragraphs paragraphs;
    const std::vector<std::string_view> lines = lines_of(text);
    std::size_t skip_deeper_than = std::string_view::npos;  // skipping a block indented more than this
    std::size_t literal_after = std::string_view::npos;  // the last paragraph ended in "::" at this indent
    std::size_t options_deeper_than = std::string_view::npos;  // a directive at this indent began: its options are skipped
    for (std::string_view raw : lines) {
        const std::string_view line = trim(raw);
        const std::size_t indent = indent_of(raw);
        if (line.empty()) {
            paragraphs.end();
            continue;
        }
        if (skip_deeper_than != std::string_view::npos) {
            if (indent > skip_deeper_than) continue;
            skip_deeper_than = std::string_view::npos;
        }
        if (literal_after != std::string_view::npos) {
            const std::size_t owner = literal_after;
            literal_after = std::string_view::npos;
            if (indent > owner) {  // the literal block: skipped whole
                skip_deeper_than = owner;
                continue;
            }
        }
        if (options_deeper_than != std::string_view::npos) {
            if (indent > options_deeper_than && is_option(line)) continue;
            options_deeper_than = std::string_view::npos;
        }
        if (line == ".." || line.starts_with(".. ")) {  // explicit markup
            paragraphs.end();
            const std::string_view name = directive_name(line.substr(2));
            if (name.empty() || is_skipped_directive(name)) {  // comments, targets, footnotes, code and the like, with their bodies
                skip_deeper_than = indent;
                continue;
            }
            options_deeper_than = indent;
            if (is_admonition(name)) paragraphs.add_line(trim(line.substr(line.find("::") + 2)));  // ".. note:: text"
            continue;
        }
        if (line == "::") {  // a literal block follows, introduced by nothing
            paragraphs.end();
            literal_after = indent;
            continue;
        }
        if (is_adornment(line)) {
            paragraphs.end();
            continue;
        }
        std::string_view content = line;
        if (content.front() == '|' && content.back() == '|' && content.size() > 1) {  // a grid table's row: cells as text
            paragraphs.end();
            std::string cells(content.substr(1, content.size() - 2));
            std::replace(cells.begin(), cells.end(), '|', ' ');
            paragraphs.add_line(cells);
            paragraphs.end();
            continue;
        }
        if (const std::size_t bullet = bullet_length(content); bullet > 0) {  // a list item starts a paragraph
            paragraphs.end();
            content.remove_prefix(bullet);
        } else if (content.front() == ':' && content.size() > 2) {  // a field ":name: text" reads "name: text"
            if (const std::size_t end = content.find(": ", 1); end != std::string_view::npos && content.substr(1, end - 1).find('`') == std::string_view::npos)
                paragraphs.add_line(content.substr(1, end)), content.remove_prefix(end + 1);
        }
        if (content.ends_with("::")) {  // a literal block follows: "text::" reads "text:", a lone "::" nothing
            literal_after = indent;
            content.remove_suffix(2);
            content = trim(content);
            if (!content.empty() && !content.ends_with(':')) paragraphs.add_line(std::string(content) + ":");
            else if (!content.empty()) paragraphs.add_line(content);
            continue;
        }
        paragraphs.add_line(content);
    }
    return paragraphs.take();
}

std::string fortune_text(std::string_view text) {
    Paragraphs paragraphs;
    for (std::string_view raw : lines_of(text)) {
        const std::string_view line = trim(raw);
        if (line == "%") paragraphs.end();
        else if (!line.empty()) paragraphs.add_line(line);
    }
    return paragraphs.take();
}

std::vector<std::string> split_sentences(std::string_view p) {
    static constexpr std::array<std::string_view, 9> abbreviations = {"e.g.", "i.e.", "etc.", "Mr.", "Dr.", "vs.", "Fig.", "No.", "cf."};
    std::vector<std::string> sentences;
    const auto add = [&](std::string_view sentence) {
        sentence = trim(sentence);
        while (sentence.size() > max_sentence_bytes) {  // cut at the last space that keeps the piece short enough
            std::size_t cut = sentence.rfind(' ', max_sentence_bytes);
            if (cut == std::string_view::npos || cut == 0) cut = max_sentence_bytes;
            while (cut > 0 && (static_cast<unsigned char>(sentence[cut]) & 0xc0) == 0x80) --cut;  // not inside a character
            sentences.emplace_back(trim(sentence.substr(0, cut)));
            sentence = trim(sentence.substr(cut));
        }
        if (!sentence.empty()) sentences.emplace_back(sentence);
    };
    std::size_t start = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] != '.' && p[i] != '!' && p[i] != '?') continue;
        std::size_t end = i + 1;
        while (end < p.size() && (p[end] == '"' || p[end] == '\'' || p[end] == ')' || p[end] == ']')) ++end;
        if (end + 1 >= p.size() || p[end] != ' ') continue;
        const char next = p[end + 1];
        if (!is_upper_or_digit(next) && next != '"' && next != '\'' && next != '(') continue;
        const std::string_view before = p.substr(start, i + 1 - start);
        if (std::any_of(abbreviations.begin(), abbreviations.end(), [&](std::string_view a) {
                return before.ends_with(a) && (before.size() == a.size() || before[before.size() - a.size() - 1] == ' ');
            }))
            continue;
        add(p.substr(start, end - start));
        start = end + 1;
    }
    add(p.substr(start));
    return sentences;
}

std::vector<CorpusSource> default_corpus_sources() {
    return {{"linux-doc", linux_documentation, "linux-doc-6.1", CorpusSource::Format::rst},
            {"python-doc", "/usr/share/doc/python3.11/html/_sources", "python3.11-doc", CorpusSource::Format::rst},
            {"fortunes", "/usr/share/games/fortunes", "fortunes", CorpusSource::Format::fortunes}};
}

namespace {

// The files of a source that are documents, as paths relative to its root, sorted.
std::vector<std::string> source_files(const CorpusSource& source) {
    const fs::path root(source.root);
    std::vector<std::string> paths;
    std::error_code error;
    const auto take = [&](const fs::directory_entry& entry) {
        if (entry.is_symlink() || !entry.is_regular_file()) return;
        const std::string name = entry.path().filename().string();
        const std::string relative = entry.path().lexically_relative(root).string();
        const bool document = source.format == CorpusSource::Format::fortunes
                                  ? name.find('.') == std::string::npos
                                  : !relative.starts_with("translations/") &&
                                        (name.ends_with(".rst") || name.ends_with(".txt") || name.ends_with(".rst.gz") || name.ends_with(".txt.gz"));
        if (document) paths.push_back(relative);
    };
    if (source.format == CorpusSource::Format::fortunes)  // the top folder only (off/ holds the offensive ones)
        for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) take(*it);
    else
        for (fs::recursive_directory_iterator it(root, error), end; !error && it != end; it.increment(error)) take(*it);
    NYX_CHECK(!error, source.root, ": cannot list the folder (", error.message(), ")");
    std::sort(paths.begin(), paths.end());
    return paths;
}

std::string document_text(const CorpusSource& source, std::string_view bytes) {
    const std::string utf8 = valid_utf8(bytes);
    const std::string paragraphs = source.format == CorpusSource::Format::fortunes ? fortune_text(utf8) : strip_rst(utf8);
    std::string text;
    for (std::string_view rest = paragraphs; !rest.empty();) {
        const std::size_t end = rest.find("\n\n");
        const std::vector<std::string> sentences = split_sentences(rest.substr(0, end));
        if (!sentences.empty() && !text.empty()) text += '\n';
        for (const std::string& s : sentences) text += s + '\n';
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 2);
    }
    return text;
}

}  // namespace

DocumentSplits read_corpus(const CorpusOptions& o) {
    NYX_CHECK(!o.sources.empty(), "corpus: give at least one source");
    std::vector<Document> documents;
    std::vector<std::string> names;
    for (std::size_t label = 0; label < o.sources.size(); ++label) {
        const CorpusSource& source = o.sources[label];
        NYX_CHECK(!source.name.empty() && source.name.find('/') == std::string::npos, "corpus: a source's name must be a word, got \"", source.name, "\"");
        for (std::size_t other = 0; other < label; ++other)
            NYX_CHECK(o.sources[other].name != source.name, "corpus: the source ", source.name, " is listed twice");
        std::error_code error;
        NYX_CHECK(fs::is_directory(source.root, error), "corpus: ", source.root, " (the source ", source.name, ") is not a folder; ",
                  source.package.empty() ? std::string("give a folder of documents")
                                         : "install Debian's " + source.package + " (apt-get install " + source.package + ")");
        for (const std::string& path : source_files(source)) {
            const std::vector<unsigned char> bytes = io::read_gzip_file(source.root + "/" + path, max_document_bytes, "a corpus document");
            documents.push_back({source.name + "/" + path, static_cast<std::int64_t>(label),
                                 document_text(source, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()))});
        }
        names.push_back(source.name + " (" + source.root + ")");
    }
    // Split within each top-level folder of a source that holds 6 documents or more, and within the
    // rest of the source (its own files and smaller folders) as one more group, which joins its
    // largest folder when it holds fewer than 3: so every split holds documents of each large folder.
    const auto folder_of = [&](const Document& d) {
        const std::string_view rest = std::string_view(d.path).substr(o.sources[static_cast<std::size_t>(d.label)].name.size() + 1);
        const std::size_t slash = rest.find('/');
        return slash == std::string_view::npos ? std::string() : std::string(rest.substr(0, slash));
    };
    drop_repeats(documents);  // first, so that the groups are counted as split_documents will split them
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> counts;  // (source, folder) -> documents
    for (const Document& d : documents) ++counts[{d.label, folder_of(d)}];
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> group_of;  // (source, folder) -> group
    std::vector<std::int64_t> rest_group(o.sources.size()), group_source;
    std::vector<std::string> group_names;
    for (std::int64_t source = 0; source < static_cast<std::int64_t>(o.sources.size()); ++source) {
        std::int64_t largest = -1, largest_count = 0, rest_count = 0;
        for (const auto& [key, count] : counts) {
            if (key.first != source) continue;
            if (key.second.empty() || count < 6) {
                rest_count += count;
                continue;
            }
            group_of[key] = static_cast<std::int64_t>(group_names.size());
            group_names.push_back(o.sources[static_cast<std::size_t>(source)].name + "/" + key.second), group_source.push_back(source);
            if (count > largest_count) largest = group_of[key], largest_count = count;
        }
        if (rest_count >= 3 || largest < 0) {
            rest_group[static_cast<std::size_t>(source)] = static_cast<std::int64_t>(group_names.size());
            group_names.push_back(names[static_cast<std::size_t>(source)]), group_source.push_back(source);
        } else {
            rest_group[static_cast<std::size_t>(source)] = largest;
        }
    }
    for (Document& d : documents) {
        const auto it = group_of.find({d.label, folder_of(d)});
        d.label = it != group_of.end() ? it->second : rest_group[static_cast<std::size_t>(d.label)];
    }
    DocumentSplits splits = split_documents(std::move(documents), group_names, o.split);
    for (auto* split : {&splits.train, &splits.val, &splits.test})
        for (Document& d : *split) d.label = group_source[static_cast<std::size_t>(d.label)];
    return splits;
}

}  // namespace nyx::data
