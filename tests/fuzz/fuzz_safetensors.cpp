// The safetensors reader on arbitrary bytes: it either throws nyx::Error or returns tensors that
// hold exactly the bytes it was given; writing them out and reading them back gives them again.
#include <cstring>

#include <nyx/core/safetensors.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nyx::io::Safetensors file;
    try {
        file = nyx::io::parse_safetensors({data, size}, "input");
    } catch (const nyx::Error&) {
        return 0;
    }
    std::size_t bytes = 0;
    for (const auto& [name, t] : file.tensors) bytes += static_cast<std::size_t>(t.numel()) * nyx::element_size(t.dtype());
    nyx::fuzz::require(bytes <= size, "the tensors hold more bytes than the file");
    const std::string again = nyx::io::serialize_safetensors(file.tensors, file.metadata);
    const nyx::io::Safetensors reread =
        nyx::io::parse_safetensors({reinterpret_cast<const unsigned char*>(again.data()), again.size()}, "rewritten");
    nyx::fuzz::require(reread.metadata == file.metadata && reread.tensors.size() == file.tensors.size(), "a round trip changed the file");
    for (const auto& [name, t] : file.tensors) {
        const nyx::Tensor& u = reread.tensors.at(name);
        nyx::fuzz::require(u.shape() == t.shape() && u.dtype() == t.dtype() &&
                               std::memcmp(u.raw_data(), t.raw_data(), static_cast<std::size_t>(t.numel()) * nyx::element_size(t.dtype())) == 0,
                           "a round trip changed a tensor");
    }
    return 0;
}
