// The pretraining path's pieces: the corpus (markup stripped, split by document), the SentencePiece
// tokenizer, sentence-order pairs, BERT's masking through the loader, and models::MaskedLM.
#include <cmath>
#include <map>
#include <set>

#include <nyx/data/corpus.hpp>
#include <nyx/data/pretraining.hpp>
#include <nyx/data/tokenizer.hpp>
#include <nyx/models/masked_lm.hpp>

#include "test_util.hpp"

using namespace nyx;
namespace fs = std::filesystem;

namespace {

// A count of n Bernoulli(p) draws lies within 4 standard deviations of n·p (fails by chance
// about once in 16,000 runs of a check, and the draws are seeded: it either always holds or never).
void check_rate(std::int64_t count, std::int64_t n, double p) {
    const double mean = static_cast<double>(n) * p, sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
    INFO("count ", count, " of ", n, ", expected ", mean, " ± 4 × ", sd);
    CHECK(std::abs(static_cast<double>(count) - mean) <= 4 * sd);
}

// Sentences of made-up words over a small alphabet: a text a tokenizer can learn a few hundred
// pieces from in well under a second.
std::vector<std::string> made_up_sentences(std::int64_t count, std::uint64_t seed) {
    const std::vector<std::string> words = {"the", "kernel", "module", "loads", "a", "driver", "for", "every", "device", "and",
                                            "python", "reads", "files", "from", "disk", "while", "threads", "wait", "on", "locks"};
    Generator rng(seed);
    std::vector<std::string> sentences;
    for (std::int64_t i = 0; i < count; ++i) {
        std::string s;
        const std::int64_t length = 4 + random_below(10, rng);
        for (std::int64_t w = 0; w < length; ++w) s += (w ? " " : "") + words[static_cast<std::size_t>(random_below(20, rng))];
        s[0] = static_cast<char>(s[0] - 'a' + 'A');
        sentences.push_back(s + ".");
    }
    return sentences;
}

data::Tokenizer small_tokenizer(const std::string& model = "unigram") {
    return data::Tokenizer::train(made_up_sentences(3000, 1), {.vocab_size = 320, .model = model});
}

// Documents of made-up sentences, one a line.
std::vector<data::Document> made_up_documents(std::int64_t count, std::uint64_t seed) {
    std::vector<data::Document> documents;
    for (std::int64_t d = 0; d < count; ++d) {
        std::string text;
        for (const std::string& s : made_up_sentences(3 + d % 40, seed * 1000 + static_cast<std::uint64_t>(d))) text += s + "\n";
        documents.push_back({"doc" + std::to_string(d), 0, text});
    }
    return documents;
}

}  // namespace

TEST_SUITE("data") {

TEST_CASE("strip_rst keeps the prose of reStructuredText and drops its markup") {
    const std::string rst =
        ".. SPDX-License-Identifier: GPL-2.0\n"
        "\n"
        "==========\n"
        "The Title\n"
        "==========\n"
        "\n"
        ":Author: Jane Doe\n"
        "\n"
        "A paragraph with ``literal code``, a :ref:`link title <target>`, :c:func:`kmalloc`,\n"
        "`a reference <https://example.org>`_, `plain`_, *emphasis*, **strong**, |sub| and a\n"
        "footnote [1]_ and 2 * 3 * 4 stays.  An escaped \\*star\\*.\n"
        "\n"
        "Example::\n"
        "\n"
        "    int code_is_dropped = 1;\n"
        "\n"
        "After the code.\n"
        "\n"
        ".. code-block:: c\n"
        "\n"
        "   also_dropped();\n"
        "\n"
        ".. note:: Keep this note.\n"
        "   And its body.\n"
        "\n"
        ".. function:: open(path)\n"
        "   :noindex:\n"
        "\n"
        "   Opens :py:func:`~os.path.join` files.\n"
        "\n"
        "- first item\n"
        "- second item\n"
        "\n"
        "+-----+-----+\n"
        "| a   | b   |\n"
        "+=====+=====+\n"
        "\n"
        "Section\n"
        "-------\n"
        "\n"
        "::\n"
        "\n"
        "    dropped too\n"
        "\n"
        "The end.\n";
    CHECK(data::strip_rst(rst) ==
          "The Title\n\n"
          "Author: Jane Doe\n\n"
          "A paragraph with literal code, a link title, kmalloc, a reference, plain, emphasis, strong, sub and a footnote and 2 * 3 * 4 "
          "stays. An escaped *star*.\n\n"
          "Example:\n\n"
          "After the code.\n\n"
          "Keep this note. And its body.\n\n"
          "Opens join files.\n\n"
          "first item\n\nsecond item\n\n"
          "a b\n\n"
          "Section\n\n"
          "The end.");
}

TEST_CASE("fortune_text, split_sentences and valid_utf8") {
    CHECK(data::fortune_text("A fortune\non two lines.\n%\nAnother.\n%\n") == "A fortune on two lines.\n\nAnother.");
    CHECK(data::split_sentences("One sentence. Two (e.g. this) follow! \"Three?\" Yes. 4 is a digit. lower case goes on.") ==
          std::vector<std::string>{"One sentence.", "Two (e.g. this) follow!", "\"Three?\"", "Yes.", "4 is a digit. lower case goes on."});
    CHECK(data::split_sentences("Dr. Who is here.") == std::vector<std::string>{"Dr. Who is here."});
    // A long sentence is cut at spaces into pieces of at most 2,000 bytes, never inside a character.
    std::string long_sentence;
    while (long_sentence.size() < 5000) long_sentence += "wörd ";
    const std::vector<std::string> pieces = data::split_sentences(long_sentence);
    CHECK(pieces.size() == 3);
    std::string joined;
    for (const std::string& p : pieces) {
        CHECK(p.size() <= 2000);
        CHECK(data::valid_utf8(p) == p);
        joined += (joined.empty() ? "" : " ") + p;
    }
    CHECK(joined + " " == long_sentence);
    std::string no_spaces(4500, 'x');
    CHECK(data::split_sentences(no_spaces).size() == 3);
    // Invalid UTF-8 is dropped byte by byte: a stray continuation, a truncated sequence, an overlong
    // form, a surrogate, a code point past U+10FFFF.
    CHECK(data::valid_utf8("a\x80"
                           "b\xc3"
                           "c\xc0\xaf"
                           "d\xed\xa0\x80"
                           "e\xf4\x90\x80\x80"
                           "f\xc3\xa9") == "abcdef\xc3\xa9");
}

TEST_CASE("read_corpus: sources, markup stripped, each document in one split, repeats and other files skipped") {
    const fs::path root = scratch_folder("corpus");
    fs::create_directories(root / "docs/sub"), fs::create_directories(root / "docs/translations/zh_CN"), fs::create_directories(root / "fortunes/off");
    std::map<std::string, std::string> expected;  // path -> text
    for (int i = 0; i < 24; ++i) {
        const std::string name = "sub/page" + std::to_string(i) + ".rst";
        write_bytes(root / "docs" / name, "Title " + std::to_string(i) + "\n=======\n\nSome *prose* here. And more.\n");
        expected["docs/" + name] = "Title " + std::to_string(i) + "\n\nSome prose here.\nAnd more.\n";
    }
    write_bytes(root / "docs/sub/repeat.rst", "Title 3\n=======\n\nSome *prose* here. And more.\n");  // the same text as page3
    write_bytes(root / "docs/empty.rst", "");
    write_bytes(root / "docs/translations/zh_CN/index.rst", "Not English.\n");
    write_bytes(root / "docs/image.png", "not a document");
    for (int i = 0; i < 5; ++i) {
        write_bytes(root / "fortunes" / ("cookies" + std::to_string(i)), "First cookie " + std::to_string(i) + ".\n%\nSecond one.\n%\n");
        expected["fortunes/cookies" + std::to_string(i)] = "First cookie " + std::to_string(i) + ".\n\nSecond one.\n";
    }
    write_bytes(root / "fortunes/cookies0.dat", "an index");
    write_bytes(root / "fortunes/off/rude", "Not taken.\n");
    const data::CorpusOptions options{.sources = {{"docs", (root / "docs").string(), "docs-package", data::CorpusSource::Format::rst},
                                                  {"fortunes", (root / "fortunes").string(), "fortunes", data::CorpusSource::Format::fortunes}},
                                      .split = {.val_share = 0.2, .test_share = 0.2, .split_seed = 3}};
    const data::DocumentSplits corpus = data::read_corpus(options);
    std::map<std::string, std::string> seen;
    for (const auto* split : {&corpus.train, &corpus.val, &corpus.test})
        for (const data::Document& d : *split) {
            CHECK(seen.emplace(d.path, d.bytes).second);  // in one split only
            CHECK(d.label == (d.path.starts_with("docs/") ? 0 : 1));
        }
    CHECK(seen == expected);
    CHECK(corpus.val.size() == 4 + 1);  // 20% of 24 and of 5
    CHECK(corpus.test.size() == 4 + 1);
    // Errors name the package to install and the source that is too small.
    data::CorpusOptions missing = options;
    missing.sources[1].root = (root / "nowhere").string();
    CHECK_ERROR_CONTAINS(data::read_corpus(missing), "is not a folder", "apt-get install fortunes");
    fs::remove_all(root / "fortunes"), fs::create_directories(root / "fortunes");
    write_bytes(root / "fortunes/only", "One.\n");
    CHECK_ERROR_CONTAINS(data::read_corpus(options), "fortunes (", "1 distinct documents", "at least 3");
    fs::remove_all(root);
}

TEST_CASE("read_corpus: the Debian packages, where installed") {
    for (const data::CorpusSource& s : data::default_corpus_sources())
        if (!fs::is_directory(s.root)) {
            MESSAGE("skipped: ", s.root, " is missing (apt-get install ", s.package, ")");
            return;
        }
    // Under the sanitizers, a smaller size: the two smaller packages.
    data::CorpusOptions options;
    if (sanitized) options.sources.erase(options.sources.begin());
    const data::DocumentSplits corpus = data::read_corpus(options);
    std::set<std::string> paths;
    std::int64_t bytes = 0;
    for (const auto* split : {&corpus.train, &corpus.val, &corpus.test})
        for (const data::Document& d : *split) {
            CHECK(paths.insert(d.path).second);
            CHECK(!d.path.starts_with("linux-doc/translations/"));
            bytes += static_cast<std::int64_t>(d.bytes.size());
        }
    CHECK(paths.size() > (sanitized ? 400 : 4000));
    CHECK(bytes > (sanitized ? 5'000'000 : 20'000'000));  // megabytes of prose
    CHECK(corpus.val.size() > (sanitized ? 40 : 400));
    CHECK(corpus.test.size() > (sanitized ? 40 : 400));
}

TEST_CASE("Tokenizer: special ids, round trip, deterministic training, save and load, foreign files refused") {
    const data::Tokenizer t = small_tokenizer();
    CHECK(t.vocab_size() == 320);
    CHECK(t.piece(data::Tokenizer::pad_id) == "[PAD]");
    CHECK(t.piece(data::Tokenizer::cls_id) == "[CLS]");
    CHECK(t.piece(data::Tokenizer::sep_id) == "[SEP]");
    CHECK(t.piece(data::Tokenizer::mask_id) == "[MASK]");
    const std::string text = "The kernel reads files from disk. Ünïcödé 漢字 [MASK] [CLS] too.";
    const std::vector<std::int32_t> ids = t.encode(text);
    for (const std::int32_t id : ids) CHECK(id >= data::Tokenizer::first_piece_id);  // no specials, no <unk> (byte fallback)
    CHECK(t.decode(ids) == text);
    CHECK(t.encode("kernel module").size() < std::string("kernel module").size());  // words it has seen take few pieces
    // The same sentences and options give the same model, byte for byte.
    CHECK(small_tokenizer().fingerprint() == t.fingerprint());
    CHECK(small_tokenizer("bpe").fingerprint() != t.fingerprint());
    const fs::path root = scratch_folder("tokenizer");
    t.save((root / "t.model").string());
    const data::Tokenizer loaded = data::Tokenizer::load((root / "t.model").string());
    CHECK(loaded.fingerprint() == t.fingerprint());
    CHECK(loaded.encode(text) == ids);
    write_bytes(root / "garbage.model", "not a model at all");
    CHECK_ERROR_CONTAINS(data::Tokenizer::load((root / "garbage.model").string()), "garbage.model", "is not a SentencePiece model");
    CHECK_ERROR_CONTAINS(data::Tokenizer::load((root / "none.model").string()), "none.model");
    CHECK_ERROR_CONTAINS(data::Tokenizer::train(made_up_sentences(100, 2), {.vocab_size = 100}), "vocabulary size must lie in");
    CHECK_ERROR_CONTAINS(data::Tokenizer::train(made_up_sentences(100, 2), {.vocab_size = 5000}), "SentencePiece could not train");
    CHECK_ERROR_CONTAINS(data::Tokenizer::train(made_up_sentences(100, 2), {.model = "word"}), "unigram or bpe");
    fs::remove_all(root);
}

TEST_CASE("SentenceOrderDataset: [CLS] A [SEP] B [SEP], consecutive text of one document, swapped half the time") {
    const data::Tokenizer t = small_tokenizer();
    const std::vector<data::Document> documents = made_up_documents(30, 7);
    const data::TokenizedCorpus corpus = data::tokenize(documents, t);
    CHECK(corpus.documents.size() == 30);
    CHECK(corpus.vocab_size == 320);
    const data::SentenceOrderDataset pairs(corpus, {.length = 64, .size = 4000, .seed = 3});
    std::int64_t swapped = 0, at_sentence_end = 0;
    for (std::int64_t i = 0; i < pairs.size(); ++i) {
        const data::Example e = pairs.get(i);
        const std::vector<double> v = values(e.input);
        REQUIRE(v.size() <= 64);
        REQUIRE(v.size() >= 5);
        CHECK(v.front() == data::Tokenizer::cls_id);
        CHECK(v.back() == data::Tokenizer::sep_id);
        std::vector<std::uint16_t> a, b;
        bool second = false;
        for (std::size_t k = 1; k + 1 < v.size(); ++k) {
            if (v[k] == data::Tokenizer::sep_id) {
                REQUIRE(!second);
                second = true;
                continue;
            }
            (second ? b : a).push_back(static_cast<std::uint16_t>(v[k]));
        }
        REQUIRE(second);
        REQUIRE((!a.empty() && !b.empty()));
        const bool swap = e.target.item<std::int64_t>() == 1;
        swapped += swap;
        // In order, A then B is a run of one document's tokens; swapped, B then A is.
        std::vector<std::uint16_t> run = swap ? b : a;
        const std::vector<std::uint16_t>& rest = swap ? a : b;
        const std::size_t cut = run.size();
        run.insert(run.end(), rest.begin(), rest.end());
        bool found = false;
        for (const data::TokenizedDocument& d : corpus.documents) {
            const auto at = std::search(d.tokens.begin(), d.tokens.end(), run.begin(), run.end());
            if (at == d.tokens.end()) continue;
            found = true;
            const auto cut_at = static_cast<std::uint32_t>(at - d.tokens.begin() + static_cast<std::ptrdiff_t>(cut));
            at_sentence_end += std::find(d.sentence_ends.begin(), d.sentence_ends.end(), cut_at) != d.sentence_ends.end();
            break;
        }
        CHECK(found);
    }
    check_rate(swapped, pairs.size(), 0.5);
    CHECK(at_sentence_end > pairs.size() * 9 / 10);  // cut where a sentence ends whenever the segment holds one
    // Example i is (seed, i)'s alone.
    CHECK(values(pairs.get(17).input) == values(data::SentenceOrderDataset(corpus, {.length = 64, .size = 20, .seed = 3}).get(17).input));
    CHECK(values(pairs.get(17).input) != values(data::SentenceOrderDataset(corpus, {.length = 64, .size = 20, .seed = 4}).get(17).input));
    // The collate adds the segments: 0 through the first [SEP], 1 after it, 0 on padding.
    const std::vector<std::int64_t> indices = {0, 1, 2, 3};
    const data::Batch batch = data::make_batch(pairs, indices);
    const Tensor& segments = batch.extra.at("segments");
    for (std::int64_t row = 0; row < 4; ++row) {
        bool second = false;
        for (std::int64_t i = 0; i < batch.inputs.size(1); ++i) {
            const auto id = batch.inputs.select(0, row).select(0, i).item<std::int64_t>();
            CHECK(segments.select(0, row).select(0, i).item<std::int64_t>() == (second && id != 0 ? 1 : 0));
            second = second || id == data::Tokenizer::sep_id;
        }
    }
    CHECK_ERROR_CONTAINS(data::SentenceOrderDataset(corpus, {.length = 4}), "length must be at least 5");
    data::TokenizedCorpus tiny;
    tiny.documents.push_back({{7}, {1}});
    CHECK_ERROR_CONTAINS(data::SentenceOrderDataset(tiny, {}), "no document has 2 tokens");
}

TEST_CASE("Masking: 15% of each sequence's pieces, 80/10/10, labels only there; the loader's draw is its position's") {
    const data::Tokenizer t = small_tokenizer();
    const data::TokenizedCorpus corpus = data::tokenize(made_up_documents(30, 9), t);
    const data::SentenceOrderDataset pairs(corpus, {.length = 96, .size = 512, .seed = 5});
    const auto options = data::LoaderOptions{.batch_size = 16, .shuffle = true, .seed = 11, .augment = data::masking({.vocab_size = 320})};
    data::Loader loader(pairs, options);
    data::Loader plain(pairs, {.batch_size = 16, .shuffle = true, .seed = 11});
    std::int64_t chosen = 0, as_mask = 0, as_random = 0, kept = 0;
    for (int step = 0; step < 32; ++step) {
        const data::Batch masked = loader.next(), original = plain.next();
        const Tensor& labels = masked.extra.at("mlm_labels");
        CHECK(masked.targets.to_vector() == original.targets.to_vector());
        for (std::int64_t row = 0; row < 16; ++row) {
            std::int64_t maskable = 0, picked = 0;
            for (std::int64_t i = 0; i < masked.inputs.size(1); ++i) {
                const auto before = original.inputs.select(0, row).select(0, i).item<std::int64_t>();
                const auto after = masked.inputs.select(0, row).select(0, i).item<std::int64_t>();
                const auto label = labels.select(0, row).select(0, i).item<std::int64_t>();
                const bool piece = original.mask.select(0, row).select(0, i).item<float>() != 0 && before >= data::Tokenizer::first_piece_id;
                maskable += piece;
                if (label == data::ignore_label) {
                    CHECK(after == before);  // untouched
                    continue;
                }
                REQUIRE(piece);  // never padding, [CLS] or [SEP]
                CHECK(label == before);
                ++picked;
                if (after == data::Tokenizer::mask_id) ++as_mask;
                else if (after == before) ++kept;  // (a random draw of the same id counts here: 1 in 315)
                else {
                    ++as_random;
                    CHECK(after >= data::Tokenizer::first_piece_id);
                    CHECK(after < 320);
                }
            }
            CHECK(picked == std::max<std::int64_t>(1, std::llround(0.15 * static_cast<double>(maskable))));
            chosen += picked;
        }
    }
    check_rate(as_mask, chosen, 0.8);
    check_rate(as_random, chosen, 0.1 * 314.0 / 315.0);
    check_rate(kept, chosen, 0.1 + 0.1 / 315.0);
    // A loader that seeks to step 20 draws the masks of one that got there step by step, and a
    // shard is its rows of the whole batch.
    data::Loader again(pairs, options);
    again.seek(20);
    data::Loader walked(pairs, options);
    for (int s = 0; s < 20; ++s) walked.next();
    auto shard_options = options;
    shard_options.shards = 2, shard_options.shard = 1, shard_options.drop_last = true;
    data::Loader shard(pairs, shard_options);
    shard.seek(20);
    const data::Batch a = again.next(), b = walked.next(), half = shard.next();
    CHECK(values(a.inputs) == values(b.inputs));
    CHECK(values(a.extra.at("mlm_labels")) == values(b.extra.at("mlm_labels")));
    CHECK(values(half.extra.at("mlm_labels")) == values(a.extra.at("mlm_labels").narrow(0, 8, 8)));
    CHECK(values(half.extra.at("segments")) == values(a.extra.at("segments").narrow(0, 8, 8)));
    CHECK_ERROR_CONTAINS(data::masking({.vocab_size = 5}), "must exceed first_maskable_id");
    CHECK_ERROR_CONTAINS(data::masking({.vocab_size = 320, .mask_share = 0.95}), "sum at most 1");
}

}  // TEST_SUITE

TEST_SUITE("nn") {

namespace {

models::EncoderConfig small_lm_config(nn::AttentionOptions attention = nn::SoftmaxOptions{}) {
    return {.vocab = 23, .max_len = 12, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 16, .layers = 2, .dropout = 0, .attention = attention, .dtype = f64, .segments = 2};
}

}  // namespace

TEST_CASE("MaskedLM: tied MLM logits, SOP on [CLS], positions pick rows, names a classifier loads") {
    Generator generator(3);
    models::MaskedLM model(small_lm_config(), generator);
    const Tensor ids = from_vector(std::vector<std::int64_t>{2, 7, 8, 3, 9, 10, 3, 0, 2, 11, 3, 12, 13, 14, 3, 0}, {2, 8});
    Tensor mask = ones({2, 8}, f64);
    mask.select(0, 0).narrow(0, 7, 1).zero_(), mask.select(0, 1).narrow(0, 7, 1).zero_();
    const Tensor segments = from_vector(std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0}, {2, 8});
    const auto all = model(ids, mask, segments);
    CHECK(all.mlm_logits.shape() == Shape{16, 23});
    CHECK(all.sop_logits.shape() == Shape{2, 2});
    const Tensor positions = from_vector(std::vector<std::int64_t>{1, 12, 5}, {3});
    const auto some = model(ids, mask, segments, positions);
    CHECK(some.mlm_logits.shape() == Shape{3, 23});
    for (std::int64_t k = 0; k < 3; ++k) {  // equal but for the rounding of products of other sizes
        const Tensor row = all.mlm_logits.select(0, positions.data<std::int64_t>()[k]);
        CHECK(ops::abs(some.mlm_logits.select(0, k) - row).max().item<double>() <= 1e-12 * ops::abs(row).max().item<double>());
    }
    // Tied: the embedding gets gradient from the logits as well as from the inputs.
    const Tensor labels = from_vector(std::vector<std::int64_t>{-100, 15, -100, -100, -100, 4, -100, -100, -100, -100, -100, -100, 20, -100, -100, -100}, {2, 8});
    const models::MaskedPositions picked = models::masked_positions(labels);
    CHECK(values(picked.positions) == std::vector<double>{1, 5, 12});
    CHECK(values(picked.targets) == std::vector<double>{15, 4, 20});
    const auto out = model(ids, mask, segments, picked.positions);
    const models::PretrainingLoss loss = models::pretraining_loss(out, picked.targets, from_vector(std::vector<std::int64_t>{0, 1}, {2}));
    CHECK(loss.mlm_count == 3);
    CHECK(loss.sop_count == 2);
    loss.loss.backward();
    const Tensor grad = model.token_embedding->weight.grad();
    CHECK(ops::abs(grad.select(0, 22)).sum().item<double>() > 0);  // id 22 is in no input: its gradient comes from the logits alone
    // The parameters a classifier has, by name, are the masked LM's.
    models::EncoderClassifier classifier(small_lm_config(), 4, generator);
    const auto lm_parameters = model.named_parameters();
    std::set<std::string> lm_names;
    for (const auto& [name, p] : lm_parameters) lm_names.insert(name);
    for (const auto& [name, p] : classifier.named_parameters())
        if (!name.starts_with("head.")) CHECK_MESSAGE(lm_names.contains(name), name);
    CHECK(lm_names.contains("segment_embedding.weight"));
    CHECK(lm_names.contains("mlm_bias"));
    // Errors name what to fix.
    CHECK_ERROR_CONTAINS(models::MaskedLM(models::EncoderConfig{.segments = 0}), "segments >= 1");
    CHECK_ERROR_CONTAINS(model(ids, mask, segments, from_vector(std::vector<std::int64_t>{16}, {1})), "position 16 is outside");
    CHECK_ERROR_CONTAINS(model(ids, mask, segments.narrow(1, 0, 4)), "segments must be [2, 8]");
    CHECK_ERROR_CONTAINS(models::pretraining_loss(out, from_vector(std::vector<std::int64_t>{}, {0}), picked.targets), "no token is masked");
}

TEST_CASE("MaskedLM: gradcheck through the model with padding, softmax and Nystrom") {
    for (const nn::AttentionOptions& attention : {nn::AttentionOptions{nn::SoftmaxOptions{}}, nn::AttentionOptions{nn::NystromOptions{.landmarks = 2, .conv_kernel = 3}}}) {
        Generator generator(5);
        models::MaskedLM model(small_lm_config(attention), generator);
        const Tensor ids = from_vector(std::vector<std::int64_t>{2, 7, 8, 3, 9, 10, 3, 0, 2, 11, 3, 12, 13, 14, 3, 0}, {2, 8});
        const Tensor mask = mask_with_padding(2, 8, 1);
        const Tensor segments = from_vector(std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0}, {2, 8});
        const Tensor positions = from_vector(std::vector<std::int64_t>{1, 5, 12}, {3});
        const auto f = [&](const std::vector<Tensor>&) {
            const auto out = model(ids, mask, segments, positions);
            return ops::concat({out.mlm_logits.reshape({-1}), out.sop_logits.reshape({-1})}, 0);
        };
        CHECK(gradcheck(f, model.parameters()));
    }
}

}  // TEST_SUITE
