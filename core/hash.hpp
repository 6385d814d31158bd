#pragma once
// FNV-1a, 64 bits (Fowler, Noll and Vo): a fast hash of bytes that is not cryptographic, for
// telling documents and files apart (data/documents.hpp's repeats and split, a tokenizer's name).
#include <cstdint>
#include <string_view>

namespace nyx {

inline std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t hash = 0xcbf29ce484222325;
    for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3;
    return hash;
}

}  // namespace nyx
