// nn (continued): Linformer and Performer, the two other linear-cost attentions of the paper's
// comparison: gradients through the modules with padding, what padding may not change, their
// options and errors, checkpoints, and memory far below one n×n matrix.
#include <cmath>

#include "test_util.hpp"

using namespace nyx;

namespace {

// Q, K, V [B, h, n, d] in f64 that require grad
std::array<Tensor, 3> qkv(std::int64_t batch, std::int64_t heads, std::int64_t n, std::int64_t d, Generator& gen) {
    return {randn({batch, heads, n, d}, f64, gen).requires_grad_(), randn({batch, heads, n, d}, f64, gen).requires_grad_(),
            randn({batch, heads, n, d}, f64, gen).requires_grad_()};
}

// The largest |a - b| over all elements
double max_difference(const Tensor& a, const Tensor& b) {
    const std::vector<double> x = values(a), y = values(b);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
    return worst;
}

// The module's output for the first `tokens` positions of one sequence, run padded to n and run
// alone at length `tokens`: they must agree, whatever the padded positions hold.
void check_padding_changes_nothing(nn::Attention& attention, std::int64_t heads, std::int64_t d, Generator& gen) {
    const std::int64_t n = 9, tokens = 6;
    const auto [q, k, v] = qkv(1, heads, n, d, gen);
    // Padded keys and values far larger than the tokens': a stabiliser or a sum that counted them would show.
    const Tensor far = ops::concat({ones({1, heads, tokens, d}, f64), full({1, heads, n - tokens, d}, 40.0, f64)}, 2);
    const Tensor padded = attention(q, k * far, v * far, mask_with_padding(1, n, n - tokens));
    const Tensor alone = attention(q.narrow(2, 0, tokens), k.narrow(2, 0, tokens), v.narrow(2, 0, tokens), ones({1, tokens}, f64));
    CHECK(max_difference(padded.narrow(2, 0, tokens), alone) < 1e-12);
}

}  // namespace

TEST_SUITE("nn") {

TEST_CASE("gradcheck through LinformerAttention with padding, for each sharing of E and F") {
    Generator gen(21);
    for (auto sharing : {nn::LinformerSharing::none, nn::LinformerSharing::headwise, nn::LinformerSharing::key_value}) {
        INFO("sharing ", static_cast<int>(sharing));
        nn::LinformerAttention attention(2, {.projected_length = 3, .max_length = 9, .sharing = sharing}, f64, gen);
        const auto [q, k, v] = qkv(2, 2, 7, 3, gen);
        const Tensor mask = mask_with_padding(2, 7, 2);
        CHECK(gradcheck([&](const std::vector<Tensor>& x) { return attention(x[0], x[1], x[2], mask); }, with({q, k, v}, attention)));
        check_padding_changes_nothing(attention, 2, 3, gen);
    }
    CHECK(nn::LinformerAttention(2, {.projected_length = 3, .max_length = 9, .sharing = nn::LinformerSharing::none}, f64, gen)
              .projection->e.shape() == Shape{2, 3, 9});
    CHECK_FALSE(nn::LinformerAttention(2, {.projected_length = 3, .max_length = 9, .sharing = nn::LinformerSharing::key_value}, f64, gen)
                    .projection->f.defined());
}

TEST_CASE("Linformer's layerwise sharing: one projection for every layer, listed, trained and saved once") {
    Generator gen(22);
    const models::EncoderConfig config{.vocab = 7, .max_len = 10, .dim = 8, .heads = 2, .head_dim = 4, .hidden = 8, .layers = 3, .dropout = 0, .attention = nn::LinformerOptions{.projected_length = 4, .sharing = nn::LinformerSharing::layerwise}, .dtype = f64};
    models::EncoderClassifier model(config, 3, gen);
    std::int64_t projections = 0;
    for (const auto& [name, p] : model.named_parameters())
        if (name.find("projection.") != std::string::npos) {
            ++projections;
            CHECK(name == "blocks.0.attn.attn.projection.e");
            CHECK(p.shape() == Shape{1, 4, 10});  // max_length 0 took the encoder's max_len
        }
    CHECK(projections == 1);
    // Saved under each layer's name, as PyTorch saves tied weights, and loaded back as one tensor.
    const nn::StateDict state = model.state_dict();
    CHECK(state.count("blocks.2.attn.attn.projection.e") == 1);
    models::EncoderClassifier reloaded(config, 3, gen);
    reloaded.load_state_dict(state);
    CHECK(max_difference((*reloaded.blocks)[2].attn->attention->named_parameters().front().second, state.at("blocks.0.attn.attn.projection.e")) == 0);
    const Tensor ids = tensor({1, 4, 2, 2, 0, 3, 3, 1, 0, 0}, {2, 5}, i64), labels = tensor({2, 0}, i64);
    CHECK(gradcheck([&](const std::vector<Tensor>&) { return ops::cross_entropy(model(ids, mask_with_padding(2, 5, 2)), labels); },
                    model.parameters()));
    // The same config without layerwise sharing makes one projection per layer.
    models::EncoderConfig per_layer = config;
    per_layer.attention = nn::LinformerOptions{.projected_length = 4};
    std::int64_t per_layer_projections = 0;
    for (const auto& [name, p] : models::EncoderClassifier(per_layer, 3, gen).named_parameters())
        per_layer_projections += name.find("projection.") != std::string::npos;
    CHECK(per_layer_projections == 6);  // E and F in each of 3 layers
}

TEST_CASE("LinformerAttention refuses what it cannot do, naming the fix") {
    Generator gen(23);
    nn::LinformerAttention attention(2, {.projected_length = 3, .max_length = 6}, f64, gen);
    const auto [q, k, v] = qkv(1, 2, 7, 3, gen);
    CHECK_ERROR_CONTAINS(attention(q, k, v, ones({1, 7}, f64)), "7 positions", "at most 6", "max_length");
    CHECK_ERROR_CONTAINS(nn::LinformerAttention(2, {.projected_length = 3, .max_length = 0}, f64, gen), "max_length (0)", ">= 1");
    CHECK_ERROR_CONTAINS(nn::LinformerAttention(2, {.projected_length = 3, .max_length = 6, .sharing = nn::LinformerSharing::layerwise}, f64, gen),
                         "layerwise sharing needs the one projection");
}

TEST_CASE("gradcheck through PerformerAttention with padding; padding changes nothing") {
    Generator gen(31);
    nn::PerformerAttention attention(3, {.features = 5, .redraw_interval = 0}, f64, gen);  // one function for gradcheck's many calls
    const auto [q, k, v] = qkv(2, 2, 7, 3, gen);
    const Tensor mask = mask_with_padding(2, 7, 2);
    CHECK(gradcheck([&](const std::vector<Tensor>& x) { return attention(x[0], x[1], x[2], mask); }, {q, k, v}));
    check_padding_changes_nothing(attention, 2, 3, gen);
    // A sequence of padding only has no keys: zeros, as the other attentions give, not 0/0.
    const Tensor out = attention(q, k, v, tensor({1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {2, 7}, f64));
    CHECK(max_difference(out.select(0, 1), zeros({2, 7, 3}, f64)) == 0);
    for (const double value : values(out)) CHECK(std::isfinite(value));
    CHECK(attention.parameters().empty());  // the features are a buffer, not trained
    CHECK(attention.state_dict().count("features") == 1);
    CHECK(attention.state_dict().count("draw_state") == 1);
}

TEST_CASE("PerformerAttention's orthogonal random features estimate softmax attention") {
    // The estimate converges as features are added: the error falls like 1/√m (64 times the
    // features, about an eighth of the error), and with 4,096 it is small.
    Generator gen(32);
    const Tensor q = randn({1, 1, 12, 8}, f64, gen) * 0.5, k = randn({1, 1, 12, 8}, f64, gen) * 0.5, v = randn({1, 1, 12, 8}, f64, gen);
    const Tensor mask = ones({1, 12}, f64);
    const Tensor exact = nn::SoftmaxAttention()(q, k, v, mask);
    nn::PerformerAttention few(8, {.features = 64}, f64, gen), many(8, {.features = 4096}, f64, gen);
    const double scale = max_difference(exact, zeros_like(exact));
    const double error_few = max_difference(few(q, k, v, mask), exact), error_many = max_difference(many(q, k, v, mask), exact);
    INFO("errors with 64 and 4,096 features: ", error_few, ", ", error_many, " (largest output ", scale, ")");
    CHECK(error_many < error_few / 3);
    CHECK(error_many < 0.15 * scale);
    // Each block of d features is orthogonal, and each row has the length of a Gaussian d-vector.
    const Tensor block = many.features.narrow(0, 0, 8);
    const Tensor gram = block.matmul(block.transpose(0, 1));
    for (std::int64_t i = 0; i < 8; ++i)
        for (std::int64_t j = 0; j < 8; ++j)
            if (i != j) CHECK(std::abs(gram[i][j].item<double>()) < 1e-9 * gram[i][i].item<double>());
}

TEST_CASE("PerformerAttention redraws its features every redraw_interval training forwards, and resumes them exactly") {
    Generator gen(33);
    const nn::PerformerOptions options{.features = 6, .redraw_interval = 2};
    nn::PerformerAttention a(4, options, f64, gen);
    const auto [q, k, v] = qkv(1, 1, 5, 4, gen);
    const Tensor mask = ones({1, 5}, f64);
    const Tensor first = a.features.clone();
    a.eval();
    a(q, k, v, mask), a(q, k, v, mask), a(q, k, v, mask);
    CHECK(max_difference(a.features, first) == 0);  // evaluation never redraws
    a.train();
    a(q, k, v, mask), a(q, k, v, mask);
    CHECK(max_difference(a.features, first) == 0);
    a(q, k, v, mask);  // the third training forward starts with a new draw
    CHECK(max_difference(a.features, first) > 0.1);
    // A module of another seed that loads a's state draws what a draws from here on.
    Generator other(99);
    nn::PerformerAttention b(4, options, f64, other);
    CHECK(max_difference(b.features, first) > 0.1);
    b.load_state_dict(a.state_dict());
    b.train();
    for (int step = 0; step < 5; ++step) {
        const Tensor ya = a(q, k, v, mask), yb = b(q, k, v, mask);
        CHECK(max_difference(ya, yb) == 0);
    }
    CHECK(max_difference(a.features, b.features) == 0);
    // Two layers from one generator draw different features.
    Generator shared(5);
    nn::PerformerAttention layer1(4, options, f64, shared), layer2(4, options, f64, shared);
    CHECK(max_difference(layer1.features, layer2.features) > 0.1);
}

TEST_CASE("Linformer and Performer at n = 16384 stay far below the memory of one n×n matrix, forward and backward") {
    // n×n in f32 would be 1 GiB per head; the whole forward and backward must stay under a quarter of that.
    Generator gen(34);
    const std::int64_t n = 16384;
    nn::LinformerAttention linformer(2, {.projected_length = 64, .max_length = n}, f32, gen);
    nn::PerformerAttention performer(32, {.features = 64}, f32, gen);
    for (nn::Attention* attention : {static_cast<nn::Attention*>(&linformer), static_cast<nn::Attention*>(&performer)}) {
        INFO(attention->type_name());
        Tensor q = randn({1, 2, n, 32}, f32, gen).requires_grad_(), k = randn({1, 2, n, 32}, f32, gen).requires_grad_(),
               v = randn({1, 2, n, 32}, f32, gen).requires_grad_();
        const std::size_t before = memory::stats().live_bytes;
        memory::reset_peak();
        (*attention)(q, k, v, ones({1, n})).sum().backward();
        const double peak_mib = static_cast<double>(memory::stats().peak_live_bytes - before) / (1 << 20);
        INFO("peak above the inputs: ", peak_mib, " MiB");
        CHECK(peak_mib < 256);
        CHECK(q.grad().shape() == q.shape());
    }
}

}  // TEST_SUITE
