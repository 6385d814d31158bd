#include "documents.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <span>
#include <unordered_map>

#include <nyx/core/file.hpp>
#include <nyx/core/hash.hpp>
#include <nyx/core/random.hpp>

#include "text.hpp"

namespace nyx::data {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_document_bytes = std::size_t{64} << 20;  // far above any documentation file

bool is_document_name(const std::string& name) {
    for (const char* suffix : {".rst", ".txt", ".rst.gz", ".txt.gz"})
        if (name.ends_with(suffix)) return true;
    return false;
}

std::uint64_t below(Generator& rng, std::uint64_t n) { return static_cast<std::uint64_t>(random_below(static_cast<std::int64_t>(n), rng)); }

// The regular files named like documents under `folder`, as paths relative to `root`, sorted.
std::vector<std::string> document_paths(const fs::path& root, const std::string& folder) {
    std::error_code error;
    std::vector<std::string> paths;
    for (fs::recursive_directory_iterator it(root / folder, error), end; !error && it != end; it.increment(error))
        if (!it->is_symlink() && it->is_regular_file() && is_document_name(it->path().filename().string()))
            paths.push_back(it->path().lexically_relative(root).string());  // lexically: links are not resolved
    NYX_CHECK(!error, (root / folder).string(), ": cannot list the folder (", error.message(), ")");
    std::sort(paths.begin(), paths.end());
    return paths;
}

std::string available_folders(const fs::path& root) {
    std::vector<std::string> names;
    std::error_code error;
    for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error))
        if (it->is_directory() && !it->is_symlink()) names.push_back(it->path().filename().string());
    std::sort(names.begin(), names.end());
    std::string text;
    for (std::size_t i = 0; i < names.size() && i < 12; ++i) text += (i ? ", " : "") + names[i];
    return names.size() > 12 ? text + ", ..." : text;
}

// The passage of `length` tokens at a uniform offset of `document` (all of it when shorter).
std::vector<std::uint16_t> passage(std::span<const std::uint16_t> document, std::int64_t length, Generator& rng) {
    const std::size_t size = std::min(document.size(), static_cast<std::size_t>(length));
    const std::size_t offset = below(rng, document.size() - size + 1);
    return {document.begin() + static_cast<std::ptrdiff_t>(offset), document.begin() + static_cast<std::ptrdiff_t>(offset + size)};
}

// The same of bytes: byte b is token b + 1.
std::vector<std::uint16_t> byte_tokens(std::string_view bytes) {
    std::vector<std::uint16_t> tokens(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) tokens[i] = static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[i]) + 1);
    return tokens;
}
std::vector<std::uint16_t> passage(std::string_view document, std::int64_t length, Generator& rng) {
    const std::size_t size = std::min(document.size(), static_cast<std::size_t>(length));
    const std::size_t offset = below(rng, document.size() - size + 1);
    return byte_tokens(document.substr(offset, size));
}

std::size_t length_of(const Document& d) { return d.bytes.size(); }
std::size_t length_of(const LabelledTokens& d) { return d.tokens.size(); }

// Draws one of `documents` with probability proportional to its length.
template <class Item>
class LengthWeighted {
  public:
    explicit LengthWeighted(std::vector<const Item*> documents) : documents_(std::move(documents)) {
        std::uint64_t total = 0;
        for (const Item* d : documents_) ends_.push_back(total += length_of(*d));
    }
    std::size_t size() const { return documents_.size(); }
    std::size_t draw_index(Generator& rng) const {
        const std::uint64_t at = below(rng, ends_.back());
        return static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), at) - ends_.begin());
    }
    const Item& operator[](std::size_t i) const { return *documents_[i]; }

  private:
    std::vector<const Item*> documents_;
    std::vector<std::uint64_t> ends_;  // cumulative lengths
};

Generator example_rng(std::uint64_t seed, int split, std::int64_t index) {
    return Generator(mix_seed(mix_seed(seed, static_cast<std::uint64_t>(split)), static_cast<std::uint64_t>(index)));
}

// The labels of a split's `size` examples: i mod classes for i in a seeded random order, so balanced
// to within one, and no stride through the split (--eval-size takes one) meets a single class.
std::vector<std::int64_t> balanced_labels(std::uint64_t seed, int split, std::int64_t size, std::int64_t classes) {
    Generator order_rng(mix_seed(mix_seed(seed, static_cast<std::uint64_t>(3 + split)), 0));  // streams 3..5: apart from the examples'
    std::vector<std::int64_t> labels = randperm(size, order_rng);
    for (std::int64_t& label : labels) label %= classes;
    return labels;
}

const char* const split_names[] = {"train", "val", "test"};

}  // namespace

DocumentSplits split_document_tree(const DocumentTreeOptions& o) {
    NYX_CHECK(o.length >= 1 && o.length <= 65536, "documents: length must lie in 1..65536 bytes, got ", o.length);
    NYX_CHECK(!o.classes.empty(), "documents: give at least one class folder");
    NYX_CHECK(o.train_size >= 0 && o.val_size >= 0 && o.test_size >= 0, "documents: split sizes must be >= 0");
    const fs::path root(o.root);
    std::error_code error;
    NYX_CHECK(fs::is_directory(root, error), o.root, ": no such folder; ",
              o.root == linux_documentation ? "install Debian's linux-doc-6.1 (apt-get install linux-doc-6.1), or give another tree (nyx-train: --data-dir)"
                                            : "give the root of a tree of documents (nyx-train: --data-dir)");
    std::vector<Document> documents;
    std::vector<std::string> names;  // of each class, for errors
    for (std::size_t label = 0; label < o.classes.size(); ++label) {
        const std::string& folder = o.classes[label];
        NYX_CHECK(!folder.empty() && folder.find('/') == std::string::npos && folder != "." && folder != "..", "documents: class \"",
                  folder, "\" must be the name of a top-level folder of ", o.root);
        NYX_CHECK(std::count(o.classes.begin(), o.classes.end(), folder) == 1, "documents: the class folder ", folder, " is listed twice");
        NYX_CHECK(fs::is_directory(root / folder, error), o.root, " has no folder ", folder, "; its folders: ", available_folders(root));
        NYX_CHECK(!fs::is_symlink(root / folder, error), o.root, "/", folder, " is a symbolic link; give the folder it names as the tree instead");
        for (std::string& path : document_paths(root, folder)) {
            const std::vector<unsigned char> bytes = io::read_gzip_file((root / path).string(), max_document_bytes, "a document nyx reads");
            documents.push_back({std::move(path), static_cast<std::int64_t>(label), std::string(bytes.begin(), bytes.end())});
        }
        names.push_back(o.root + "/" + folder);
    }
    return split_documents(std::move(documents), names, {.val_share = o.val_share, .test_share = o.test_share, .split_seed = o.split_seed});
}

void drop_repeats(std::vector<Document>& documents) {
    std::unordered_multimap<std::uint64_t, std::size_t> kept;  // hash of the bytes -> the index of a document kept
    std::vector<Document> out;
    for (Document& d : documents) {
        if (d.bytes.empty()) continue;
        const std::uint64_t hash = fnv1a(d.bytes);
        // An equal hash is compared byte for byte before the document is dropped as a repeat.
        const auto [first, last] = kept.equal_range(hash);
        if (std::any_of(first, last, [&](const auto& k) { return out[k.second].bytes == d.bytes; })) continue;
        kept.emplace(hash, out.size());
        out.push_back(std::move(d));
    }
    documents = std::move(out);
}

DocumentSplits split_documents(std::vector<Document> documents, const std::vector<std::string>& group_names, const DocumentSplitOptions& o) {
    NYX_CHECK(o.val_share >= 0 && o.test_share >= 0 && o.val_share + o.test_share < 1, "documents: val_share (", o.val_share,
              ") and test_share (", o.test_share, ") must be >= 0 with a sum below 1");
    std::vector<std::vector<Document>> groups(group_names.size());
    drop_repeats(documents);
    for (Document& d : documents) {
        NYX_CHECK(d.label >= 0 && d.label < static_cast<std::int64_t>(groups.size()), "documents: ", d.path, " has the label ", d.label,
                  ", outside the ", groups.size(), " groups");
        groups[static_cast<std::size_t>(d.label)].push_back(std::move(d));
    }
    DocumentSplits splits;
    for (std::size_t label = 0; label < groups.size(); ++label) {
        std::vector<Document>& group = groups[label];
        const auto count = static_cast<std::int64_t>(group.size());
        NYX_CHECK(count >= 3, group_names[label], ": ", count, " distinct documents; a class needs at least 3, one per split");
        std::vector<std::pair<std::uint64_t, std::size_t>> order;
        for (std::size_t i = 0; i < group.size(); ++i) order.emplace_back(mix_seed(o.split_seed, fnv1a(group[i].path)), i);
        std::sort(order.begin(), order.end());
        const std::int64_t val = std::max<std::int64_t>(1, static_cast<std::int64_t>(o.val_share * static_cast<double>(count))),
                           test = std::max<std::int64_t>(1, static_cast<std::int64_t>(o.test_share * static_cast<double>(count)));
        NYX_CHECK(val + test < count, group_names[label], ": ", count, " documents leave none for training; lower val_share and test_share");
        for (std::int64_t k = 0; k < count; ++k) {
            auto& split = k < val ? splits.val : k < val + test ? splits.test
                                                                : splits.train;
            split.push_back(std::move(group[order[static_cast<std::size_t>(k)].second]));
        }
    }
    for (auto* split : {&splits.train, &splits.val, &splits.test})
        std::sort(split->begin(), split->end(), [](const Document& a, const Document& b) { return a.path < b.path; });
    return splits;
}

DocumentTaskSplits generate_token_text(const std::array<std::vector<LabelledTokens>, 3>& documents, const TokenTextOptions& o) {
    const auto classes = static_cast<std::int64_t>(o.classes.size());
    NYX_CHECK(classes >= 1, "text: give at least one class");
    NYX_CHECK(o.length >= 1, "text: the passage length must be at least 1, got ", o.length);
    const std::array<std::int64_t, 3> sizes = {o.train_size, o.val_size, o.test_size};
    DocumentTaskSplits out;
    std::array<SequenceDataset*, 3> splits = {&out.train, &out.val, &out.test};
    for (int split = 0; split < 3; ++split) {
        std::vector<LengthWeighted<LabelledTokens>> by_class;
        for (std::int64_t c = 0; c < classes; ++c) {
            std::vector<const LabelledTokens*> own;
            for (const LabelledTokens& d : documents[static_cast<std::size_t>(split)])
                if (d.label == c && !d.tokens.empty()) own.push_back(&d);
            NYX_CHECK(sizes[static_cast<std::size_t>(split)] == 0 || !own.empty(), "text: the ", split_names[split], " split has no document of class ",
                      o.classes[static_cast<std::size_t>(c)]);
            by_class.emplace_back(std::move(own));
        }
        const std::int64_t size = sizes[static_cast<std::size_t>(split)];
        const std::vector<std::int64_t> labels = balanced_labels(o.seed, split, size, classes);
        std::vector<Sequence> examples(static_cast<std::size_t>(size));
        for (std::int64_t i = 0; i < size; ++i) {
            Generator rng = example_rng(o.seed, split, i);
            const std::int64_t label = labels[static_cast<std::size_t>(i)];
            const LengthWeighted<LabelledTokens>& pool = by_class[static_cast<std::size_t>(label)];
            std::vector<std::uint16_t> tokens = o.before;
            const std::vector<std::uint16_t> cut = passage(pool[pool.draw_index(rng)].tokens, o.length, rng);
            tokens.insert(tokens.end(), cut.begin(), cut.end());
            tokens.insert(tokens.end(), o.after.begin(), o.after.end());
            examples[static_cast<std::size_t>(i)] = Sequence{std::move(tokens), label};
        }
        *splits[static_cast<std::size_t>(split)] = SequenceDataset(o.name + "-" + split_names[split], std::move(examples), o.vocab, classes, 1, o.classes);
    }
    return out;
}

DocumentTaskSplits generate_document_text(const DocumentTreeOptions& o) {
    const DocumentSplits split = split_document_tree(o);
    std::array<std::vector<LabelledTokens>, 3> documents;
    std::size_t k = 0;
    for (const auto* list : {&split.train, &split.val, &split.test}) {
        for (const Document& d : *list) documents[k].push_back({byte_tokens(d.bytes), d.label});
        ++k;
    }
    return generate_token_text(documents, {.classes = o.classes, .vocab = text_vocab, .length = o.length, .train_size = o.train_size, .val_size = o.val_size, .test_size = o.test_size, .seed = o.seed});
}

DocumentTaskSplits generate_document_retrieval(const DocumentTreeOptions& o) {
    const DocumentSplits documents = split_document_tree(o);
    const auto make = [&](int split, const std::vector<Document>& list, std::int64_t size) {
        std::vector<const Document*> long_enough;
        std::vector<std::vector<const Document*>> by_class(o.classes.size());
        for (const Document& d : list)
            if (static_cast<std::int64_t>(d.bytes.size()) >= 2 * o.length)
                long_enough.push_back(&d), by_class[static_cast<std::size_t>(d.label)].push_back(&d);
        NYX_CHECK(size == 0 || long_enough.size() >= 2, "retrieval: the ", split_names[split], " split has ", long_enough.size(),
                  " documents of at least 2 × ", o.length, " bytes; it needs 2 or more: give a smaller length (nyx-train: --max-len)");
        const LengthWeighted<Document> pool(std::move(long_enough));
        std::vector<LengthWeighted<Document>> class_pools;
        for (auto& own : by_class) class_pools.emplace_back(std::move(own));
        const std::vector<std::int64_t> labels = balanced_labels(o.seed, split, size, 2);
        std::vector<Sequence> examples(static_cast<std::size_t>(size));
        for (std::int64_t i = 0; i < size; ++i) {
            Generator rng = example_rng(o.seed, split, i);
            const bool same = labels[static_cast<std::size_t>(i)] == 1;
            const Document& first = pool[pool.draw_index(rng)];
            std::vector<std::uint16_t> a, b;
            if (same) {  // disjoint: a in the first `cut` bytes, b after them
                const std::string_view bytes = first.bytes;
                const auto length = static_cast<std::size_t>(o.length);
                const std::size_t cut = length + below(rng, bytes.size() - 2 * length + 1);
                a = passage(bytes.substr(0, cut), o.length, rng), b = passage(bytes.substr(cut), o.length, rng);
                if (random_below(2, rng) == 1) std::swap(a, b);
            } else {  // another document of the same folder where it has one, so that the topic does not tell
                const LengthWeighted<Document>& own = class_pools[static_cast<std::size_t>(first.label)];
                const LengthWeighted<Document>& others = own.size() >= 2 ? own : pool;
                const Document* second = &first;
                while (second == &first) second = &others[others.draw_index(rng)];
                a = passage(first.bytes, o.length, rng), b = passage(second->bytes, o.length, rng);
            }
            a.insert(a.end(), b.begin(), b.end());
            examples[static_cast<std::size_t>(i)] = Sequence{std::move(a), same ? 1 : 0};
        }
        return SequenceDataset(std::string("retrieval-") + split_names[split], std::move(examples), text_vocab, 2, 1,
                               {"different documents", "same document"});
    };
    return {make(0, documents.train, o.train_size), make(1, documents.val, o.val_size), make(2, documents.test, o.test_size)};
}

}  // namespace nyx::data
