// A run's config.json, as nyx-train --resume reads it, on arbitrary bytes: it throws nyx::Error
// (never a JSON library exception) or returns a configuration that passes validation and writes
// back to the same JSON.
#include "../../tools/train/config.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const nyx::train::Config c = nyx::train::read_config(nyx::fuzz::as_file(data, size, ".json"));
        const nyx::train::Config again = nyx::train::from_json(nyx::train::to_json(c), "rewritten");
        nyx::fuzz::require(nyx::train::to_json(again) == nyx::train::to_json(c), "a round trip changed the configuration");
    } catch (const nyx::Error&) {
    }
    return 0;
}
