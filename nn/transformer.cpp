#include "transformer.hpp"

namespace nyx::nn {

TransformerBlock::TransformerBlock(const TransformerBlockOptions& o, Generator& generator) : Module("TransformerBlock") {
    norm1 = register_module("norm1", std::make_shared<LayerNorm>(Shape{o.dim}, 1e-5, true, o.dtype));
    attn = register_module("attn", std::make_shared<MultiHeadAttention>(o.dim, o.heads, o.head_dim, o.attention, o.dtype, generator, o.shared_projection));
    attn_dropout = register_module("attn_dropout", std::make_shared<Dropout>(o.dropout, generator));
    norm2 = register_module("norm2", std::make_shared<LayerNorm>(Shape{o.dim}, 1e-5, true, o.dtype));
    const LinearOptions linear{.bias = true, .dtype = o.dtype};
    mlp = register_module("mlp", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<UnaryModule>>{
                                     std::make_shared<Linear>(o.dim, o.hidden, linear, generator), std::make_shared<GELU>(),
                                     std::make_shared<Dropout>(o.dropout, generator),
                                     std::make_shared<Linear>(o.hidden, o.dim, linear, generator),
                                     std::make_shared<Dropout>(o.dropout, generator)}));
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& mask) {
    const Tensor h = x + attn_dropout->forward(attn->forward(norm1->forward(x), mask));
    return h + mlp->forward(norm2->forward(h));
}

}  // namespace nyx::nn
