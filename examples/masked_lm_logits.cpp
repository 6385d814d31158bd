// Loads a masked language model that `nyx-train pretrain` trained and writes its logits for a batch,
// as one's own program would use a pretrained run: models::load_masked_lm rebuilds the model from
// the run's config.json and loads its best checkpoint. It is nyx's side of tools/torch_interop.py,
// which compares these logits with its PyTorch module's.
// Run: ./masked_lm_logits RUN_DIR BATCH.safetensors LOGITS.safetensors
//   BATCH holds "ids" [B, n] i64 ([CLS] A [SEP] B [SEP], padded with 0), "mask" [B, n] in the
//   model's dtype (1 = token) and "segments" [B, n] i64. LOGITS receives "mlm_logits" [B·n, vocab]
//   (every position's, row b·n + i) and "sop_logits" [B, 2].
// Exits 1 with a message when the run or the batch cannot be read, or they do not fit.
#include <cstdio>
#include <exception>

#include <nyx/nyx.hpp>

using namespace nyx;

namespace {

const Tensor& field(const io::Safetensors& batch, const char* name, const char* path) {
    const auto it = batch.tensors.find(name);
    NYX_CHECK(it != batch.tensors.end(), path, " has no tensor \"", name, "\" (a batch holds ids, mask and segments)");
    return it->second;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s RUN_DIR BATCH.safetensors LOGITS.safetensors\n", argv[0]);
        return 2;
    }
    try {
        const models::LoadedMaskedLM run = models::load_masked_lm(argv[1]);
        const io::Safetensors batch = io::load_safetensors(argv[2]);
        NoGradGuard no_grad;
        const auto out = (*run.model)(field(batch, "ids", argv[2]), field(batch, "mask", argv[2]), field(batch, "segments", argv[2]));
        io::save_safetensors(argv[3], {{"mlm_logits", out.mlm_logits}, {"sop_logits", out.sop_logits}});
        std::printf("%s (step %ld): logits of %ld sequences written to %s\n", run.checkpoint.c_str(), static_cast<long>(run.step),
                    static_cast<long>(out.sop_logits.size(0)), argv[3]);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "masked_lm_logits: %s\n", e.what());
        return 1;
    }
}
