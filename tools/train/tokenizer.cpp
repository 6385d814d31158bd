#include "tokenizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <nyx/data/corpus.hpp>
#include <nyx/data/pretraining.hpp>
#include <nyx/data/tokenizer.hpp>

#include "run.hpp"

namespace nyx::train {

int train_tokenizer(const TokenizerCommand& c) {
    check_usage(c.model == "unigram" || c.model == "bpe", "--model must be unigram or bpe, got ", c.model);
    check_usage(c.threads >= 0 && c.threads <= 4096, "--threads must lie in 0..4096, got ", c.threads);
    check_writable_folder_of(c.output, "--output");
    if (c.threads > 0) set_num_threads(static_cast<int>(c.threads));
    const auto started = std::chrono::steady_clock::now();
    std::printf("nyx-train tokenizer: reading the corpus...\n");
    std::fflush(stdout);
    const data::DocumentSplits corpus = data::read_corpus(corpus_options(c.data_dir));
    std::vector<std::string> sentences;
    for (const data::Document& d : corpus.train)
        for (std::string_view rest = d.bytes; !rest.empty();) {
            const std::size_t end = rest.find('\n');
            if (end != 0) sentences.emplace_back(rest.substr(0, end));
            rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        }
    std::printf("training a %s model of %ld ids on %zu sentences of %zu documents...\n", c.model.c_str(), static_cast<long>(c.vocab_size),
                sentences.size(), corpus.train.size());
    std::fflush(stdout);
    const data::Tokenizer tokenizer = data::Tokenizer::train(
        sentences, {.vocab_size = c.vocab_size, .model = c.model, .max_sentences = c.max_sentences, .seed = c.seed, .threads = std::min(num_threads(), 128)});
    tokenizer.save(c.output);
    std::int64_t tokens[3] = {}, bytes[3] = {};
    int k = 0;
    for (const auto* split : {&corpus.train, &corpus.val, &corpus.test}) {
        tokens[k] = data::tokenize(*split, tokenizer).tokens;
        for (const data::Document& d : *split) bytes[k] += static_cast<std::int64_t>(d.bytes.size());
        ++k;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("wrote %s (fingerprint %s) in %.0f s\n"
                "corpus in its tokens: %ld train / %ld val / %ld test (%.2f bytes a token; %zu / %zu / %zu documents)\n",
                c.output.c_str(), tokenizer.fingerprint().c_str(), seconds, static_cast<long>(tokens[0]), static_cast<long>(tokens[1]),
                static_cast<long>(tokens[2]), static_cast<double>(bytes[0]) / static_cast<double>(std::max<std::int64_t>(tokens[0], 1)),
                corpus.train.size(), corpus.val.size(), corpus.test.size());
    return 0;
}

}  // namespace nyx::train
