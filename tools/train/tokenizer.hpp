#pragma once
// nyx-train tokenizer: trains the SentencePiece model that pretraining starts from, on the training
// split of the corpus (data/corpus.hpp), and states the corpus's size in its tokens.
#include <cstdint>
#include <string>

namespace nyx::train {

struct TokenizerCommand {
    std::string output = "tokenizer.model";
    std::int64_t vocab_size = 8000;
    std::string model = "unigram";  // unigram | bpe
    std::int64_t max_sentences = 2'000'000;
    std::uint64_t seed = 0;
    std::int64_t threads = 0;  // 0: every core (SentencePiece's own threads, and the encoding's)
    std::string data_dir;  // "": Debian's corpus; a folder: its reStructuredText documents (corpus_options)
};

// Returns the exit status (0); errors are nyx::Error, or UsageError for the options.
int train_tokenizer(const TokenizerCommand& command);

}  // namespace nyx::train
