// The IDX reader (gzip'd or plain) on arbitrary bytes: it throws nyx::Error or returns an array
// whose dimensions account for every value it holds.
#include <nyx/data/images.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const nyx::data::IdxArray a = nyx::data::read_idx(nyx::fuzz::as_file(data, size, ".idx"));
        std::size_t count = 1;
        for (const auto d : a.dims) count *= d;
        nyx::fuzz::require(count == a.values.size(), "the dimensions do not match the values");
        if (a.dims.size() == 3 && count > 0) {  // as Fashion-MNIST's images, with labels to match
            const nyx::data::IdxArray labels{{a.dims[0]}, std::vector<std::uint8_t>(a.dims[0], 1)};
            (void)nyx::data::images_to_dataset("input", a, labels, 10, 0);
        }
    } catch (const nyx::Error&) {
    }
    return 0;
}
