#pragma once
// The Long Range Arena's ListOps task (docs/nystrom.md), generated here rather than downloaded.
// An expression nests the operators MIN, MAX, MED (median, truncated) and SM (sum mod 10) over the
// digits 0–9, e.g. `[MAX 2 9 [MIN 4 7 ] 0 ]` = 9; the label is its value (10 classes).
//
//     data::ListOpsSplits s = data::generate_listops({.min_length = 50, .max_length = 200,
//                                                     .train_size = 20000, .seed = 1});
//
// Token ids: 0 padding, 1 unknown, 2–11 the digits 0–9, 12–15 `[MIN` `[MAX` `[MED` `[SM`, 16 `]`.
#include <string_view>

#include "dataset.hpp"

namespace nyx::data {

inline constexpr std::int64_t listops_vocab = 17;

struct ListOpsOptions {
    // Expressions are kept when their token count is strictly between these (LRA: 500 and 2000).
    std::int64_t min_length = 500, max_length = 2000;
    std::int64_t train_size = 96000, val_size = 2000, test_size = 2000;
    std::int64_t max_depth = 10;       // nodes at this depth are digits
    std::int64_t max_args = 10;        // an operator takes 2 to max_args arguments
    double leaf_probability = 0.75;    // a node shallower than max_depth is a digit with this probability
    std::uint64_t seed = 0;
};

struct ListOpsSplits {
    SequenceDataset train, val, test;
};

// Unique expressions, drawn in order and dealt to train, then val, then test: the splits are
// disjoint. Deterministic for a seed.
ListOpsSplits generate_listops(const ListOpsOptions& options);

// Space-separated symbols to ids; parentheses (in some releases of the files) are skipped and any
// other unknown symbol becomes id 1.
std::vector<std::uint16_t> listops_tokenize(std::string_view source);
std::string listops_source(std::span<const std::uint16_t> tokens);
// The value of a well-formed expression; a malformed one is an Error.
std::int64_t listops_evaluate(std::span<const std::uint16_t> tokens);

// The LRA release's TSV: a header `Source<TAB>Target`, then one expression and its value per line.
SequenceDataset read_listops_tsv(const std::string& path);
void write_listops_tsv(const std::string& path, const SequenceDataset& dataset);  // atomically

}  // namespace nyx::data
