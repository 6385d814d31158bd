#include "listops.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>

#include <nyx/core/file.hpp>
#include <nyx/core/random.hpp>

namespace nyx::data {
namespace {

constexpr std::uint16_t pad_id = 0, unknown_id = 1, digit0 = 2, first_operator = 12, close_id = 16;
enum Operator { MIN, MAX, MED, SM };
constexpr std::array<std::string_view, 4> operator_names{"[MIN", "[MAX", "[MED", "[SM"};

std::int64_t apply(int op, std::vector<std::int64_t>& args) {
    switch (op) {
    case MIN: return *std::min_element(args.begin(), args.end());
    case MAX: return *std::max_element(args.begin(), args.end());
    case SM: {
        std::int64_t sum = 0;
        for (const std::int64_t a : args) sum += a;
        return sum % 10;
    }
    default: {  // the median, truncated to an integer (all values are non-negative)
        std::sort(args.begin(), args.end());
        const std::size_t half = args.size() / 2;
        return args.size() % 2 ? args[half] : (args[half - 1] + args[half]) / 2;
    }
    }
}

// Draws one expression into `out`, returning its value, or -1 as soon as it has `limit` tokens
// (it can then no longer fit the window, so the rest is not drawn).
class ExpressionDrawer {
  public:
    ExpressionDrawer(const ListOpsOptions& options, Generator& generator) : options_(options), generator_(generator) {}

    std::int64_t draw(std::vector<std::uint16_t>& out, std::int64_t depth, std::size_t limit) {
        if (out.size() >= limit) return -1;
        if (depth >= options_.max_depth || random_uniform(generator_) < options_.leaf_probability) {
            const auto digit = random_below(10, generator_);
            out.push_back(static_cast<std::uint16_t>(digit0 + digit));
            return digit;
        }
        const auto op = static_cast<int>(random_below(4, generator_));
        const std::int64_t count = 2 + random_below(options_.max_args - 1, generator_);
        out.push_back(static_cast<std::uint16_t>(first_operator + op));
        std::vector<std::int64_t> args;
        for (std::int64_t i = 0; i < count; ++i) {
            const std::int64_t value = draw(out, depth + 1, limit);
            if (value < 0) return -1;
            args.push_back(value);
        }
        if (out.size() >= limit) return -1;
        out.push_back(close_id);
        return apply(op, args);
    }

  private:
    const ListOpsOptions& options_;
    Generator& generator_;
};

std::uint64_t hash_tokens(const std::vector<std::uint16_t>& tokens) {
    std::uint64_t h = 0xcbf29ce484222325;  // FNV-1a
    for (const std::uint16_t t : tokens) h = (h ^ t) * 0x100000001b3;
    return h;
}

SequenceDataset empty_split(std::string name) {
    SequenceDataset d{std::move(name), {}, listops_vocab, 10, 1, {}};
    for (int digit = 0; digit < 10; ++digit) d.class_names.push_back(std::to_string(digit));
    return d;
}

}  // namespace

ListOpsSplits generate_listops(const ListOpsOptions& options) {
    NYX_CHECK(options.min_length >= 0 && options.max_length > options.min_length + 1, "ListOps: the length window (", options.min_length, ", ",
              options.max_length, ") holds no length; lengths lie strictly between --min-len and --max-len");
    NYX_CHECK(options.max_length <= 65536, "ListOps: the longest length is 65536 tokens, got ", options.max_length);
    constexpr std::int64_t most = 10'000'000;
    NYX_CHECK(options.train_size >= 0 && options.val_size >= 0 && options.test_size >= 0 && options.train_size <= most && options.val_size <= most && options.test_size <= most,
              "ListOps: each split holds 0 to ", most, " expressions");
    NYX_CHECK(options.max_depth >= 1 && options.max_args >= 2, "ListOps: need max_depth >= 1 and max_args >= 2");
    NYX_CHECK(options.leaf_probability >= 0 && options.leaf_probability < 1, "ListOps: the leaf probability must lie in [0, 1)");
    // The shortest expression with an operator has 4 tokens and depth 2; longer ones need deeper trees
    // or more arguments, which a window may rule out: give up rather than draw forever.
    const std::int64_t longest_possible = [&] {
        std::int64_t len = 1;  // a digit
        for (std::int64_t d = 1; d < options.max_depth && len < options.max_length; ++d) len = 2 + options.max_args * len;
        return len;
    }();
    NYX_CHECK(longest_possible > options.min_length, "ListOps: with depth ", options.max_depth, " and ", options.max_args,
              " arguments no expression is longer than ", longest_possible, " tokens, so none fits the window");

    ListOpsSplits splits{empty_split("listops-train"), empty_split("listops-val"), empty_split("listops-test")};
    const std::int64_t total = options.train_size + options.val_size + options.test_size;
    Generator generator(options.seed);
    ExpressionDrawer drawer(options, generator);
    std::unordered_multimap<std::uint64_t, std::pair<SequenceDataset*, std::size_t>> seen;
    std::vector<std::uint16_t> tokens;
    std::int64_t drawn = 0, attempts = 0;
    while (drawn < total) {
        ++attempts;
        NYX_CHECK(attempts <= 1000 * (total + 1000) && (drawn > 0 || attempts <= 100'000), "ListOps: after ", attempts - 1,
                  " attempts only ", drawn, " of ", total, " expressions fit the window (", options.min_length, ", ", options.max_length,
                  ") uniquely; widen it or ask for fewer");
        tokens.clear();
        const std::int64_t value = drawer.draw(tokens, 1, static_cast<std::size_t>(options.max_length));
        const auto length = static_cast<std::int64_t>(tokens.size());
        if (value < 0 || length <= options.min_length || length >= options.max_length) continue;
        const std::uint64_t h = hash_tokens(tokens);
        const auto [first, last] = seen.equal_range(h);
        if (std::any_of(first, last, [&](const auto& entry) { return entry.second.first->examples[entry.second.second].tokens == tokens; }))
            continue;
        SequenceDataset& split = drawn < options.train_size ? splits.train : drawn < options.train_size + options.val_size ? splits.val : splits.test;
        seen.emplace(h, std::pair{&split, split.examples.size()});
        split.examples.push_back({tokens, value});
        ++drawn;
    }
    return splits;
}

std::vector<std::uint16_t> listops_tokenize(std::string_view source) {
    std::vector<std::uint16_t> out;
    std::size_t i = 0;
    while (i < source.size()) {
        while (i < source.size() && (source[i] == ' ' || source[i] == '\t' || source[i] == '\r' || source[i] == '\n')) ++i;
        std::size_t end = i;
        while (end < source.size() && source[end] != ' ' && source[end] != '\t' && source[end] != '\r' && source[end] != '\n') ++end;
        const std::string_view word = source.substr(i, end - i);
        i = end;
        if (word.empty() || word == "(" || word == ")") continue;
        if (word.size() == 1 && word[0] >= '0' && word[0] <= '9') out.push_back(static_cast<std::uint16_t>(digit0 + (word[0] - '0')));
        else if (word == "]") out.push_back(close_id);
        else {
            const auto it = std::find(operator_names.begin(), operator_names.end(), word);
            out.push_back(it == operator_names.end() ? unknown_id
                                                     : static_cast<std::uint16_t>(first_operator + (it - operator_names.begin())));
        }
    }
    return out;
}

std::string listops_source(std::span<const std::uint16_t> tokens) {
    std::string out;
    for (const std::uint16_t t : tokens) {
        if (!out.empty()) out += ' ';
        if (t >= digit0 && t < first_operator) out += static_cast<char>('0' + (t - digit0));
        else if (t >= first_operator && t < close_id) out += operator_names[t - first_operator];
        else if (t == close_id) out += ']';
        else out += t == pad_id ? "<pad>" : "<unk>";
    }
    return out;
}

std::int64_t listops_evaluate(std::span<const std::uint16_t> tokens) {
    // A stack of open operators with their arguments so far.
    std::vector<std::pair<int, std::vector<std::int64_t>>> open;
    std::int64_t result = -1;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::uint16_t t = tokens[i];
        NYX_CHECK(result < 0, "ListOps: tokens continue after the expression ended, at position ", i);
        if (t >= first_operator && t < close_id) {
            open.push_back({t - first_operator, {}});
            continue;
        }
        std::int64_t value;
        if (t >= digit0 && t < first_operator) value = t - digit0;
        else if (t == close_id) {
            NYX_CHECK(!open.empty(), "ListOps: ']' at position ", i, " closes nothing");
            NYX_CHECK(!open.back().second.empty(), "ListOps: the operator closed at position ", i, " has no arguments");
            value = apply(open.back().first, open.back().second);
            open.pop_back();
        } else {
            throw Error(detail::cat("ListOps: token id ", t, " at position ", i, " is not a digit, an operator or ']'"));
        }
        if (open.empty()) result = value;
        else open.back().second.push_back(value);
    }
    NYX_CHECK(open.empty(), "ListOps: ", open.size(), " operator(s) are never closed");
    NYX_CHECK(result >= 0, "ListOps: the expression is empty");
    return result;
}

SequenceDataset read_listops_tsv(const std::string& path) {
    const std::string text = io::read_text_file(path);
    SequenceDataset d = empty_split(path);
    NYX_CHECK(!text.empty(), path, ": the file is empty; expected the header \"Source<TAB>Target\"");
    io::for_each_line(text, [&](std::int64_t line_number, std::string_view line) {
        if (line_number == 1) {
            NYX_CHECK(line == "Source\tTarget", path, ":1: expected the header \"Source<TAB>Target\", got \"", line.substr(0, 80), "\"");
            return;
        }
        if (line.empty()) return;
        const std::size_t tab = line.rfind('\t');
        NYX_CHECK(tab != std::string_view::npos, path, ":", line_number, ": expected \"expression<TAB>value\"; the line has no tab");
        const std::string_view target = line.substr(tab + 1);
        NYX_CHECK(target.size() == 1 && target[0] >= '0' && target[0] <= '9', path, ":", line_number, ": the value \"",
                  target.substr(0, 20), "\" is not a digit 0-9");
        Sequence e{listops_tokenize(line.substr(0, tab)), target[0] - '0'};
        NYX_CHECK(!e.tokens.empty(), path, ":", line_number, ": the expression is empty");
        NYX_CHECK(e.tokens.size() <= 65536, path, ":", line_number, ": the expression has ", e.tokens.size(), " tokens, more than 65536");
        d.examples.push_back(std::move(e));
    });
    NYX_CHECK(d.size() > 0, path, ": no examples after the header");
    return d;
}

void write_listops_tsv(const std::string& path, const SequenceDataset& dataset) {
    std::string out = "Source\tTarget\n";
    for (const Sequence& e : dataset.examples) {
        out += listops_source(e.tokens);
        out += '\t';
        out += std::to_string(e.label);
        out += '\n';
    }
    io::write_file_atomically(path, out);
}

}  // namespace nyx::data
