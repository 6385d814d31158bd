// The byte-level text TSV reader on arbitrary bytes: it throws nyx::Error or returns examples with
// labels among its classes and byte tokens in its vocabulary.
#include <nyx/data/text.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const nyx::data::SequenceDataset d = nyx::data::read_text_tsv(nyx::fuzz::as_file(data, size, ".tsv"), {.max_length = 64});
        nyx::fuzz::require(d.classes == static_cast<std::int64_t>(d.class_names.size()), "classes and their names differ");
        for (const nyx::data::Sequence& e : d.examples) {
            nyx::fuzz::require(e.label >= 0 && e.label < d.classes, "a label outside the classes");
            nyx::fuzz::require(!e.tokens.empty() && e.tokens.size() <= 64, "a text longer than max_length, or empty");
            for (const auto t : e.tokens) nyx::fuzz::require(t >= 1 && t < d.vocab, "a token outside the vocabulary");
        }
    } catch (const nyx::Error&) {
    }
    return 0;
}
