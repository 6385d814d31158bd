#pragma once
// Byte-level text classification (the LRA Text task's form) from a user's TSV file: one example
// per line, `label<TAB>text`. Each byte b of the text is token b + 1 (0 pads): vocabulary 257.
//
//     data::SequenceDataset train = data::read_text_tsv("reviews-train.tsv", {.max_length = 1000});
//     data::SequenceDataset test  = data::read_text_tsv("reviews-test.tsv", {.max_length = 1000, .classes = train.class_names});
#include "dataset.hpp"

namespace nyx::data {

inline constexpr std::int64_t text_vocab = 257;

struct TextOptions {
    std::int64_t max_length = 1000;  // longer texts are cut to their first max_length bytes
    // The class names, in id order. Empty: the file's distinct labels, in numeric order when all
    // are integers and in byte order otherwise. A label outside a given list is an error.
    std::vector<std::string> classes;
    // More distinct labels than this are an error naming the line of the first label past it (a
    // caller's limit, found before anything trains); 0: no limit.
    std::int64_t max_classes = 0;
};

// Errors name the file and the line: a line without a tab, an empty label or text, an unknown label,
// a label past max_classes. A UTF-8 byte-order mark at the start of the file is skipped.
SequenceDataset read_text_tsv(const std::string& path, const TextOptions& options = {});

}  // namespace nyx::data
