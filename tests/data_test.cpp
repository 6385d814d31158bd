// data: the ListOps generator and its TSV files, the IDX reader (on the real Fashion-MNIST files and
// on corrupt copies), the text reader, the loader's padding, masks and shuffling.
#include <cmath>
#include <array>
#include <map>
#include <random>
#include <tuple>
#include <set>
#include <string_view>

#include <zlib.h>

#include "test_util.hpp"

using namespace nyx;
namespace fs = std::filesystem;

namespace {

// An evaluator of ListOps source text written independently of the library's: recursive descent
// over the words, with the median computed by sorting doubles.
struct SourceEvaluator {
    std::vector<std::string> words;
    std::size_t at = 0;
    int depth = 0, max_depth = 0;

    int expression(int level) {
        max_depth = std::max(max_depth, level);
        const std::string word = words.at(at++);
        if (word.size() == 1 && std::isdigit(static_cast<unsigned char>(word[0]))) return word[0] - '0';
        REQUIRE(word.front() == '[');
        std::vector<int> args;
        while (words.at(at) != "]") args.push_back(expression(level + 1));
        ++at;
        REQUIRE(args.size() >= 2);
        REQUIRE(args.size() <= 10);
        if (word == "[MIN") return *std::min_element(args.begin(), args.end());
        if (word == "[MAX") return *std::max_element(args.begin(), args.end());
        if (word == "[SM") {
            int sum = 0;
            for (const int a : args) sum += a;
            return sum % 10;
        }
        REQUIRE(word == "[MED");
        std::vector<double> sorted(args.begin(), args.end());
        std::sort(sorted.begin(), sorted.end());
        const std::size_t n = sorted.size();
        const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return static_cast<int>(median);  // truncated, as the task defines it
    }

    static std::pair<int, int> evaluate(const std::string& source) {  // (value, depth)
        SourceEvaluator e;
        std::string word;
        for (const char c : source + " ") {
            if (c != ' ') word += c;
            else if (!word.empty()) e.words.push_back(word), word.clear();
        }
        const int value = e.expression(1);
        REQUIRE(e.at == e.words.size());
        return {value, e.max_depth};
    }
};

std::string to_key(const data::Sequence& e) { return {e.tokens.begin(), e.tokens.end()}; }

// A gzip'd copy of `bytes`, written with zlib.
void write_gzip(const fs::path& path, const std::string& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    gzclose(f);
}

// An unsigned-byte IDX file's bytes: magic, big-endian dimensions, values.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::string& values, int type = 0x08) {
    std::string out{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
    for (const std::uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
    return out + values;
}

const std::string fashion = "/usr/share/datasets/fashion-mnist";

data::SequenceDataset small_dataset() {
    data::SequenceDataset d{"small", {}, 10, 3, 1, {}};
    for (std::int64_t i = 0; i < 10; ++i) {
        data::Sequence e;
        for (std::int64_t t = 0; t <= i % 4; ++t) e.tokens.push_back(static_cast<std::uint16_t>(1 + (i + t) % 9));
        e.label = i % 3;
        d.examples.push_back(e);
    }
    return d;
}

}  // namespace

TEST_SUITE("data") {

TEST_CASE("ListOps: grammar, lengths, labels, depth, uniqueness and disjoint splits") {
    const data::ListOpsOptions options{.min_length = 20, .max_length = 120, .train_size = 600, .val_size = 100, .test_size = 100, .seed = 5};
    const data::ListOpsSplits s = data::generate_listops(options);
    CHECK(s.train.size() == 600);
    CHECK(s.val.size() == 100);
    CHECK(s.test.size() == 100);
    std::set<std::string> seen;
    std::vector<std::int64_t> label_counts(10, 0);
    for (const data::SequenceDataset* split : {&s.train, &s.val, &s.test}) {
        CHECK(split->vocab == 17);
        CHECK(split->classes == 10);
        for (const data::Sequence& e : split->examples) {
            CHECK(static_cast<std::int64_t>(e.tokens.size()) > options.min_length);  // strictly inside the window
            CHECK(static_cast<std::int64_t>(e.tokens.size()) < options.max_length);
            for (const std::uint16_t t : e.tokens) CHECK((t >= 2 && t <= 16));  // no padding or unknown ids
            const auto [value, depth] = SourceEvaluator::evaluate(data::listops_source(e.tokens));
            CHECK(value == e.label);
            CHECK(depth <= 10);
            CHECK(data::listops_evaluate(e.tokens) == e.label);
            CHECK(seen.insert(to_key(e)).second);  // unique within and across the splits
            ++label_counts[static_cast<std::size_t>(e.label)];
        }
    }
    // Several classes occur (the task is not degenerate).
    CHECK(std::count_if(label_counts.begin(), label_counts.end(), [](std::int64_t c) { return c > 0; }) >= 8);
}

TEST_CASE("ListOps: the grammar's distribution: every arity 2-10, the four operators alike, leaves down to depth 10") {
    const auto s = data::generate_listops({.min_length = 100, .max_length = 1000, .train_size = 300, .val_size = 1, .test_size = 1, .seed = 8});
    std::map<std::string, std::int64_t> operators;
    std::set<std::size_t> arities;
    int deepest = 0;
    for (const data::Sequence& e : s.train.examples) {
        const std::string source = data::listops_source(e.tokens);
        deepest = std::max(deepest, SourceEvaluator::evaluate(source).second);
        // Arity: count the direct arguments of each operator with a stack of counters.
        std::vector<std::size_t> open;
        std::string word;
        for (const char c : source + " ") {
            if (c != ' ') {
                word += c;
                continue;
            }
            if (word == "]") arities.insert(open.back()), open.pop_back();
            else {
                if (!open.empty()) ++open.back();
                if (word[0] == '[') ++operators[word], open.push_back(0);
            }
            word.clear();
        }
    }
    CHECK(arities == std::set<std::size_t>{2, 3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(deepest == 10);
    std::int64_t total = 0;
    for (const auto& [name, count] : operators) total += count;
    REQUIRE(operators.size() == 4);
    for (const auto& [name, count] : operators) {
        INFO(name);
        CHECK(std::abs(static_cast<double>(count) / static_cast<double>(total) - 0.25) < 0.03);
    }
}

TEST_CASE("ListOps: the same seed gives the same data, another seed other data") {
    const data::ListOpsOptions a{.min_length = 10, .max_length = 60, .train_size = 50, .val_size = 5, .test_size = 5, .seed = 1};
    data::ListOpsOptions b = a;
    b.seed = 2;
    const auto s1 = data::generate_listops(a), s2 = data::generate_listops(a), s3 = data::generate_listops(b);
    for (std::size_t i = 0; i < 50; ++i) CHECK(s1.train.examples[i].tokens == s2.train.examples[i].tokens);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(s1.val.examples[i].tokens == s2.val.examples[i].tokens);
        CHECK(s1.test.examples[i].tokens == s2.test.examples[i].tokens);
    }
    std::size_t same = 0;
    for (std::size_t i = 0; i < 50; ++i) same += s1.train.examples[i].tokens == s3.train.examples[i].tokens;
    CHECK(same < 5);
}

TEST_CASE("ListOps: the LRA window gives lengths 501 to 1999") {
    const auto s = data::generate_listops({.train_size = 40, .val_size = 1, .test_size = 1, .seed = 3});
    for (const data::Sequence& e : s.train.examples) {
        CHECK(e.tokens.size() > 500);
        CHECK(e.tokens.size() < 2000);
    }
}

TEST_CASE("ListOps: evaluation, tokens and bad options") {
    const std::vector<std::uint16_t> tokens = data::listops_tokenize("[MAX 2 9 [MIN 4 7 ] 0 ]");
    CHECK(data::listops_evaluate(tokens) == 9);
    CHECK(data::listops_source(tokens) == "[MAX 2 9 [MIN 4 7 ] 0 ]");
    CHECK(data::listops_evaluate(data::listops_tokenize("[MED 1 2 5 6 ]")) == 3);  // (2 + 5) / 2 truncated
    CHECK(data::listops_evaluate(data::listops_tokenize("[SM 9 8 7 ]")) == 4);
    // The release's parentheses are skipped; unknown words become id 1.
    CHECK(data::listops_tokenize("( ( [MIN 3 ) 4 ) ]") == data::listops_tokenize("[MIN 3 4 ]"));
    CHECK(data::listops_tokenize("[FOO")[0] == 1);
    CHECK_ERROR_CONTAINS(data::listops_evaluate(data::listops_tokenize("[MIN 3 4")), "never closed");
    CHECK_ERROR_CONTAINS(data::listops_evaluate(data::listops_tokenize("3 ]")), "continue after");
    CHECK_ERROR_CONTAINS(data::listops_evaluate(data::listops_tokenize("[MIN ]")), "no arguments");
    CHECK_ERROR_CONTAINS(data::generate_listops({.min_length = 10, .max_length = 11}), "holds no length");
    CHECK_ERROR_CONTAINS(data::generate_listops({.min_length = 10, .max_length = 100, .max_depth = 2, .max_args = 3}), "none fits");
}

TEST_CASE("ListOps: TSV files round-trip, and bad lines name the line") {
    const fs::path folder = scratch_folder("listops-tsv");
    const auto s = data::generate_listops({.min_length = 10, .max_length = 40, .train_size = 30, .val_size = 1, .test_size = 1, .seed = 9});
    data::write_listops_tsv(folder / "train.tsv", s.train);
    const data::SequenceDataset back = data::read_listops_tsv(folder / "train.tsv");
    REQUIRE(back.size() == 30);
    for (std::size_t i = 0; i < 30; ++i) {
        CHECK(back.examples[i].tokens == s.train.examples[i].tokens);
        CHECK(back.examples[i].label == s.train.examples[i].label);
    }
    write_bytes(folder / "lra.tsv", "Source\tTarget\n( ( [MAX 2 ) 9 ) ]\t9\n");
    CHECK(data::read_listops_tsv(folder / "lra.tsv").examples.at(0).tokens == data::listops_tokenize("[MAX 2 9 ]"));
    write_bytes(folder / "header.tsv", "expr\tlabel\n");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "header.tsv"), "header.tsv:1:", "Source<TAB>Target");
    write_bytes(folder / "tab.tsv", "Source\tTarget\n[MAX 2 9 ]\t9\n[MIN 1 2 ] 1\n");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "tab.tsv"), "tab.tsv:3:", "no tab");
    write_bytes(folder / "value.tsv", "Source\tTarget\n[MAX 2 9 ]\t12\n");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "value.tsv"), "value.tsv:2:", "not a digit");
    write_bytes(folder / "empty.tsv", "");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "empty.tsv"), "empty");
    write_bytes(folder / "header-only.tsv", "Source\tTarget\n");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "header-only.tsv"), "no examples");
    CHECK_ERROR_CONTAINS(data::read_listops_tsv(folder / "missing.tsv"), "missing.tsv", "cannot open");
    fs::remove_all(folder);
}

TEST_CASE("IDX: the Fashion-MNIST files of Debian's package") {
    const data::IdxArray labels = data::read_idx(fashion + "/t10k-labels-idx1-ubyte.gz");
    CHECK(labels.dims == std::vector<std::int64_t>{10000});
    const data::IdxArray images = data::read_idx(fashion + "/t10k-images-idx3-ubyte.gz");
    CHECK(images.dims == std::vector<std::int64_t>{10000, 28, 28});
    CHECK(images.values.size() == 10000u * 784);
    const data::ImageSplits s = data::load_fashion_mnist();
    CHECK(s.train.size() == 60000);
    CHECK(s.test.size() == 10000);
    CHECK(s.train.max_length() == 784);
    // The dataset is balanced: 6,000 training and 1,000 test images of each of the 10 classes.
    CHECK(s.train.class_counts() == std::vector<std::int64_t>(10, 6000));
    CHECK(s.test.class_counts() == std::vector<std::int64_t>(10, 1000));
    CHECK(s.test.class_names.at(9) == "Ankle boot");
    // Pixels are tokens 0-255 and the images are not blank.
    std::int64_t lit = 0;
    for (const std::uint16_t p : s.test.examples[0].tokens) lit += p > 0;
    CHECK(lit > 100);
}

TEST_CASE("IDX: corrupt, truncated and malformed files are refused with the reason") {
    const fs::path folder = scratch_folder("idx");
    const std::string real = read_bytes(fashion + "/t10k-labels-idx1-ubyte.gz");
    REQUIRE(real.size() > 1000);
    write_bytes(folder / "cut.gz", real.substr(0, real.size() / 2));
    CHECK_ERROR_CONTAINS(data::read_idx(folder / "cut.gz"), "cut.gz", "truncated");
    std::string flipped = real;
    for (std::size_t i = 100; i < 140; ++i) flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    write_bytes(folder / "flipped.gz", flipped);
    CHECK_ERROR_CONTAINS(data::read_idx(folder / "flipped.gz"), "flipped.gz", "corrupt");
    write_bytes(folder / "crc.gz", real.substr(0, real.size() - 8) + std::string(8, '\x01'));  // a wrong checksum and length
    CHECK_ERROR_CONTAINS(data::read_idx(folder / "crc.gz"), "crc.gz", "corrupt");

    // Uncompressed and gzip'd files are read alike.
    write_gzip(folder / "ok.gz", idx_bytes({2, 3}, "abcdef"));
    CHECK(data::read_idx(folder / "ok.gz").dims == std::vector<std::int64_t>{2, 3});
    write_bytes(folder / "ok.idx", idx_bytes({2, 3}, "abcdef"));
    CHECK(data::read_idx(folder / "ok.idx").values == std::vector<std::uint8_t>{'a', 'b', 'c', 'd', 'e', 'f'});
    const std::map<std::string, std::pair<std::string, std::string>> bad{
        {"short", {"\x00\x00", "too short"}},
        {"magic", {std::string("\x01\x00\x08\x01\x00\x00\x00\x01", 8) + "a", "magic"}},
        {"type", {idx_bytes({1}, "abcd", 0x0d), "unsigned bytes"}},
        {"rank0", {idx_bytes({}, ""), "rank 0"}},
        {"header", {idx_bytes({2, 3}, "").substr(0, 9), "promises 2 dimensions"}},
        {"truncated", {idx_bytes({2, 3}, "abcde"), "truncated"}},
        {"trailing", {idx_bytes({2, 3}, "abcdefg"), "trailing"}},
        {"huge", {idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, "abc"), "more values than"}},
    };
    for (const auto& [name, file] : bad) {
        INFO(name);
        write_gzip(folder / (name + ".gz"), file.first);
        CHECK_ERROR_CONTAINS(data::read_idx(folder / (name + ".gz")), name + ".gz", file.second);
    }
    CHECK_ERROR_CONTAINS(data::read_idx(folder / "missing.gz"), "missing.gz", "cannot open");

    // The pairing of images and labels.
    const data::IdxArray images{{2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}}, labels{{2}, {0, 1}};
    CHECK_ERROR_CONTAINS(data::images_to_dataset("x", images, data::IdxArray{{3}, {0, 1, 2}}, 10, 0), "2 images but 3 labels");
    CHECK_ERROR_CONTAINS(data::images_to_dataset("x", images, data::IdxArray{{2}, {0, 10}}, 10, 0), "label 10", "not below 10");
    CHECK_ERROR_CONTAINS(data::images_to_dataset("x", images, labels, 10, 3), "patch size 3");
    CHECK_ERROR_CONTAINS(data::images_to_dataset("x", labels, labels, 10, 0), "rank-3");
    fs::remove_all(folder);
}

TEST_CASE("images as patches: each position holds one p×p patch, row-major") {
    // A 4×4 image with pixel values 0..15; 2×2 patches.
    std::vector<std::uint8_t> pixels(16);
    for (int i = 0; i < 16; ++i) pixels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    const data::SequenceDataset d = data::images_to_dataset("p", {{1, 4, 4}, pixels}, {{1}, {3}}, 10, 2);
    CHECK(d.token_width == 4);
    CHECK(d.max_length() == 4);
    CHECK(d.examples[0].tokens == std::vector<std::uint16_t>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15});
    const std::int64_t all[] = {0};
    const data::Batch b = data::make_batch(d, all);
    CHECK(b.inputs.shape() == Shape{1, 4, 4});
    CHECK(b.inputs.dtype() == f32);
    CHECK(b.inputs.at<float>({0, 1, 2}) == doctest::Approx(6.0 / 255));
    // The encoder embeds such features with a Linear in place of the token embedding.
    Generator gen(1);
    models::EncoderClassifier model({.input_features = 4, .max_len = 4, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 8, .layers = 1,
                                     .attention = nn::NystromOptions{.landmarks = 2, .conv_kernel = 3}},
                                    10, gen);
    CHECK(model(b.inputs, b.mask).shape() == Shape{1, 10});
    CHECK(model.input_projection != nullptr);
    CHECK(model.token_embedding == nullptr);
    CHECK_ERROR_CONTAINS(model(zeros({1, 4}, i64), b.mask), "features must be [B, n, 4]");
}

TEST_CASE("text TSV: bytes as tokens, class names, truncation, and bad lines with their line numbers") {
    const fs::path folder = scratch_folder("text");
    write_bytes(folder / "train.tsv", "pos\tgood film\r\nneg\tbad\n\nneg\tawful\tslow\npos\tfine\n");
    const data::SequenceDataset train = data::read_text_tsv(folder / "train.tsv", {.max_length = 6, .classes = {}});
    CHECK(train.size() == 4);
    CHECK(train.class_names == std::vector<std::string>{"neg", "pos"});
    CHECK(train.vocab == 257);
    CHECK(train.examples[0].label == 1);
    CHECK(train.examples[0].tokens == std::vector<std::uint16_t>{'g' + 1, 'o' + 1, 'o' + 1, 'd' + 1, ' ' + 1, 'f' + 1});  // cut to 6
    CHECK(train.examples[2].tokens.size() == 6);  // "awful\tslow": the text runs to the end of the line
    write_bytes(folder / "numbers.tsv", "10\ta\n2\tb\n1\tc\n");
    CHECK(data::read_text_tsv(folder / "numbers.tsv").class_names == std::vector<std::string>{"1", "2", "10"});
    write_bytes(folder / "test.tsv", "pos\tok\nmeh\tso so\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "test.tsv", {.max_length = 10, .classes = train.class_names}), "test.tsv:2:",
                         "\"meh\"", "not one of the 2 classes");
    write_bytes(folder / "notab.tsv", "pos\tok\nno tab here\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "notab.tsv"), "notab.tsv:2:", "no tab");
    write_bytes(folder / "nolabel.tsv", "\ttext\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "nolabel.tsv"), "nolabel.tsv:1:", "label is empty");
    write_bytes(folder / "notext.tsv", "pos\tok\n\nneg\t\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "notext.tsv"), "notext.tsv:3:", "text is empty");
    write_bytes(folder / "blank.tsv", "\n\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "blank.tsv"), "no examples");
    write_bytes(folder / "one.tsv", "pos\tgood\npos\tfine\n");
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "one.tsv"), "at least 2 classes");
    fs::remove_all(folder);
}

TEST_CASE("text and ListOps TSV files: a UTF-8 byte-order mark is not part of the first line") {
    const fs::path folder = scratch_folder("bom");
    write_bytes(folder / "text.tsv", "\xEF\xBB\xBFpos\tgood\nneg\tbad\npos\tfine\n");
    const data::SequenceDataset text = data::read_text_tsv(folder / "text.tsv");
    CHECK(text.class_names == std::vector<std::string>{"neg", "pos"});  // not a third class "\xEF\xBB\xBFpos"
    CHECK(text.examples.at(0).label == 1);
    write_bytes(folder / "listops.tsv", "\xEF\xBB\xBFSource\tTarget\n[MAX 2 9 ]\t9\n");
    CHECK(data::read_listops_tsv(folder / "listops.tsv").examples.at(0).label == 9);
    fs::remove_all(folder);
}

TEST_CASE("text TSV: more distinct labels than max_classes are refused, naming the line of the first label past it") {
    const fs::path folder = scratch_folder("classes");
    write_bytes(folder / "many.tsv", "3\tc\n1\ta\n4\td\n2\tb\n5\te\n");
    CHECK(data::read_text_tsv(folder / "many.tsv", {.max_length = 10, .classes = {}, .max_classes = 5}).classes == 5);
    CHECK_ERROR_CONTAINS(data::read_text_tsv(folder / "many.tsv", {.max_length = 10, .classes = {}, .max_classes = 3}),
                         "many.tsv:3: the label \"4\" is class 4 of 5; at most 3 classes are allowed");
    fs::remove_all(folder);
}

TEST_CASE("batches: padding to the longest, masks, labels and a fixed length") {
    const data::SequenceDataset d = small_dataset();
    const std::int64_t pick[] = {0, 3, 5};  // lengths 1, 4, 2
    const data::Batch b = data::make_batch(d, pick);
    CHECK(b.inputs.shape() == Shape{3, 4});
    CHECK(b.tokens == 7);
    CHECK(values(b.mask) == std::vector<double>{1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0});
    CHECK(values(b.targets) == std::vector<double>{0, 0, 2});
    CHECK(values(b.inputs.narrow(0, 0, 1)) == std::vector<double>{1, 0, 0, 0});  // padding is id 0
    CHECK(data::make_batch(d, pick, data::pad_sequences({.pad_to = 6})).inputs.shape() == Shape{3, 6});
    CHECK(data::make_batch(d, pick, data::pad_sequences({.pad_to = 4, .dtype = f64})).mask.dtype() == f64);
    CHECK_ERROR_CONTAINS(data::make_batch(d, pick, data::pad_sequences({.pad_to = 3})), "does not fit the padded length 3");
    const std::int64_t out_of_range[] = {10};
    CHECK_ERROR_CONTAINS(data::make_batch(d, out_of_range), "example 10 is out of range");
    CHECK_ERROR_CONTAINS(data::make_batch(d, {}), "at least one example");
}

TEST_CASE("the loader: a new permutation every epoch, reproducible from the seed and the position") {
    const data::SequenceDataset d = small_dataset();
    const auto labels_of = [](const data::Batch& b) { return values(b.targets); };
    data::Loader loader(d, {.batch_size = 5, .shuffle = true, .drop_last = true, .seed = 11});
    CHECK(loader.batches_per_epoch() == 2);
    std::vector<std::vector<double>> epochs[2];
    std::multiset<std::uint16_t> firsts[2];
    for (int epoch = 0; epoch < 2; ++epoch)
        for (int i = 0; i < 2; ++i) {
            const data::Batch b = loader.next();
            epochs[epoch].push_back(values(b.inputs.narrow(1, 0, 1).reshape({-1})));
        }
    // Each epoch visits every example once: the first tokens (1 + i % 9) form the same multiset.
    for (int epoch = 0; epoch < 2; ++epoch)
        for (const auto& batch : epochs[epoch])
            for (const double t : batch) firsts[epoch].insert(static_cast<std::uint16_t>(t));
    CHECK(firsts[0] == firsts[1]);
    CHECK(firsts[0].size() == 10);
    CHECK(epochs[0] != epochs[1]);  // reshuffled
    // Seeking reproduces the batch at any position; another seed gives another order.
    data::Loader again(d, {.batch_size = 5, .shuffle = true, .drop_last = true, .seed = 11});
    again.seek(3);
    CHECK(values(again.next().inputs.narrow(1, 0, 1).reshape({-1})) == epochs[1][1]);
    data::Loader other(d, {.batch_size = 5, .shuffle = true, .drop_last = true, .seed = 12});
    std::vector<std::vector<double>> other_epoch{values(other.next().inputs.narrow(1, 0, 1).reshape({-1})),
                                                 values(other.next().inputs.narrow(1, 0, 1).reshape({-1}))};
    CHECK(other_epoch != epochs[0]);
    // In order, with the incomplete last batch kept (evaluation).
    data::Loader ordered(d, {.batch_size = 4, .prefetch = false});
    CHECK(ordered.batches_per_epoch() == 3);
    CHECK(labels_of(ordered.next()) == std::vector<double>{0, 1, 2, 0});
    ordered.next();
    CHECK(labels_of(ordered.next()) == std::vector<double>{2, 0});
    CHECK_ERROR_CONTAINS(data::Loader(d, {.batch_size = 11, .drop_last = true}), "fewer than one batch of 11");
    CHECK_ERROR_CONTAINS(data::Loader(d, {.batch_size = 0}), "at least 1");
}

TEST_CASE("the loader's length buckets: each example once per epoch, far less padding, reproducible") {
    const auto s = data::generate_listops({.min_length = 10, .max_length = 200, .train_size = 640, .val_size = 1, .test_size = 1, .seed = 2});
    const auto padded = [&](std::int64_t bucket, std::uint64_t seed) {
        data::Loader loader(s.train, {.batch_size = 16, .shuffle = true, .drop_last = true, .seed = seed, .bucket = bucket});
        std::int64_t positions = 0, tokens = 0;
        std::vector<double> labels;
        for (std::int64_t i = 0; i < loader.batches_per_epoch(); ++i) {
            const data::Batch b = loader.next();
            positions += b.mask.numel(), tokens += b.tokens;
            for (const double l : values(b.targets)) labels.push_back(l);
        }
        std::sort(labels.begin(), labels.end());
        return std::tuple{positions, tokens, labels};
    };
    const auto [plain_positions, plain_tokens, plain_labels] = padded(0, 1);
    const auto [bucket_positions, bucket_tokens, bucket_labels] = padded(10, 1);
    CHECK(plain_tokens == bucket_tokens);  // the same examples (640 = 40 whole batches)...
    CHECK(plain_labels == bucket_labels);
    CHECK(bucket_positions < plain_positions * 3 / 4);  // ...with less padding
    CHECK(bucket_positions >= bucket_tokens);
    CHECK(padded(10, 1) == padded(10, 1));
    // In order (evaluation): sorted by length.
    data::Loader ordered(s.train, {.batch_size = 64, .bucket = 1});
    std::int64_t previous = 0;
    for (std::int64_t i = 0; i < ordered.batches_per_epoch(); ++i) {
        const data::Batch b = ordered.next();
        CHECK(b.mask.size(1) >= previous);
        previous = b.mask.size(1);
    }
}

TEST_CASE("the loader's shards: K parts of each batch, together the whole batch, padded alike") {
    const auto s = data::generate_listops({.min_length = 10, .max_length = 100, .train_size = 96, .val_size = 1, .test_size = 1, .seed = 3});
    for (const std::int64_t bucket : {0, 4}) {
        data::Loader whole(s.train, {.batch_size = 12, .shuffle = true, .drop_last = true, .seed = 5, .bucket = bucket});
        std::vector<std::unique_ptr<data::Loader>> parts;
        for (std::int64_t k = 0; k < 3; ++k)
            parts.push_back(std::make_unique<data::Loader>(s.train, data::LoaderOptions{.batch_size = 12, .shuffle = true, .drop_last = true, .seed = 5, .bucket = bucket, .shards = 3, .shard = k}));
        for (int step = 0; step < 10; ++step) {  // past the end of the first epoch (8 batches)
            const data::Batch all = whole.next();
            std::int64_t tokens = 0;
            for (std::int64_t k = 0; k < 3; ++k) {
                const data::Batch part = parts[static_cast<std::size_t>(k)]->next();
                REQUIRE(part.mask.shape() == Shape{4, all.mask.size(1)});  // the whole batch's padding
                CHECK(values(part.inputs) == values(all.inputs.narrow(0, 4 * k, 4)));
                CHECK(values(part.mask) == values(all.mask.narrow(0, 4 * k, 4)));
                CHECK(values(part.targets) == values(all.targets.narrow(0, 4 * k, 4)));
                tokens += part.tokens;
            }
            CHECK(tokens == all.tokens);
        }
    }
    CHECK_ERROR_CONTAINS(data::Loader(s.train, {.batch_size = 10, .drop_last = true, .shards = 4}), "a batch of 10 cannot be cut into 4 equal parts");
    CHECK_ERROR_CONTAINS(data::Loader(s.train, {.batch_size = 8, .shards = 4}), "use drop_last");
    CHECK_ERROR_CONTAINS(data::Loader(s.train, {.batch_size = 8, .drop_last = true, .shards = 2, .shard = 2}), "shard must lie in 0..shards-1");
}

TEST_CASE("the loader: prefetching changes nothing; seeking drops a pending batch; a failed batch surfaces and fails again") {
    const data::SequenceDataset d = small_dataset();
    data::Loader eager(d, {.batch_size = 3, .shuffle = true, .drop_last = true, .seed = 4, .prefetch = false}), ahead(d, {.batch_size = 3, .shuffle = true, .drop_last = true, .seed = 4});
    for (int i = 0; i < 7; ++i) {
        const data::Batch a = eager.next(), b = ahead.next();
        CHECK(values(a.inputs) == values(b.inputs));
        CHECK(values(a.mask) == values(b.mask));
        CHECK(values(a.targets) == values(b.targets));
    }
    ahead.seek(2);  // the batch prefetched for position 7 is dropped
    eager.seek(2);
    CHECK(values(ahead.next().targets) == values(eager.next().targets));
    CHECK(ahead.position() == 3);
    // Padding to 2 fails for any batch holding a longer example: the error comes out of next(),
    // the position stays, and asking again fails again rather than returning an empty batch.
    data::Loader failing(d, {.batch_size = 10, .drop_last = true, .collate = data::pad_sequences({.pad_to = 2})});
    CHECK_ERROR_CONTAINS(failing.next(), "does not fit the padded length 2");
    CHECK(failing.position() == 0);
    CHECK_ERROR_CONTAINS(failing.next(), "does not fit the padded length 2");
    // Length buckets with the incomplete last batch kept: every example once.
    data::Loader kept(d, {.batch_size = 4, .shuffle = true, .seed = 1, .bucket = 2});
    std::vector<double> labels;
    for (int i = 0; i < 3; ++i)
        for (const double l : values(kept.next().targets)) labels.push_back(l);
    std::sort(labels.begin(), labels.end());
    CHECK(labels == std::vector<double>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2});
}

TEST_CASE("host-side random draws: randperm is a permutation, random_below stays in range") {
    Generator g(4);
    std::vector<std::int64_t> p = randperm(100, g);
    std::vector<std::int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
    CHECK(p != sorted);
    Generator g2(4);
    CHECK(randperm(100, g2) == p);
    std::vector<int> hits(7, 0);
    for (int i = 0; i < 7000; ++i) ++hits[static_cast<std::size_t>(random_below(7, g))];
    for (const int h : hits) CHECK((h > 800 && h < 1200));
    CHECK_ERROR_CONTAINS(random_below(0, g), "at least 1");
}

TEST_CASE("TensorDataset and the default loader: every example once, in order, the last batch kept (PyTorch's defaults)") {
    // 500 examples in batches of 64: 8 batches, the last of 52. Before, the defaults shuffled and
    // dropped the remainder, so 7 batches covered 448 of them.
    const Tensor features = arange(1000, f32).reshape({500, 2}), targets = arange(500, f64);
    const data::TensorDataset test(features, targets);
    data::Loader loader(test, {.batch_size = 64});
    CHECK(loader.batches_per_epoch() == 8);
    std::vector<double> seen;
    std::int64_t batches = 0;
    for (const data::Batch& b : loader) {  // one epoch
        CHECK(b.inputs.shape() == Shape{b.targets.size(0), 2});
        CHECK(b.inputs.dtype() == f32);
        CHECK(b.targets.dtype() == f64);
        CHECK_FALSE(b.mask.defined());
        for (const double t : values(b.targets)) seen.push_back(t);
        ++batches;
    }
    CHECK(batches == 8);
    CHECK(seen == values(targets));  // all 500, in order
    // The next range-for is the next epoch; a loader part-way through an epoch finishes it.
    std::int64_t again = 0;
    for (const data::Batch& b : loader) again += b.targets.size(0);
    CHECK(again == 500);
    loader.next();
    std::int64_t rest = 0;
    for (const data::Batch& b : loader) rest += b.targets.size(0);
    CHECK(rest == 500 - 64);
    // Shuffled: each epoch a permutation of all 500.
    data::Loader shuffled(test, {.batch_size = 64, .shuffle = true, .seed = 3});
    std::vector<double> order;
    for (const data::Batch& b : shuffled)
        for (const double t : values(b.targets)) order.push_back(t);
    CHECK(order != values(targets));
    std::sort(order.begin(), order.end());
    CHECK(order == values(targets));
    // Targets of any shape and dtype, inputs of any rank.
    const data::TensorDataset images(zeros({6, 3, 4, 4}), ones({6, 2}, i64));
    const data::Batch b = data::make_batch(images, std::vector<std::int64_t>{1, 4});
    CHECK(b.inputs.shape() == Shape{2, 3, 4, 4});
    CHECK(b.targets.shape() == Shape{2, 2});
    CHECK(b.targets.dtype() == i64);
}

TEST_CASE("a dataset of one's own, with a collate of one's own, and its shards") {
    // Example i: input [i % 3 + 1] filled with i, target i (f32): lengths differ, so stacking fails
    // and a padding collate is needed.
    struct Ragged : data::Dataset {
        std::int64_t size() const override { return 12; }
        data::Example get(std::int64_t i) const override {
            return {full({i % 3 + 1}, static_cast<double>(i), i64), scalar(static_cast<double>(i))};
        }
    } ragged;
    CHECK_ERROR_CONTAINS(data::Loader(ragged, {.batch_size = 4}).next(), "stack: example 1's input is [2] i64, example 0's [1] i64",
                         "pad_sequences");
    data::Loader padded(ragged, {.batch_size = 4, .collate = data::pad_sequences()});
    const data::Batch first = padded.next();
    CHECK(first.inputs.shape() == Shape{4, 3});
    CHECK(values(first.inputs) == std::vector<double>{0, 0, 0, 1, 1, 0, 2, 2, 2, 3, 0, 0});
    CHECK(values(first.mask) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0});
    CHECK(first.tokens == 7);
    // Sums of each input: a collate of one's own.
    const data::Collate sums = [](std::span<const data::Example> examples) {
        std::vector<double> totals, targets;
        for (const data::Example& e : examples) {
            totals.push_back(e.input.to(f64).sum().item<double>());
            targets.push_back(e.target.item<double>());
        }
        return data::Batch{.inputs = tensor(totals), .targets = tensor(targets)};
    };
    data::Loader summed(ragged, {.batch_size = 5, .collate = sums});
    CHECK(summed.batches_per_epoch() == 3);
    CHECK(values(summed.next().inputs) == std::vector<double>{0, 2, 6, 3, 8});
    // Two shards of a batch of 6: together the whole batch, padded to the whole batch's longest.
    data::Loader whole(ragged, {.batch_size = 6, .drop_last = true, .collate = data::pad_sequences()});
    data::Loader part0(ragged, {.batch_size = 6, .drop_last = true, .collate = data::pad_sequences(), .shards = 2, .shard = 0});
    data::Loader part1(ragged, {.batch_size = 6, .drop_last = true, .collate = data::pad_sequences(), .shards = 2, .shard = 1});
    const data::Batch all = whole.next(), a = part0.next(), c = part1.next();
    CHECK(values(a.inputs) == values(all.inputs.narrow(0, 0, 3)));
    CHECK(values(c.inputs) == values(all.inputs.narrow(0, 3, 3)));
    CHECK(a.tokens + c.tokens == all.tokens);
    const data::TensorDataset flat(zeros({4, 2}), zeros({4}));
    CHECK_ERROR_CONTAINS(data::Loader(flat, {.batch_size = 2, .bucket = 2}),
                         "bucket needs examples with lengths");
}

TEST_CASE("bad input to datasets and collates names what to fix") {
    CHECK_ERROR_CONTAINS(data::TensorDataset(zeros({5, 2}), zeros({4})), "5 inputs but 4 targets");
    CHECK_ERROR_CONTAINS(data::TensorDataset(scalar(1), zeros({1})), "axis of examples");
    const data::TensorDataset d(zeros({5, 2}), zeros({5}));
    CHECK_ERROR_CONTAINS(d.get(5), "example 5 is out of range [0, 5)");
    CHECK_ERROR_CONTAINS(data::Loader(d, {.batch_size = 8, .drop_last = true}), "fewer than one batch of 8");
    CHECK(data::Loader(d, {.batch_size = 8}).batches_per_epoch() == 1);  // kept: one short batch
    CHECK_ERROR_CONTAINS(data::pad_sequences({.pad_to = -1}), "must not be negative");
    CHECK_ERROR_CONTAINS(data::pad_sequences({.dtype = i64}), "floating");
    CHECK_ERROR_CONTAINS(data::make_batch(d, std::vector<std::int64_t>{0, 1}, data::pad_sequences()), "neither ids [n] of i64 nor features [n, F]");
    // A TensorDataset holds data, not parameters: no history is kept.
    const Tensor w = ones({3, 2}).requires_grad_();
    CHECK_FALSE(data::TensorDataset(w, zeros({3})).get(0).input.requires_grad());
    // A loader keeps a reference to its dataset, so a temporary one does not compile.
    static_assert(!std::is_constructible_v<data::Loader, data::TensorDataset, data::LoaderOptions>);
    static_assert(std::is_constructible_v<data::Loader, const data::TensorDataset&, data::LoaderOptions>);
}

// The test's own flood fill, written apart from the generator's: drawn pixels (> 0) are linked
// when their Chebyshev distance is at most `reach`.
bool flood_fill_joins(const std::vector<std::uint8_t>& pixels, std::int64_t side, std::array<std::int64_t, 2> from,
                      std::array<std::int64_t, 2> to, std::int64_t reach) {
    std::vector<int> component(pixels.size(), -1);
    std::vector<std::int64_t> queue{from[0] * side + from[1]};
    component[static_cast<std::size_t>(queue[0])] = 0;
    for (std::size_t head = 0; head < queue.size(); ++head) {
        const std::int64_t r = queue[head] / side, c = queue[head] % side;
        for (std::int64_t dr = -reach; dr <= reach; ++dr)
            for (std::int64_t dc = -reach; dc <= reach; ++dc) {
                const std::int64_t nr = r + dr, nc = c + dc;
                if (nr < 0 || nc < 0 || nr >= side || nc >= side) continue;
                const std::int64_t at = nr * side + nc;
                if (pixels[static_cast<std::size_t>(at)] == 0 || component[static_cast<std::size_t>(at)] == 0) continue;
                component[static_cast<std::size_t>(at)] = 0;
                queue.push_back(at);
            }
    }
    return component[static_cast<std::size_t>(to[0] * side + to[1])] == 0;
}

// The number of components of the drawn pixels under the same rule: a flood fill from each pixel
// no earlier fill reached.
std::int64_t component_count(const std::vector<std::uint8_t>& pixels, std::int64_t side, std::int64_t reach) {
    std::vector<bool> reached(pixels.size(), false);
    std::int64_t count = 0;
    for (std::int64_t start = 0; start < side * side; ++start) {
        if (!pixels[static_cast<std::size_t>(start)] || reached[static_cast<std::size_t>(start)]) continue;
        ++count;
        std::vector<std::int64_t> queue{start};
        reached[static_cast<std::size_t>(start)] = true;
        for (std::size_t head = 0; head < queue.size(); ++head)
            for (std::int64_t dr = -reach; dr <= reach; ++dr)
                for (std::int64_t dc = -reach; dc <= reach; ++dc) {
                    const std::int64_t r = queue[head] / side + dr, c = queue[head] % side + dc;
                    if (r < 0 || c < 0 || r >= side || c >= side || !pixels[static_cast<std::size_t>(r * side + c)] ||
                        reached[static_cast<std::size_t>(r * side + c)])
                        continue;
                    reached[static_cast<std::size_t>(r * side + c)] = true;
                    queue.push_back(r * side + c);
                }
    }
    return count;
}

TEST_CASE("Pathfinder: every label agrees with a flood fill over the drawn dashes, and the labels are balanced") {
    const data::PathfinderOptions options{.seed = 3};
    std::int64_t connected = 0, solid = 0;
    const std::int64_t count = sanitized ? 60 : 300;
    for (std::int64_t i = 0; i < count; ++i) {
        const data::PathfinderImage image = data::draw_pathfinder(options, static_cast<std::uint64_t>(i));
        INFO("image ", i);
        REQUIRE(image.pixels.size() == 32 * 32);
        for (const auto& [r, c] : image.circles) CHECK(image.pixels[static_cast<std::size_t>(r * 32 + c)] == 255);
        CHECK(flood_fill_joins(image.pixels, 32, image.circles[0], image.circles[1], options.gap + 1) == image.connected);
        // Every contour apart, whatever the label (else touching contours would tell the label):
        // as many components as contours.
        CHECK(component_count(image.pixels, 32, options.gap + 1) == 2 + options.distractors);
        connected += image.connected;
        // The dashes really are dashes: with links of one pixel only, a contour of 5 dashes falls apart.
        if (image.connected) solid += flood_fill_joins(image.pixels, 32, image.circles[0], image.circles[1], 1);
    }
    // Each label is a fair coin: the count of connected images lies within 4 standard deviations
    // (2√count) of half; labels stuck on one class fail it at either size.
    CHECK(std::abs(static_cast<double>(connected) - static_cast<double>(count) / 2) < 2 * std::sqrt(static_cast<double>(count)));
    CHECK(solid < connected / 10);
}

TEST_CASE("Pathfinder: an image depends on the seed and its index only; the splits are datasets of 1,024 pixel tokens") {
    const data::PathfinderOptions options{.train_size = 40, .val_size = 8, .test_size = 8, .seed = 5};
    CHECK(data::draw_pathfinder(options, 7).pixels == data::draw_pathfinder(options, 7).pixels);
    CHECK(data::draw_pathfinder(options, 7).pixels != data::draw_pathfinder(options, 8).pixels);
    const data::PathfinderSplits splits = data::generate_pathfinder(options);
    CHECK(splits.train.size() == 40);
    CHECK(splits.test.size() == 8);
    CHECK(splits.train.vocab == 256);
    CHECK(splits.train.classes == 2);
    CHECK(splits.train.max_length() == 1024);
    // The validation split continues the stream where training stops: image 40 is its first.
    const data::PathfinderImage first_val = data::draw_pathfinder(options, 40);
    CHECK(std::vector<std::uint16_t>(first_val.pixels.begin(), first_val.pixels.end()) == splits.val.examples[0].tokens);
    CHECK(splits.val.examples[0].label == (first_val.connected ? 1 : 0));
    CHECK_ERROR_CONTAINS(data::draw_pathfinder({.side = 16, .dashes = 14, .distractors = 6}, 0), "no image with 8 contours", "larger side");
    CHECK_ERROR_CONTAINS(data::draw_pathfinder({.side = 4}, 0), "pathfinder: options out of range");
}


// A small tree of documents: three folders of 12 documents of random letters (so that any passage of
// 30 bytes or more occurs once), plain or gzip'd, at two depths; and the files the reader must skip.
struct DocumentTree {
    fs::path root;
    std::map<std::string, std::string> kept;  // relative path -> bytes
};

DocumentTree make_document_tree(const std::string& name) {
    DocumentTree t{scratch_folder(name), {}};
    std::mt19937_64 rng(11);
    const auto letters = [&](std::size_t size) {
        std::string s(size, ' ');
        for (char& c : s) c = static_cast<char>('a' + rng() % 26);
        return s;
    };
    for (const std::string folder : {"alpha", "beta", "gamma"}) {
        fs::create_directories(t.root / folder / "deep");
        for (int i = 0; i < 12; ++i) {
            const std::string bytes = letters(100 + 37 * static_cast<std::size_t>(i));  // 100 to 507 bytes
            const std::string path = folder + (i % 3 == 0 ? "/deep/doc" : "/doc") + std::to_string(i) + (i % 2 ? ".rst.gz" : ".txt");
            if (i % 2) write_gzip(t.root / path, bytes);
            else write_bytes(t.root / path, bytes);
            t.kept[path] = bytes;
        }
    }
    write_bytes(t.root / "alpha/notes.yaml", letters(300));                 // not a document's name
    write_bytes(t.root / "alpha/empty.rst", "");                            // empty
    write_bytes(t.root / "beta/zz-copy.txt", t.kept.at("alpha/doc2.txt"));  // a repeat of an earlier document
    const fs::path outside = scratch_folder(name + "-outside");
    write_bytes(outside / "elsewhere.txt", letters(250));
    fs::create_symlink(outside / "elsewhere.txt", t.root / "gamma/link.txt");  // a link, to a document of its own
    fs::create_directory_symlink(t.root / "beta", t.root / "beta-link");      // a folder that is a link
    fs::create_directories(t.root / "other");                               // a folder with too few documents
    write_bytes(t.root / "other/x.txt", letters(200));
    return t;
}

// The split's document that holds `bytes`, and where; fails the test when none or two do.
std::pair<const data::Document*, std::size_t> find_passage(const std::vector<data::Document>& split, const std::string& bytes) {
    const data::Document* found = nullptr;
    std::size_t at = 0;
    for (const data::Document& d : split)
        if (const std::size_t p = d.bytes.find(bytes); p != std::string::npos) {
            CHECK(found == nullptr);
            found = &d, at = p;
        }
    REQUIRE(found != nullptr);
    return {found, at};
}

std::string passage_bytes(const std::vector<std::uint16_t>& tokens, std::size_t first, std::size_t count) {
    std::string bytes;
    for (std::size_t i = first; i < first + count; ++i) {
        REQUIRE(tokens[i] >= 1);
        bytes += static_cast<char>(tokens[i] - 1);
    }
    return bytes;
}

TEST_CASE("Document tree: each document in exactly one split; other names, empty files, repeats and links skipped") {
    const DocumentTree tree = make_document_tree("documents-split");
    const data::DocumentTreeOptions options{.root = tree.root.string(), .classes = {"alpha", "beta", "gamma"}, .seed = 4};
    const data::DocumentSplits s = data::split_document_tree(options);
    std::map<std::string, std::string> seen;
    std::map<std::int64_t, std::array<int, 3>> per_class;
    int split = 0;
    for (const auto* documents : {&s.train, &s.val, &s.test}) {
        for (const data::Document& d : *documents) {
            CHECK(seen.emplace(d.path, d.bytes).second);  // in no other split
            CHECK(d.path.starts_with(options.classes[static_cast<std::size_t>(d.label)] + "/"));
            ++per_class[d.label][static_cast<std::size_t>(split)];
        }
        ++split;
    }
    CHECK(seen == tree.kept);  // exactly the documents, gzip'd ones inflated
    for (const auto& [label, counts] : per_class) CHECK(counts == std::array<int, 3>{10, 1, 1});  // 10% of 12 is 1
    // The split is split_seed's alone: another seed splits alike, another split seed otherwise.
    const auto paths = [](const std::vector<data::Document>& d) {
        std::vector<std::string> p;
        for (const data::Document& x : d) p.push_back(x.path);
        return p;
    };
    data::DocumentTreeOptions other = options;
    other.seed = 5;
    CHECK(paths(data::split_document_tree(other).val) == paths(s.val));
    other.split_seed = 5;
    CHECK(paths(data::split_document_tree(other).val) != paths(s.val));
}

TEST_CASE("Document Text: balanced classes, each passage cut from a document of its class in its own split") {
    const DocumentTree tree = make_document_tree("documents-text");
    const data::DocumentTreeOptions options{.root = tree.root.string(), .classes = {"alpha", "beta", "gamma"}, .length = 150,
                                            .train_size = 61, .val_size = 9, .test_size = 7, .seed = 4};
    const data::DocumentTaskSplits text = data::generate_document_text(options);
    const data::DocumentSplits documents = data::split_document_tree(options);
    const std::vector<std::pair<const data::SequenceDataset*, const std::vector<data::Document>*>> splits = {
        {&text.train, &documents.train}, {&text.val, &documents.val}, {&text.test, &documents.test}};
    for (const auto& [dataset, docs] : splits) {
        INFO(dataset->name);
        CHECK(dataset->vocab == 257);
        CHECK(dataset->class_names == options.classes);
        const std::vector<std::int64_t> counts = dataset->class_counts();
        CHECK(*std::max_element(counts.begin(), counts.end()) - *std::min_element(counts.begin(), counts.end()) <= 1);
        std::set<std::int64_t> every_third;  // the labels follow no stride (as --eval-size's)
        for (std::size_t i = 0; i < dataset->examples.size(); i += 3) every_third.insert(dataset->examples[i].label);
        CHECK(every_third.size() >= 2);
        for (const data::Sequence& e : dataset->examples) {
            const auto [document, at] = find_passage(*docs, passage_bytes(e.tokens, 0, e.tokens.size()));
            CHECK(document->label == e.label);
            CHECK(e.tokens.size() == std::min<std::size_t>(150, document->bytes.size()));  // the whole of a shorter document
        }
    }
    CHECK(text.train.size() == 61);
    CHECK(text.test.size() == 7);
    CHECK(data::generate_document_text(options).train.examples[60].tokens == text.train.examples[60].tokens);  // reproducible
}

TEST_CASE("Document Retrieval: half the pairs two disjoint passages of one document, half of two; every passage full length") {
    const DocumentTree tree = make_document_tree("documents-retrieval");
    const data::DocumentTreeOptions options{.root = tree.root.string(), .classes = {"alpha", "beta", "gamma"}, .length = 50,
                                            .train_size = 40, .val_size = 10, .test_size = 11, .seed = 4};
    const data::DocumentTaskSplits pairs = data::generate_document_retrieval(options);
    const data::DocumentSplits documents = data::split_document_tree(options);
    const std::vector<std::pair<const data::SequenceDataset*, const std::vector<data::Document>*>> splits = {
        {&pairs.train, &documents.train}, {&pairs.val, &documents.val}, {&pairs.test, &documents.test}};
    for (const auto& [dataset, docs] : splits) {
        INFO(dataset->name);
        CHECK(dataset->classes == 2);
        const std::vector<std::int64_t> counts = dataset->class_counts();
        CHECK(counts[1] == dataset->size() / 2);
        std::set<std::int64_t> even;  // the labels follow no stride (as --eval-size's)
        for (std::size_t i = 0; i < dataset->examples.size(); i += 2) even.insert(dataset->examples[i].label);
        CHECK(even.size() == 2);
        for (const data::Sequence& e : dataset->examples) {
            REQUIRE(e.tokens.size() == 100);
            const auto [first, at_first] = find_passage(*docs, passage_bytes(e.tokens, 0, 50));
            const auto [second, at_second] = find_passage(*docs, passage_bytes(e.tokens, 50, 50));
            CHECK((first == second) == (e.label == 1));
            if (first == second) CHECK((at_first + 50 <= at_second || at_second + 50 <= at_first));  // disjoint
            // A negative's documents share a folder where the split has two of it (training: 10 each).
            if (docs == &documents.train) CHECK(first->label == second->label);
        }
    }
}

TEST_CASE("Document tasks refuse what they cannot make, naming the fix") {
    const DocumentTree tree = make_document_tree("documents-errors");
    const std::string root = tree.root.string();
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = "/nonexistent-nyx-tree"}), "/nonexistent-nyx-tree: no such folder");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"alpha", "nope"}}), "has no folder nope; its folders: alpha, beta, gamma, other");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = "/nonexistent-nyx-tree"}), "(nyx-train: --data-dir)");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"alpha", "other"}}), "other: 1 distinct documents", "needs at least 3");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"alpha", "alpha"}}), "alpha is listed twice");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"../x"}}), "must be the name of a top-level folder");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"beta-link"}}), "beta-link is a symbolic link");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"alpha"}, .length = 0}), "length must lie in 1..65536");
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"alpha"}, .val_share = 0.5, .test_share = 0.5}), "sum below 1");
    CHECK_ERROR_CONTAINS(data::generate_document_retrieval({.root = root, .classes = {"alpha", "beta"}, .length = 200}),
                         "documents of at least 2 × 200 bytes; it needs 2 or more: give a smaller length");
    write_bytes(tree.root / "beta/broken.txt.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", 17));
    CHECK_ERROR_CONTAINS(data::split_document_tree({.root = root, .classes = {"beta"}}), "broken.txt.gz: the file is");
}

TEST_CASE("Document Text on linux-doc-6.1, where installed: eight subsystems, no document in two splits, balanced passages") {
    const data::DocumentTreeOptions options{.train_size = 80, .val_size = 16, .test_size = 16};
    if (!fs::is_directory(options.root)) {
        MESSAGE("linux-doc-6.1 is not installed (scripts/setup.sh installs it): the real tree is not checked");
        return;
    }
    const data::DocumentSplits s = data::split_document_tree(options);
    std::set<std::string> paths;
    for (const auto* split : {&s.train, &s.val, &s.test})
        for (const data::Document& d : *split) CHECK(paths.insert(d.path).second);
    CHECK(paths.size() > 2000);
    const data::DocumentTaskSplits text = data::generate_document_text(options);
    CHECK(text.val.class_counts() == std::vector<std::int64_t>(8, 2));
    CHECK(text.train.max_length() == 4096);
}

}  // TEST_SUITE
