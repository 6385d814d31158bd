// The LRA ListOps TSV reader on arbitrary bytes: it throws nyx::Error or returns examples whose
// tokens lie in the vocabulary, whose labels are digits, and which print back to the same tokens.
#include <nyx/data/listops.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const nyx::data::SequenceDataset d = nyx::data::read_listops_tsv(nyx::fuzz::as_file(data, size, ".tsv"));
        for (const nyx::data::Sequence& e : d.examples) {
            nyx::fuzz::require(e.label >= 0 && e.label < d.classes, "a label outside the classes");
            for (const auto t : e.tokens) nyx::fuzz::require(t < d.vocab, "a token outside the vocabulary");
            nyx::fuzz::require(nyx::data::listops_tokenize(nyx::data::listops_source(e.tokens)) == e.tokens, "tokens do not print back");
        }
    } catch (const nyx::Error&) {
    }
    return 0;
}
