#pragma once
// Byte-level tasks made from a tree of documents on the machine. They stand in for two Long Range
// Arena tasks whose files cannot be downloaded here (Tay et al. 2021):
//   - Text (LRA: IMDb reviews as bytes, n up to 4,096). Which top-level folder of the tree does a
//     passage come from?
//   - Retrieval (LRA: pairs of AAN papers, 2 × 4,096 bytes). Do two passages come from the same
//     document?
// The default tree is the Linux kernel's Documentation/ folder, from Debian's linux-doc-6.1. It
// holds reStructuredText and plain text, mostly gzip'd; its top-level folders are subsystems.
//
// The rules:
//   - Documents. A class is a top-level folder of the tree. Its documents are the regular files under
//     it, at any depth, named *.rst, *.txt, *.rst.gz or *.txt.gz. They are read as bytes, gzip'd ones
//     inflated, with their markup kept (as LRA keeps IMDb's). Symbolic links are not followed. An
//     empty file is skipped, and so is a file whose bytes repeat an earlier one's (classes in
//     their order, each folder's files in path order).
//   - Split by document. Within each class, the documents are ordered by a hash of (split_seed,
//     path). Validation takes the first val_share of them, test the next test_share, training the
//     rest, each split at least one. So no document is in two splits, and, split_seed being fixed
//     by default, every run (whatever its seed) tests on the same documents.
//   - Tokens. Byte b is token b + 1 (0 pads): vocabulary 257, as read_text_tsv.
//   - Labels. A split of `size` examples labels example i with j mod C, j the place of i in a
//     random permutation of the split (seeded by seed and split): every split is balanced to within
//     one example per class, and the labels follow no stride.
//   - Text. A passage's document is drawn from its class's documents in the split, with
//     probability proportional to the document's length. The passage is `length` bytes from a
//     uniform offset, or the whole document when that is shorter (so short passages come from
//     short documents, which some folders hold more of: the length is a clue, as it is in IMDb).
//   - Retrieval. Only documents of at least 2 × `length` bytes take part, from every class. A
//     positive pair (label 1) is two disjoint passages of one document, in random order. A negative
//     pair (label 0) is a passage of one document and one of another document of the same folder
//     (of any folder when its folder has no other), so that the subsystem does not tell the label.
//     Each passage is exactly `length` bytes; documents are drawn in proportion to their lengths. An
//     example is the two passages one after the other, 2 × length tokens (models::EncoderConfig::
//     dual_encoder reads them as two sequences).
// Example i of a split depends only on (seed, split, split size, i) and the tree, through nyx's
// counter-based Generator (core/random.hpp), so the same tree gives the same data on every machine.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "text.hpp"

namespace nyx::data {

inline constexpr const char* linux_documentation = "/usr/share/doc/linux-doc-6.1/Documentation";

struct DocumentTreeOptions {
    std::string root = linux_documentation;
    // The top-level folders, one class each, in class-id order. The default is the eight largest
    // English folders of linux-doc-6.1.
    std::vector<std::string> classes = {"admin-guide", "devicetree", "driver-api", "filesystems",
                                        "hwmon", "networking", "trace", "userspace-api"};
    std::int64_t length = 4096;  // bytes per passage
    std::int64_t train_size = 16000, val_size = 2000, test_size = 2000;  // passages (Text) or pairs (Retrieval)
    double val_share = 0.1, test_share = 0.1;  // of each class's documents
    std::uint64_t seed = 0;  // the passages, pairs and labels
    std::uint64_t split_seed = 0;  // which documents go to which split
};

struct Document {
    std::string path;  // relative to the root
    std::int64_t label = 0;  // the index of its folder in options.classes
    std::string bytes;
};

struct DocumentSplits {
    std::vector<Document> train, val, test;  // each in path order
};

struct DocumentSplitOptions {
    double val_share = 0.1, test_share = 0.1;  // of each group's documents
    std::uint64_t split_seed = 0;
};
// The split rule above for documents of any origin (the pretraining corpus uses it too): drops
// empty documents and exact repeats of an earlier one (in the order given), then splits each
// group (a label in 0 .. group_names.size() - 1) by a hash of (split_seed, path). Each split is in
// path order. Throws when a group keeps fewer than 3 documents, naming it by group_names.
DocumentSplits split_documents(std::vector<Document> documents, const std::vector<std::string>& group_names, const DocumentSplitOptions& options);

// Drops empty documents and exact repeats of an earlier one's bytes (in the order given), as
// split_documents does first.
void drop_repeats(std::vector<Document>& documents);

// The documents of each split. Throws nyx::Error, naming the fix, when the root is not a folder (for
// the default: install linux-doc-6.1), when a class folder is missing or holds fewer than 3
// documents, or when the options are out of range (length 1..65536, shares with val + test < 1).
DocumentSplits split_document_tree(const DocumentTreeOptions& options);

struct DocumentTaskSplits {
    SequenceDataset train, val, test;
};

// The Text task: passages labelled by their folder (class names: the folders).
DocumentTaskSplits generate_document_text(const DocumentTreeOptions& options);

// The Text task's rule for documents given as tokens of any vocabulary (the pretraining corpus in
// a tokenizer's ids, for fine-tuning): each split's examples are drawn from its documents as the
// rules above say, with `before` and `after` around each passage of at most `length` tokens.
// generate_document_text is this over bytes (token b + 1). Throws when a split that needs examples
// has no document of a class.
struct LabelledTokens {
    std::vector<std::uint16_t> tokens;
    std::int64_t label = 0;
};
struct TokenTextOptions {
    std::vector<std::string> classes;  // names, in label order
    std::int64_t vocab = text_vocab;
    std::int64_t length = 4096;  // tokens of a passage, without `before` and `after`
    std::int64_t train_size = 16000, val_size = 2000, test_size = 2000;
    std::uint64_t seed = 0;
    std::vector<std::uint16_t> before = {}, after = {};  // [CLS] and [SEP], say
    std::string name = "text";  // the datasets are "NAME-train", "NAME-val", "NAME-test"
};
DocumentTaskSplits generate_token_text(const std::array<std::vector<LabelledTokens>, 3>& documents, const TokenTextOptions& options);

// The Retrieval task: pairs labelled "different documents" (0) or "same document" (1). Throws when a
// split has fewer than two documents of 2 × length bytes (give a smaller length).
DocumentTaskSplits generate_document_retrieval(const DocumentTreeOptions& options);

}  // namespace nyx::data
