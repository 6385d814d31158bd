#include "tokenizer.hpp"

#include <cstdio>
#include <mutex>
#include <unordered_map>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <nyx/core/error.hpp>
#include <nyx/core/file.hpp>
#include <nyx/core/hash.hpp>

namespace nyx::data {

struct Tokenizer::Impl {
    std::string bytes;
    sentencepiece::SentencePieceProcessor processor;
};

namespace {

constexpr std::size_t max_model_bytes = std::size_t{64} << 20;

// The sentences, one after another, as SentencePiece's trainer asks for them.
class Sentences : public sentencepiece::SentenceIterator {
  public:
    explicit Sentences(const std::vector<std::string>& sentences) : sentences_(sentences) {}
    bool done() const override { return next_ >= sentences_.size(); }
    void Next() override { ++next_; }
    const std::string& value() const override { return sentences_[next_]; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    const std::vector<std::string>& sentences_;
    std::size_t next_ = 0;
};

// SentencePiece's training settings are process-wide (its random seed, its log level).
std::mutex training;

}  // namespace

Tokenizer Tokenizer::train(const std::vector<std::string>& sentences, const TokenizerOptions& o) {
    NYX_CHECK(o.model == "unigram" || o.model == "bpe", "tokenizer: the model must be unigram or bpe, got ", o.model);
    NYX_CHECK(o.vocab_size > first_piece_id + 256 && o.vocab_size <= max_vocab_size, "tokenizer: the vocabulary size must lie in ",
              first_piece_id + 257, "..", max_vocab_size, " (5 special ids and 256 bytes come first), got ", o.vocab_size);
    NYX_CHECK(o.character_coverage >= 0.98 && o.character_coverage <= 1, "tokenizer: the character coverage must lie in [0.98, 1], got ",
              o.character_coverage);
    NYX_CHECK(o.max_sentences >= 0 && o.threads >= 1 && o.threads <= 128, "tokenizer: max_sentences must be >= 0 and threads lie in 1..128");
    NYX_CHECK(!sentences.empty(), "tokenizer: no sentences to train on");
    const std::unordered_map<std::string, std::string> settings = {
        {"model_type", o.model},
        {"vocab_size", std::to_string(o.vocab_size)},
        {"character_coverage", std::to_string(o.character_coverage)},
        {"input_sentence_size", std::to_string(o.max_sentences)},
        {"shuffle_input_sentence", "true"},
        {"byte_fallback", "true"},
        {"pad_id", std::to_string(pad_id)},
        {"pad_piece", "[PAD]"},
        {"unk_id", std::to_string(unk_id)},
        {"bos_id", "-1"},
        {"eos_id", "-1"},
        {"control_symbols", "[CLS],[SEP],[MASK]"},
        {"num_threads", std::to_string(o.threads)},
        {"minloglevel", "2"},  // errors only: SentencePiece otherwise logs every EM round
    };
    Sentences iterator(sentences);
    std::string bytes;
    {
        const std::lock_guard lock(training);
        sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(o.seed % 0xffffffffu));  // -1 is reserved for a random seed
        const sentencepiece::util::Status status = sentencepiece::SentencePieceTrainer::Train(settings, &iterator, &bytes);
        NYX_CHECK(status.ok(), "tokenizer: SentencePiece could not train a ", o.model, " model of ", o.vocab_size, " ids: ", status.ToString());
    }
    return from_bytes(std::move(bytes), "the tokenizer just trained");
}

Tokenizer Tokenizer::from_bytes(std::string bytes, const std::string& source) {
    auto impl = std::make_shared<Impl>();
    impl->bytes = std::move(bytes);
    const sentencepiece::util::Status status = impl->processor.LoadFromSerializedProto(impl->bytes);
    NYX_CHECK(status.ok(), source, " is not a SentencePiece model (", status.ToString(), ")");
    const auto& p = impl->processor;
    // The ids every nyx model relies on: a model trained elsewhere would mask and pad the wrong ids.
    const bool ours = p.GetPieceSize() > first_piece_id && p.pad_id() == pad_id && p.unk_id() == unk_id && p.PieceToId("[CLS]") == cls_id &&
                      p.PieceToId("[SEP]") == sep_id && p.PieceToId("[MASK]") == mask_id && p.IsControl(cls_id) && p.IsControl(mask_id);
    NYX_CHECK(ours, source, " is a SentencePiece model, but not one nyx trained: it needs [PAD] 0, <unk> 1, [CLS] 2, [SEP] 3 and [MASK] 4 "
                            "(train one with nyx-train tokenizer)");
    NYX_CHECK(p.GetPieceSize() <= max_vocab_size, source, " has ", p.GetPieceSize(), " pieces; nyx takes at most ", max_vocab_size);
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const std::string& path) {
    const std::vector<unsigned char> bytes = io::read_file(path);
    NYX_CHECK(bytes.size() <= max_model_bytes, path, " holds ", bytes.size(), " bytes; a tokenizer model is far smaller: is it one?");
    return from_bytes(std::string(bytes.begin(), bytes.end()), path);
}

void Tokenizer::save(const std::string& path) const { io::write_file_atomically(path, impl_->bytes); }

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
    std::vector<int> ids;
    const sentencepiece::util::Status status = impl_->processor.Encode(text, &ids);
    NYX_CHECK(status.ok(), "tokenizer: cannot encode the text (", status.ToString(), ")");
    return {ids.begin(), ids.end()};
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids) const {
    std::vector<int> kept;
    for (const std::int32_t id : ids) {
        NYX_CHECK(id >= 0 && id < vocab_size(), "tokenizer: id ", id, " is outside the vocabulary of ", vocab_size());
        if (id != pad_id && id != cls_id && id != sep_id && id != mask_id) kept.push_back(id);
    }
    std::string text;
    const sentencepiece::util::Status status = impl_->processor.Decode(kept, &text);
    NYX_CHECK(status.ok(), "tokenizer: cannot decode the ids (", status.ToString(), ")");
    return text;
}

std::string Tokenizer::piece(std::int32_t id) const {
    NYX_CHECK(id >= 0 && id < vocab_size(), "tokenizer: id ", id, " is outside the vocabulary of ", vocab_size());
    return impl_->processor.IdToPiece(id);
}

std::int64_t Tokenizer::vocab_size() const { return impl_->processor.GetPieceSize(); }

const std::string& Tokenizer::bytes() const { return impl_->bytes; }

std::string Tokenizer::fingerprint() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(fnv1a(impl_->bytes)));
    return text;
}

}  // namespace nyx::data
