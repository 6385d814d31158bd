// Bad input across the public API, as a table: every case is one call a user could get wrong, and
// the parts its nyx::Error message must contain (the op, the offending value or shape, and what is
// expected). A case that stops throwing, or whose message loses a part, fails.
#include <cmath>
#include <functional>
#include <limits>

#include "test_util.hpp"

using namespace nyx;

namespace {

struct BadInput {
    std::string what;
    std::function<void()> call;
    std::vector<std::string> message;
};

// A small encoder of the given width and depth.
models::EncoderClassifier small_model(std::int64_t dim, std::int64_t layers) {
    Generator g(0);
    return models::EncoderClassifier({.vocab = 10, .max_len = 16, .dim = dim, .heads = 2, .head_dim = dim / 2, .hidden = 8,
                                      .layers = layers, .attention = nn::NystromOptions{.landmarks = 4, .conv_kernel = 3}},
                                     3, g);
}

// A checkpoint of small_model(8, 1), for the cases that load it into another model.
std::string small_checkpoint(const std::filesystem::path& folder) {
    const std::string path = (folder / "small.safetensors").string();
    nn::save_weights(path, small_model(8, 1));
    return path;
}

}  // namespace

TEST_SUITE("errors") {

TEST_CASE("bad input to the public API gets an nyx::Error that says what is wrong") {
    const std::filesystem::path folder = scratch_folder("errors");
    const std::string checkpoint = small_checkpoint(folder);
    Generator g(1);
    const Tensor m23 = ones({2, 3}), m45 = ones({4, 5}), ids = tensor({0, 3, 9}, {3}, i64);
    const Tensor table = ones({5, 4}), logits = ones({2, 4});
    data::SequenceDataset empty_set;
    empty_set.name = "nothing", empty_set.vocab = 4, empty_set.classes = 2;
    const std::vector<BadInput> cases = {
        // shapes
        {"add: shapes that do not broadcast", [&] { (void)(m23 + m45); }, {"[2, 3]", "[4, 5]", "broadcast"}},
        {"matmul: inner sizes differ", [&] { (void)m23.matmul(m45); }, {"matmul", "[2, 3]", "[4, 5]"}},
        {"reshape: wrong element count", [&] { (void)m23.reshape({4, 2}); }, {"reshape", "6", "[4, 2]"}},
        {"linear: weight of the wrong width", [&] { (void)ops::linear(m23, m45); }, {"linear", "[4, 5]"}},
        {"layer_norm: normalized shape not at the end", [&] { (void)ops::layer_norm(m23, {2}); }, {"layer_norm", "[2]", "[2, 3]"}},
        {"concat: sizes differ off the axis", [&] { (void)ops::concat({m23, m45}, 0); }, {"concat", "[2, 3]", "[4, 5]"}},
        {"attention: Q, K, V of different shapes",
         [&] {
             nn::SoftmaxAttention attention;
             (void)attention(ones({1, 2, 4, 3}), ones({1, 2, 5, 3}), ones({1, 2, 4, 3}), ones({1, 4}));
         },
         {"SoftmaxAttention", "[1, 2, 4, 3]", "[1, 2, 5, 3]"}},
        // dtypes
        {"add: f32 and f64", [&] { (void)(m23 + ones({2, 3}, f64)); }, {"f32", "f64"}},
        {"exp of an integer tensor", [&] { (void)ops::exp(ids); }, {"exp", "i64"}},
        {"embedding ids of a floating type", [&] { (void)ops::embedding(ones({3}), table); }, {"embedding", "i64"}},
        {"requires_grad on an integer tensor", [&] { Tensor(ids).requires_grad_(); }, {"requires_grad_", "floating", "i64"}},
        // axes
        {"sum over axis 2 of a matrix", [&] { (void)ops::sum(m23, {2}); }, {"sum", "axis 2"}},
        {"softmax over axis -3 of a matrix", [&] { (void)ops::softmax(m23, -3); }, {"axis -3"}},
        {"transpose of axis 5", [&] { (void)m23.transpose(0, 5); }, {"transpose", "5"}},
        // indices out of range
        {"embedding id past the table", [&] { (void)ops::embedding(ids, table); }, {"embedding", "9", "5"}},
        {"embedding id below zero", [&] { (void)ops::embedding(tensor({-1}, {1}, i64), table); }, {"embedding", "-1"}},
        {"gather index past the axis", [&] { (void)ops::gather(m23, 1, tensor({0, 3, 1, 0, 0, 0}, {2, 3}, i64)); }, {"gather", "3"}},
        {"index_select index past the axis", [&] { (void)ops::index_select(m23, 0, tensor({2}, {1}, i64)); }, {"index_select", "2"}},
        {"cross_entropy label past the classes", [&] { (void)ops::cross_entropy(logits, tensor({1, 4}, {2}, i64)); }, {"cross_entropy", "target 4", "out of range for 4 classes"}},
        {"cross_entropy label below zero", [&] { (void)ops::cross_entropy(logits, tensor({-2, 0}, {2}, i64)); }, {"cross_entropy", "-2"}},
        {"cross_entropy labels of a floating type", [&] { (void)ops::cross_entropy(logits, ones({2})); }, {"cross_entropy", "i64"}},
        {"cross_entropy labels of the wrong count", [&] { (void)ops::cross_entropy(logits, tensor({1, 2, 3}, {3}, i64)); }, {"cross_entropy", "[3]"}},
        {"select index past the axis", [&] { (void)m23.select(0, 2); }, {"select", "2"}},
        // empty batches
        {"a loader over an empty dataset", [&] { data::Loader loader(empty_set, {.batch_size = 4}); }, {"Loader", "nothing", "no examples"}},
        {"a batch of no examples", [&] { (void)data::make_batch(empty_set, {}); }, {"nothing", "at least one example"}},
        {"a loader with batch 0", [&] { data::Loader loader(empty_set, {.batch_size = 0}); }, {"batch", "0"}},
        // learning rates and other numbers
        {"AdamW with a NaN learning rate",
         [&] { optim::AdamW opt({{"w", ones({2}).requires_grad_()}}, {.lr = std::nan("")}); }, {"AdamW", "learning rate", "nan"}},
        {"SGD with an infinite learning rate",
         [&] { optim::SGD opt({{"w", ones({2}).requires_grad_()}}, {.lr = std::numeric_limits<double>::infinity()}); }, {"SGD", "learning rate", "inf"}},
        {"set_lr to a negative rate",
         [&] {
             optim::AdamW opt({{"w", ones({2}).requires_grad_()}}, {.lr = 1e-3});
             opt.set_lr(-1);
         },
         {"learning rate", "-1"}},
        {"dropout probability above 1", [&] { (void)ops::dropout(m23, 1.5, true, g); }, {"dropout", "1.5", "[0, 1]"}},
        {"clip_grad_norm to a negative norm", [&] { (void)optim::clip_grad_norm({ones({2})}, -1); }, {"clip_grad_norm", "-1"}},
        // checkpoints
        {"a checkpoint from a wider model",
         [&] {
             models::EncoderClassifier wider = small_model(16, 1);
             nn::load_weights(checkpoint, wider);
         },
         {"load_weights", "small.safetensors", "does not fit", "token_embedding.weight (checkpoint [10, 8] f32, model [10, 16] f32)"}},
        {"a checkpoint with a layer missing",
         [&] {
             models::EncoderClassifier deeper = small_model(8, 2);
             nn::load_weights(checkpoint, deeper);
         },
         {"load_weights", "small.safetensors", "Missing: blocks.1.attn.attn.conv_weight"}},
        {"a checkpoint that is not there", [&] { (void)io::load_safetensors((folder / "absent.safetensors").string()); }, {"absent.safetensors"}},
    };
    for (const BadInput& c : cases) {
        CAPTURE(c.what);
        std::string message;
        try {
            c.call();
        } catch (const Error& e) {
            message = e.what();
        }
        INFO("message: ", message);
        CHECK_MESSAGE(!message.empty(), "no nyx::Error for: ", c.what);
        for (const std::string& part : c.message) CHECK_MESSAGE(message.find(part) != std::string::npos, "missing \"", part, "\"");
    }
}

}  // TEST_SUITE
