#pragma once
// A subword tokenizer for pretraining: SentencePiece (Kudo and Richardson 2018; Debian's
// libsentencepiece), the library ALBERT and T5 use, trained as a unigram language model (Kudo
// 2018) or by byte-pair encoding (Sennrich et al. 2016). nyx wraps it and does not tokenize by
// itself.
//
//     data::Tokenizer t = data::Tokenizer::train(sentences, {.vocab_size = 8000});
//     t.save("run/tokenizer.model");                       // SentencePiece's own model file
//     std::vector<std::int32_t> ids = t.encode("The quick brown fox");
//     data::Tokenizer same = data::Tokenizer::load("run/tokenizer.model");
//
// Ids: 0 [PAD], 1 <unk>, 2 [CLS], 3 [SEP], 4 [MASK] (SentencePiece's control symbols: encode
// never yields them), then the pieces. Text is normalised by SentencePiece's default rule
// (nmt_nfkc: NFKC, and runs of spaces made one); characters outside the vocabulary are spelt as
// their UTF-8 bytes (byte fallback), so encode yields no <unk> and decode(encode(x)) gives back
// the normalised x.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nyx::data {

struct TokenizerOptions {
    std::int64_t vocab_size = 8000;  // ids in all, the 5 special ones and 256 bytes included
    std::string model = "unigram";  // unigram | bpe
    double character_coverage = 0.9995;  // of the training text's characters that get pieces of their own: 0.98 to 1
    // Sentences drawn from the training text (SentencePiece's input_sentence_size); 0: all of them.
    std::int64_t max_sentences = 2'000'000;
    std::uint64_t seed = 0;  // drives SentencePiece's sample of the sentences
    int threads = 1;  // SentencePiece's threads (1 to 128): the model may differ with their number
};

class Tokenizer {
  public:
    static constexpr std::int32_t pad_id = 0, unk_id = 1, cls_id = 2, sep_id = 3, mask_id = 4;
    static constexpr std::int32_t first_piece_id = 5;  // ids below it are never a piece of text
    static constexpr std::int64_t max_vocab_size = 65536;  // token ids are stored in 16 bits

    // Trains on `sentences` (one sentence or line each; SentencePiece skips lines longer than 4,192
    // bytes, and the corpus's sentences are at most 2,000).
    // Throws nyx::Error with SentencePiece's message when it refuses (a vocabulary larger than the
    // text allows, say: it names the largest), or when the options are out of range.
    static Tokenizer train(const std::vector<std::string>& sentences, const TokenizerOptions& options = {});
    // A SentencePiece model file. Throws, naming `path`, when it is not one, or not one that nyx
    // trained (its special ids differ).
    static Tokenizer load(const std::string& path);
    // The same from the model file's bytes; `source` names them in errors.
    static Tokenizer from_bytes(std::string bytes, const std::string& source);
    void save(const std::string& path) const;  // written atomically (io::write_file_atomically)

    std::vector<std::int32_t> encode(std::string_view text) const;
    std::string decode(std::span<const std::int32_t> ids) const;  // control ids and padding are skipped
    std::string piece(std::int32_t id) const;  // "▁the", "[MASK]", "<0xE2>"
    std::int64_t vocab_size() const;
    const std::string& bytes() const;  // the model file
    // 16 hex digits that name the model: FNV-1a of its bytes. A checkpoint records it and refuses
    // another tokenizer.
    std::string fingerprint() const;

  private:
    struct Impl;
    explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;  // copies share the model, which is read-only (encode is thread-safe)
};

}  // namespace nyx::data
