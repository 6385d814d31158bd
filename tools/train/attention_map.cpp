#include "attention_map.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "plot.hpp"
#include "run.hpp"

namespace nyx::train {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t longest_map = 2048;  // two n×n f32 maps of 16 MiB each

// The one sequence to draw, as a dataset of one example of the run's vocabulary.
data::SequenceDataset input_of(const AttentionMapOptions& o, const LoadedCheckpoint& run) {
    const data::SequenceDataset& train = run.data.train;
    if (o.input.empty()) {
        const data::SequenceDataset& split = split_of(run.data, o.split);
        check_usage(o.example >= 0 && o.example < split.size(), "--example ", o.example, " is not in 0..", split.size() - 1, " (the ",
                    o.split, " split of ", run.path, ")");
        return data::SequenceDataset("example", {split.examples[static_cast<std::size_t>(o.example)]}, train.vocab, train.classes,
                                     train.token_width, train.class_names);
    }
    const std::string& task = run.config.task;
    check_usage(task == "listops" || task == "text", "--input takes a ListOps expression or text (listops and text runs); for a ", task,
                " run give --example N");
    std::vector<std::uint16_t> tokens;
    if (task == "listops") tokens = data::listops_tokenize(o.input);
    else
        for (const char c : o.input) tokens.push_back(static_cast<std::uint16_t>(static_cast<unsigned char>(c) + 1));
    check_usage(!tokens.empty(), "--input is empty");
    return data::SequenceDataset("input", {data::Sequence{std::move(tokens), 0}}, train.vocab, train.classes, 1, train.class_names);
}

std::vector<double> row_major(const Tensor& matrix) { return matrix.to_vector(); }

}  // namespace

int draw_attention_map(const AttentionMapOptions& o) {
    const LoadedCheckpoint run = load_checkpoint(o.target, o.threads);
    models::EncoderClassifier& model = *run.model;
    const models::EncoderConfig& config = model.config();
    check_usage(!config.dual_encoder, "attention-map draws the map of one sequence; a ", run.config.task,
                " run reads pairs of sequences (a dual encoder)");
    check_usage(o.layer >= 0 && o.layer < config.layers, "--layer ", o.layer, " is not in 0..", config.layers - 1, " (", run.path, " has ",
                config.layers, config.layers == 1 ? " block)" : " blocks)");
    check_usage(o.head >= 0 && o.head < config.heads, "--head ", o.head, " is not in 0..", config.heads - 1, " (", run.path, " has ",
                config.heads, config.heads == 1 ? " head)" : " heads)");
    nn::TransformerBlock& block = (*model.blocks)[static_cast<std::size_t>(o.layer)];
    const auto nystrom = std::dynamic_pointer_cast<nn::NystromAttention>(block.attn->attention);
    check_usage(nystrom != nullptr, run.path, " is a run with ", run.config.attn,
                " attention; attention-map draws a Nyström run's approximation beside exact softmax attention");

    const data::SequenceDataset one = input_of(o, run);
    const std::int64_t n = one.max_length();
    check_usage(n <= longest_map, "the input has ", n, " positions; attention-map builds two n×n matrices and takes at most ", longest_map,
                ": give a shorter --input, or --example of a shorter sequence");
    check_usage(n <= config.max_len, "the input has ", n, " positions; the run's model takes at most ", config.max_len);
    const std::vector<std::int64_t> first = {0};
    const data::Batch batch = data::make_batch(one, first);

    // The block's queries and keys for this input, as its attention sees them: [1, h, n, d].
    NoGradGuard no_grad;
    const Tensor normed = block.norm1->forward(model.block_input(batch.inputs, batch.mask, o.layer));
    const auto heads = [&](nn::Linear& projection) {
        return projection.forward(normed).reshape({1, n, config.heads, config.head_dim}).transpose(1, 2);
    };
    const Tensor q = heads(*block.attn->q_proj), k = heads(*block.attn->k_proj);
    const Tensor approximate = nystrom->factors(q, k, batch.mask).to_dense().select(1, o.head).select(0, 0);  // [n, n]
    const Tensor q_head = q.select(1, o.head).select(0, 0), k_head = k.select(1, o.head).select(0, 0);
    const Tensor exact = ops::softmax(q_head.matmul(k_head.transpose(0, 1)) / std::sqrt(static_cast<double>(config.head_dim)), -1);
    const Tensor difference = approximate - exact;

    // Figures: the largest difference, and the total variation distance between the rows, averaged.
    const double largest = difference.abs().max().item<double>();
    const double variation = (difference.abs().sum({1}) * 0.5).mean().item<double>();
    const double scale = std::max(exact.max().item<double>(), approximate.max().item<double>());
    const std::int64_t m = std::get<nn::NystromOptions>(config.attention).landmarks;
    const std::string what = o.input.empty() ? detail::cat(o.split, " example ", o.example) : std::string("the --input");
    const std::vector<HeatMap> maps = {
        {"exact softmax attention", row_major(exact), n, n, scale, false},
        {detail::cat("Nyström, ", m, " landmarks", m >= n ? " (m >= n: exact)" : ""), row_major(approximate), n, n, scale, false},
        {detail::cat("Nyström − softmax (±", largest, ")"), row_major(difference), n, n, std::max(largest, 1e-30), true}};
    const std::vector<std::string> notes = {
        detail::cat("rows: queries, columns: keys, ", n, " positions; white is 0, dark red ", scale, " (both maps); blue below 0, red above"),
        detail::cat("largest |Nyström − softmax| ", largest, "; total variation between the rows, averaged: ", variation)};
    const std::string title = detail::cat(run.path, ": layer ", o.layer, ", head ", o.head, ", ", what);

    std::string output = o.output;
    if (output.empty())
        output = (fs::path(run.path).parent_path() / detail::cat("attention-map-layer", o.layer, "-head", o.head, ".svg")).string();
    check_writable_folder_of(output, "--output");
    io::write_file_atomically(output, heat_maps_svg(title, maps, 360, notes));
    std::printf("%s, layer %ld, head %ld (%ld positions, %ld landmarks): largest |Nyström - softmax| %.4g, mean total variation per row "
                "%.4g\nwrote %s\n",
                what.c_str(), static_cast<long>(o.layer), static_cast<long>(o.head), static_cast<long>(n), static_cast<long>(m), largest,
                variation, output.c_str());
    return 0;
}

}  // namespace nyx::train
