#include "pretraining.hpp"

#include <algorithm>
#include <cmath>

#include <nyx/core/parallel.hpp>
#include <nyx/core/random.hpp>

namespace nyx::data {

TokenizedCorpus tokenize(const std::vector<Document>& documents, const Tokenizer& tokenizer) {
    NYX_CHECK(tokenizer.vocab_size() <= Tokenizer::max_vocab_size, "tokenize: ", tokenizer.vocab_size(), " ids do not fit in 16 bits");
    TokenizedCorpus corpus;
    corpus.vocab_size = tokenizer.vocab_size();
    corpus.documents.resize(documents.size());
    parallel_for(0, static_cast<std::int64_t>(documents.size()), 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t d = begin; d < end; ++d) {
            TokenizedDocument& out = corpus.documents[static_cast<std::size_t>(d)];
            std::string_view rest = documents[static_cast<std::size_t>(d)].bytes;
            while (!rest.empty()) {
                const std::size_t end_of_line = rest.find('\n');
                const std::string_view line = rest.substr(0, end_of_line);
                rest.remove_prefix(end_of_line == std::string_view::npos ? rest.size() : end_of_line + 1);
                const std::vector<std::int32_t> ids = tokenizer.encode(line);
                if (ids.empty()) continue;
                out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
                out.sentence_ends.push_back(static_cast<std::uint32_t>(out.tokens.size()));
            }
        }
    });
    for (const TokenizedDocument& d : corpus.documents) corpus.tokens += static_cast<std::int64_t>(d.tokens.size());
    return corpus;
}

SentenceOrderDataset::SentenceOrderDataset(const TokenizedCorpus& corpus, SentenceOrderOptions options) : corpus_(corpus), options_(options) {
    NYX_CHECK(options_.length >= 5, "SentenceOrderDataset: length must be at least 5 ([CLS], [SEP] twice and a token each side), got ", options_.length);
    NYX_CHECK(options_.size >= 1, "SentenceOrderDataset: size must be at least 1, got ", options_.size);
    std::uint64_t total = 0;
    for (std::size_t d = 0; d < corpus.documents.size(); ++d)
        if (const std::size_t n = corpus.documents[d].tokens.size(); n >= 2) documents_.push_back(d), ends_.push_back(total += n);
    NYX_CHECK(!documents_.empty(), "SentenceOrderDataset: no document has 2 tokens or more");
}

Example SentenceOrderDataset::get(std::int64_t index) const {
    NYX_CHECK(index >= 0 && index < size(), display_name(), ": example ", index, " is out of range [0, ", size(), ")");
    Generator rng(mix_seed(options_.seed, static_cast<std::uint64_t>(index)));
    // A document in proportion to its tokens, then a sentence of it.
    const auto at = static_cast<std::uint64_t>(random_below(static_cast<std::int64_t>(ends_.back()), rng));
    const TokenizedDocument& doc = corpus_.documents[documents_[static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), at) - ends_.begin())]];
    const auto& ends = doc.sentence_ends;
    const auto sentence = static_cast<std::size_t>(random_below(static_cast<std::int64_t>(ends.size()), rng));
    const std::size_t budget = static_cast<std::size_t>(options_.length) - 3, n = doc.tokens.size();
    std::size_t first = sentence == 0 ? 0 : ends[sentence - 1];
    const std::size_t last = std::min(n, first + budget);
    if (last - first < 2) first = last > budget ? last - budget : 0;  // the document's last tokens
    // The cut: a sentence end strictly inside [first, last), else a uniform token.
    std::vector<std::size_t> cuts;
    for (const std::uint32_t e : ends)
        if (e > first && e < last) cuts.push_back(e);
    const std::size_t cut = cuts.empty() ? first + 1 + static_cast<std::size_t>(random_below(static_cast<std::int64_t>(last - first - 1), rng))
                                         : cuts[static_cast<std::size_t>(random_below(static_cast<std::int64_t>(cuts.size()), rng))];
    const bool swapped = random_below(2, rng) == 1;
    const auto* tokens = doc.tokens.data();
    std::vector<std::int64_t> ids;
    ids.reserve(last - first + 3);
    const auto append = [&](std::size_t from, std::size_t to) { ids.insert(ids.end(), tokens + from, tokens + to); };
    ids.push_back(Tokenizer::cls_id);
    swapped ? append(cut, last) : append(first, cut);
    ids.push_back(Tokenizer::sep_id);
    swapped ? append(first, cut) : append(cut, last);
    ids.push_back(Tokenizer::sep_id);
    Tensor input = empty({static_cast<std::int64_t>(ids.size())}, i64);
    std::copy(ids.begin(), ids.end(), input.data<std::int64_t>());
    return {input, scalar(swapped ? 1.0 : 0.0, i64)};
}

Collate SentenceOrderDataset::default_collate() const { return sentence_pairs(); }

Collate sentence_pairs(std::int64_t sep_id) {
    return [pad = pad_sequences(), sep_id](std::span<const Example> examples) {
        Batch batch = pad(examples);
        const std::int64_t b = batch.inputs.size(0), n = batch.inputs.size(1);
        Tensor segments = zeros({b, n}, i64);
        const std::int64_t* ids = batch.inputs.data<std::int64_t>();
        const float* real = batch.mask.data<float>();
        std::int64_t* s = segments.data<std::int64_t>();
        for (std::int64_t row = 0; row < b; ++row) {
            bool second = false;
            for (std::int64_t i = row * n; i < (row + 1) * n; ++i) {
                s[i] = second && real[i] != 0 ? 1 : 0;
                second = second || ids[i] == sep_id;
            }
        }
        batch.extra["segments"] = segments;
        return batch;
    };
}

namespace {

void check(const MaskingOptions& o) {
    NYX_CHECK(o.first_maskable_id >= 0 && o.vocab_size > o.first_maskable_id, "masking: vocab_size (", o.vocab_size,
              ") must exceed first_maskable_id (", o.first_maskable_id, "); give the tokenizer's vocabulary size");
    NYX_CHECK(o.rate > 0 && o.rate <= 1, "masking: the rate must lie in (0, 1], got ", o.rate);
    NYX_CHECK(o.mask_share >= 0 && o.random_share >= 0 && o.mask_share + o.random_share <= 1, "masking: mask_share (", o.mask_share,
              ") and random_share (", o.random_share, ") must be >= 0 with a sum at most 1");
}

}  // namespace

void mask_tokens(Batch& batch, const MaskingOptions& o, Generator& generator) {
    check(o);
    NYX_CHECK(batch.inputs.defined() && batch.inputs.dim() == 2 && batch.inputs.dtype() == i64 && batch.inputs.is_contiguous(),
              "mask_tokens: the inputs must be contiguous ids [B, n] of i64");
    NYX_CHECK(batch.mask.defined() && batch.mask.shape() == batch.inputs.shape(), "mask_tokens: the batch needs a mask [B, n] like its inputs");
    const std::int64_t b = batch.inputs.size(0), n = batch.inputs.size(1);
    const Tensor mask = batch.mask.to(f32).contiguous();
    Tensor labels = full({b, n}, static_cast<double>(ignore_label), i64);
    std::int64_t* ids = batch.inputs.data<std::int64_t>();
    std::int64_t* label = labels.data<std::int64_t>();
    const float* real = mask.data<float>();
    std::vector<std::int64_t> maskable;
    for (std::int64_t row = 0; row < b; ++row) {
        maskable.clear();
        for (std::int64_t i = row * n; i < (row + 1) * n; ++i)
            if (real[i] != 0 && ids[i] >= o.first_maskable_id) maskable.push_back(i);
        if (maskable.empty()) continue;
        const auto count = std::max<std::int64_t>(1, std::llround(o.rate * static_cast<double>(maskable.size())));
        for (std::int64_t k = 0; k < count; ++k) {  // Fisher–Yates, stopped after `count` draws
            const std::int64_t j = k + random_below(static_cast<std::int64_t>(maskable.size()) - k, generator);
            std::swap(maskable[static_cast<std::size_t>(k)], maskable[static_cast<std::size_t>(j)]);
            const std::int64_t i = maskable[static_cast<std::size_t>(k)];
            label[i] = ids[i];
            const double u = random_uniform(generator);
            if (u < o.mask_share) ids[i] = o.mask_id;
            else if (u < o.mask_share + o.random_share) ids[i] = o.first_maskable_id + random_below(o.vocab_size - o.first_maskable_id, generator);
        }
    }
    batch.extra["mlm_labels"] = labels;
}

std::function<void(Batch&, Generator&)> masking(MaskingOptions o) {
    check(o);
    return [o](Batch& batch, Generator& generator) { mask_tokens(batch, o, generator); };
}

}  // namespace nyx::data
