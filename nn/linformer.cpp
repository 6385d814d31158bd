#include "linformer.hpp"

#include <cmath>

#include "init.hpp"

namespace nyx::nn {
namespace {
const char* sharing_name(LinformerSharing sharing) {
    switch (sharing) {
        case LinformerSharing::none: return "none";
        case LinformerSharing::headwise: return "headwise";
        case LinformerSharing::key_value: return "key-value";
        case LinformerSharing::layerwise: return "layerwise";
    }
    return "?";
}
}  // namespace

LinformerProjection::LinformerProjection(std::int64_t heads, const LinformerOptions& options, DType dtype, Generator& generator)
    : Module("LinformerProjection") {
    NYX_CHECK(options.projected_length >= 1 && options.max_length >= 1, "LinformerProjection: projected_length (", options.projected_length,
              ") and max_length (", options.max_length, ") must be >= 1; an encoder sets max_length to its max_len");
    const std::int64_t rows = options.sharing == LinformerSharing::none ? heads : 1;
    // The authors' initialisation: Xavier-uniform with gain 1/√2 over a [k, n_max] matrix.
    const double bound = std::sqrt(3.0 / static_cast<double>(options.max_length + options.projected_length));
    auto matrix = [&](const char* name) {
        Tensor w = empty({rows, options.projected_length, options.max_length}, dtype);
        return register_parameter(name, init::uniform_(w, -bound, bound, generator));
    };
    e = matrix("e");
    if (options.sharing == LinformerSharing::none || options.sharing == LinformerSharing::headwise) f = matrix("f");
}

std::string LinformerProjection::extra_repr() const {
    return detail::cat("k=", e.size(1), ", max_length=", e.size(2), ", per_head=", e.size(0) > 1 ? "true" : "false",
                       ", shared_kv=", f.defined() ? "false" : "true");
}

LinformerAttention::LinformerAttention(std::int64_t heads, const LinformerOptions& options, DType dtype, Generator& generator,
                                       std::shared_ptr<LinformerProjection> shared)
    : Attention("LinformerAttention"), heads_(heads), options_(options) {
    NYX_CHECK(heads >= 1, "LinformerAttention: heads must be >= 1, got ", heads);
    const bool layerwise = options.sharing == LinformerSharing::layerwise;
    NYX_CHECK(layerwise == (shared != nullptr), "LinformerAttention: ",
              layerwise ? "layerwise sharing needs the one projection all layers share (an encoder makes it; pass it as `shared`)"
                        : "a shared projection is for layerwise sharing only");
    projection = register_module("projection", shared ? std::move(shared) : std::make_shared<LinformerProjection>(heads, options, dtype, generator));
}

std::string LinformerAttention::extra_repr() const {
    return detail::cat("heads=", heads_, ", k=", projection->e.size(1), ", max_length=", projection->max_length(),
                       ", sharing=", sharing_name(options_.sharing));
}

// K̄ = E·(K ⊙ M), V̄ = F·(V ⊙ M), softmax(Q K̄ᵀ / √d) · V̄
Tensor LinformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
    const auto [batch, heads, n, d] = check_inputs("LinformerAttention", q, k, v, mask);
    NYX_CHECK(heads == heads_, "LinformerAttention: built for ", heads_, " heads, got ", heads);
    NYX_CHECK(n <= projection->max_length(), "LinformerAttention: the sequence has ", n, " positions, but E and F were made for at most ",
              projection->max_length(), " (LinformerOptions::max_length); build the model with a larger max_length, or "
                                        "shorten the input");
    const Tensor tokens = mask.unsqueeze(1).unsqueeze(-1);  // [B, 1, n, 1]
    // [h|1, k, n] · [B, h, n, d] → [B, h, k, d]: the first n columns of E and F
    const Tensor keys = projection->e.narrow(-1, 0, n).matmul(k * tokens);
    const Tensor values = projection->value_projection().narrow(-1, 0, n).matmul(v * tokens);
    const Tensor scores = (q / std::sqrt(static_cast<double>(d))).matmul(keys.transpose(-1, -2));  // [B, h, n, k]
    return ops::softmax(scores, -1).matmul(values);
}

}  // namespace nyx::nn
