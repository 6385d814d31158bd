#include "documents.hpp"

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include <nyx/core/file.hpp>
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

std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t hash = 0xcbf29ce484222325;
    for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3;
    return hash;
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

// The passage of `length` bytes at a uniform offset of `document` (all of it when shorter), as tokens.
std::vector<std::uint16_t> passage(std::string_view document, std::int64_t length, Generator& rng) {
    const std::size_t size = std::min(document.size(), static_cast<std::size_t>(length));
    const std::size_t offset = below(rng, document.size() - size + 1);
    std::vector<std::uint16_t> tokens(size);
    for (std::size_t i = 0; i < size; ++i) tokens[i] = static_cast<std::uint16_t>(static_cast<unsigned char>(document[offset + i]) + 1);
    return tokens;
}

// Draws one of `documents` with probability proportional to its length.
class LengthWeighted {
  public:
    explicit LengthWeighted(std::vector<const Document*> documents) : documents_(std::move(documents)) {
        std::uint64_t total = 0;
        for (const Document* d : documents_) ends_.push_back(total += d->bytes.size());
    }
    std::size_t size() const { return documents_.size(); }
    std::size_t draw_index(Generator& rng) const {
        const std::uint64_t at = below(rng, ends_.back());
        return static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), at) - ends_.begin());
    }
    const Document& operator[](std::size_t i) const { return *documents_[i]; }

  private:
    std::vector<const Document*> documents_;
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
    NYX_CHECK(o.val_share >= 0 && o.test_share >= 0 && o.val_share + o.test_share < 1, "documents: val_share (", o.val_share,
              ") and test_share (", o.test_share, ") must be >= 0 with a sum below 1");
    NYX_CHECK(!o.classes.empty(), "documents: give at least one class folder");
    NYX_CHECK(o.train_size >= 0 && o.val_size >= 0 && o.test_size >= 0, "documents: split sizes must be >= 0");
    const fs::path root(o.root);
    std::error_code error;
    NYX_CHECK(fs::is_directory(root, error), o.root, ": no such folder; ",
              o.root == linux_documentation ? "install Debian's linux-doc-6.1 (apt-get install linux-doc-6.1), or give another tree (nyx-train: --data-dir)"
                                            : "give the root of a tree of documents (nyx-train: --data-dir)");
    DocumentSplits splits;
    std::unordered_set<std::uint64_t> seen;  // hashes of the bytes kept so far
    for (std::size_t label = 0; label < o.classes.size(); ++label) {
        const std::string& folder = o.classes[label];
        NYX_CHECK(!folder.empty() && folder.find('/') == std::string::npos && folder != "." && folder != "..", "documents: class \"",
                  folder, "\" must be the name of a top-level folder of ", o.root);
        NYX_CHECK(std::count(o.classes.begin(), o.classes.end(), folder) == 1, "documents: the class folder ", folder, " is listed twice");
        NYX_CHECK(fs::is_directory(root / folder, error), o.root, " has no folder ", folder, "; its folders: ", available_folders(root));
        NYX_CHECK(!fs::is_symlink(root / folder, error), o.root, "/", folder, " is a symbolic link; give the folder it names as the tree instead");
        std::vector<Document> documents;
        for (std::string& path : document_paths(root, folder)) {
            const std::vector<unsigned char> bytes = io::read_gzip_file((root / path).string(), max_document_bytes, "a document nyx reads");
            Document d{std::move(path), static_cast<std::int64_t>(label), std::string(bytes.begin(), bytes.end())};
            if (d.bytes.empty()) continue;
            const std::uint64_t hash = fnv1a(d.bytes);
            // An equal hash is compared byte for byte before the document is dropped as a repeat.
            if (seen.contains(hash)) {
                bool repeat = false;
                for (const auto* list : {&splits.train, &splits.val, &splits.test, &documents})
                    for (const Document& other : *list) repeat = repeat || other.bytes == d.bytes;
                if (repeat) continue;
            }
            seen.insert(hash);
            documents.push_back(std::move(d));
        }
        const auto count = static_cast<std::int64_t>(documents.size());
        NYX_CHECK(count >= 3, o.root, "/", folder, ": ", count, " distinct documents (*.rst, *.txt, gzip'd or not); a class needs at least 3, one per split");
        std::vector<std::pair<std::uint64_t, std::size_t>> order;
        for (std::size_t i = 0; i < documents.size(); ++i) order.emplace_back(mix_seed(o.split_seed, fnv1a(documents[i].path)), i);
        std::sort(order.begin(), order.end());
        const std::int64_t val = std::max<std::int64_t>(1, static_cast<std::int64_t>(o.val_share * static_cast<double>(count))),
                           test = std::max<std::int64_t>(1, static_cast<std::int64_t>(o.test_share * static_cast<double>(count)));
        NYX_CHECK(val + test < count, o.root, "/", folder, ": ", count, " documents leave none for training; lower val_share and test_share");
        for (std::int64_t k = 0; k < count; ++k) {
            auto& split = k < val ? splits.val : k < val + test ? splits.test
                                                                : splits.train;
            split.push_back(std::move(documents[order[static_cast<std::size_t>(k)].second]));
        }
    }
    for (auto* split : {&splits.train, &splits.val, &splits.test})
        std::sort(split->begin(), split->end(), [](const Document& a, const Document& b) { return a.path < b.path; });
    return splits;
}

DocumentTaskSplits generate_document_text(const DocumentTreeOptions& o) {
    const DocumentSplits documents = split_document_tree(o);
    const auto classes = static_cast<std::int64_t>(o.classes.size());
    const auto make = [&](int split, const std::vector<Document>& list, std::int64_t size) {
        std::vector<LengthWeighted> by_class;
        for (std::int64_t c = 0; c < classes; ++c) {
            std::vector<const Document*> own;
            for (const Document& d : list)
                if (d.label == c) own.push_back(&d);
            by_class.emplace_back(std::move(own));
        }
        const std::vector<std::int64_t> labels = balanced_labels(o.seed, split, size, classes);
        std::vector<Sequence> examples(static_cast<std::size_t>(size));
        for (std::int64_t i = 0; i < size; ++i) {
            Generator rng = example_rng(o.seed, split, i);
            const std::int64_t label = labels[static_cast<std::size_t>(i)];
            const LengthWeighted& pool = by_class[static_cast<std::size_t>(label)];
            examples[static_cast<std::size_t>(i)] = Sequence{passage(pool[pool.draw_index(rng)].bytes, o.length, rng), label};
        }
        return SequenceDataset(std::string("text-") + split_names[split], std::move(examples), text_vocab, classes, 1, o.classes);
    };
    return {make(0, documents.train, o.train_size), make(1, documents.val, o.val_size), make(2, documents.test, o.test_size)};
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
        const LengthWeighted pool(std::move(long_enough));
        std::vector<LengthWeighted> class_pools;
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
                const LengthWeighted& own = class_pools[static_cast<std::size_t>(first.label)];
                const LengthWeighted& others = own.size() >= 2 ? own : pool;
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
