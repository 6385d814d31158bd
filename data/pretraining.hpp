#pragma once
// Pretraining data for a masked language model, as the Nyströmformer paper pretrains (Xiong et al.
// 2021, after BERT: Devlin et al. 2019, and ALBERT: Lan et al. 2020; docs/pretraining.md): pairs of
// consecutive segments of one document for sentence-order prediction (SOP), and BERT's masking,
// drawn afresh for every batch (dynamic masking, as RoBERTa: Liu et al. 2019).
//
//     data::TokenizedCorpus train = data::tokenize(corpus.train, tokenizer);   // corpus.hpp
//     data::SentenceOrderDataset pairs(train, {.length = 512, .size = 100000, .seed = 1});
//     data::Loader loader(pairs, {.batch_size = 32, .shuffle = true, .seed = 2, .collate = data::sentence_pairs(),
//                                 .augment = data::masking({.vocab_size = tokenizer.vocab_size()})});
//     // a batch: inputs [B, n] (masked ids), mask [B, n], targets [B] (1: the segments were swapped),
//     // extra["segments"] [B, n] and extra["mlm_labels"] [B, n] (the id to predict, or -100)
//
// The rules:
//   - A document is its tokens, sentence after sentence (the corpus has one sentence a line); a
//     document of fewer than 2 tokens takes no part.
//   - Example i (SentenceOrderDataset::get) depends on (seed, i) and the corpus alone. A document is
//     drawn with probability proportional to its tokens, then one of its sentences uniformly; the
//     segment is that sentence and those after it, up to length - 3 tokens (moved back to the
//     document's last length - 3 tokens when fewer than 2 are left). It is cut in two at one of the
//     sentence ends inside it, uniformly (at a uniform token when there is none): A before the cut,
//     B after. With probability 1/2 the two are swapped (label 1); else they are in order (label 0).
//     The sequence is [CLS] A [SEP] B [SEP]: at most `length` ids.
//   - Segments: 0 up to and including the first [SEP], 1 after it (BERT's token types).
//   - Masking (mask_tokens): of each sequence's real tokens that are pieces of text (ids from
//     first_maskable_id: not padding, [CLS] or [SEP]), round(15%) are chosen uniformly, at least
//     one. Each chosen token becomes [MASK] with probability 0.8, a uniform random piece with 0.1,
//     and stays itself with 0.1; its label is its original id. Every other label is -100
//     (ops::cross_entropy's ignore_index).
#include <cstdint>
#include <functional>
#include <vector>

#include "dataset.hpp"
#include "documents.hpp"
#include "tokenizer.hpp"

namespace nyx::data {

struct TokenizedDocument {
    std::vector<std::uint16_t> tokens;
    std::vector<std::uint32_t> sentence_ends;  // one past each sentence's last token, increasing; the last is tokens.size()
};

struct TokenizedCorpus {
    std::vector<TokenizedDocument> documents;  // in the order given
    std::int64_t tokens = 0;  // in all
    std::int64_t vocab_size = 0;  // the tokenizer's
};

// Each document's lines (sentences; empty lines skipped) encoded by `tokenizer`, in parallel.
TokenizedCorpus tokenize(const std::vector<Document>& documents, const Tokenizer& tokenizer);

struct SentenceOrderOptions {
    std::int64_t length = 512;  // ids per example at most, [CLS] and two [SEP] included; at least 5
    std::int64_t size = 100000;  // examples: each is drawn afresh from (seed, index)
    std::uint64_t seed = 0;
};

// Sentence-order examples of a corpus: input ids [n] i64 ([CLS] A [SEP] B [SEP]), target the
// SOP label (rank 0, i64: 1 when swapped). Holds a reference to `corpus`, which must outlive it.
// Throws when no document has 2 tokens, or the options are out of range.
class SentenceOrderDataset : public Dataset {
  public:
    SentenceOrderDataset(const TokenizedCorpus& corpus, SentenceOrderOptions options);
    SentenceOrderDataset(TokenizedCorpus&& corpus, SentenceOrderOptions options) = delete;  // would dangle
    std::int64_t size() const override { return options_.size; }
    Example get(std::int64_t index) const override;
    Collate default_collate() const override;  // sentence_pairs()
    std::string display_name() const override { return "sentence-order pairs"; }
    const SentenceOrderOptions& options() const { return options_; }

  private:
    const TokenizedCorpus& corpus_;
    SentenceOrderOptions options_;
    std::vector<std::size_t> documents_;  // the documents that take part
    std::vector<std::uint64_t> ends_;  // their cumulative token counts
};

// pad_sequences (f32 mask), then extra["segments"] [B, n] i64 from each row's first [SEP] (`sep_id`).
Collate sentence_pairs(std::int64_t sep_id = Tokenizer::sep_id);

struct MaskingOptions {
    std::int64_t vocab_size = 0;  // random replacements are drawn from [first_maskable_id, vocab_size)
    double rate = 0.15;  // of each sequence's maskable tokens
    double mask_share = 0.8, random_share = 0.1;  // of the chosen: [MASK], a random piece; the rest stay
    std::int64_t mask_id = Tokenizer::mask_id;
    std::int64_t first_maskable_id = Tokenizer::first_piece_id;
};

// Masks batch.inputs [B, n] (i64) in place, where batch.mask [B, n] is 1, and adds
// extra["mlm_labels"] [B, n] i64, as the rules above say.
void mask_tokens(Batch& batch, const MaskingOptions& options, Generator& generator);
// The same as a LoaderOptions::augment. Checks the options first (vocab_size above
// first_maskable_id, shares in [0, 1] with a sum at most 1, rate in (0, 1]).
std::function<void(Batch&, Generator&)> masking(MaskingOptions options);

inline constexpr std::int64_t ignore_label = -100;

}  // namespace nyx::data
