#pragma once
// Tensors to and from files in the safetensors format: an 8-byte little-endian header length N, N
// bytes of JSON header ({"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
// "__metadata__": {"key": "value"}}), then the tensor bytes, little-endian and row-major, with
// offsets counted from the end of the header.
//
// Writing is atomic: a temporary file beside the target, flushed and fsync'd, then renamed over
// it, so a reader never sees half a file. Reading trusts nothing before checking it: the header
// length against the file and a 100 MiB cap, the JSON, every dtype (F32, F64, I64, BF16), shape and
// offset pair, each span's size against shape × dtype, and that the spans tile the data exactly
// (no overlap, no hole, no trailing bytes). Any failure names the file and the problem.
#include <cstddef>
#include <map>
#include <span>
#include <string>

#include "tensor.hpp"

namespace nyx::io {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

struct Safetensors {
    TensorMap tensors;
    Metadata metadata;
};

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});
Safetensors load_safetensors(const std::string& path);

// The same from bytes in memory; `name` is what errors call the source.
Safetensors parse_safetensors(std::span<const unsigned char> bytes, const std::string& name);
std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

inline constexpr std::size_t max_safetensors_header = std::size_t{100} << 20;

}  // namespace nyx::io
