#include "safetensors.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "file.hpp"
#include "kernels.hpp"

namespace nyx::io {
namespace {

using json = nlohmann::json;

// safetensors' names of nyx's dtypes; BF16 is the format's bfloat16, byte for byte.
const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "F32";
        case DType::f64: return "F64";
        case DType::i64: return "I64";
        case DType::bf16: return "BF16";
    }
    return "?";
}

std::uint64_t read_u64_le(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// Throws "load_safetensors: NAME: problem".
template <class... Parts>
[[noreturn]] void fail(const std::string& name, const Parts&... parts) {
    throw Error(detail::cat("load_safetensors: ", name, ": ", parts...));
}

}  // namespace

std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        NYX_CHECK(name != "__metadata__" && !name.empty(), "save_safetensors: \"", name, "\" cannot name a tensor");
        NYX_CHECK(t.defined(), "save_safetensors: tensor \"", name, "\" is undefined");
        const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * element_size(t.dtype());
        header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned, as the reference writer does
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff);
    out += text;
    out.reserve(out.size() + offset);
    for (const auto& [name, t] : tensors) {  // std::map: the same (sorted) order as the offsets above
        const Tensor c = kernels::contiguous(t);
        out.append(static_cast<const char*>(c.raw_data()), static_cast<std::size_t>(c.numel()) * element_size(c.dtype()));
    }
    return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
    try {
        write_file_atomically(path, serialize_safetensors(tensors, metadata));
    } catch (const Error& e) {
        throw Error(detail::cat("save_safetensors: ", e.what()));
    }
}

Safetensors load_safetensors(const std::string& path) {
    std::vector<unsigned char> bytes;
    try {
        bytes = read_file(path);
    } catch (const Error& e) {
        throw Error(detail::cat("load_safetensors: ", e.what()));
    }
    return parse_safetensors(bytes, path);
}

Safetensors parse_safetensors(std::span<const unsigned char> bytes, const std::string& name) {
    if (bytes.size() < 8) fail(name, "the file has ", bytes.size(), " bytes, fewer than the 8-byte header length");
    const std::uint64_t header_length = read_u64_le(bytes.data());
    // A file of another kind (text, say) gives an implausible length: say what it is not.
    if (header_length == 0 || header_length > max_safetensors_header) {
        // Text shows what the file is (a config.json, a TSV file); other bytes only as the length they read as.
        const std::string start(reinterpret_cast<const char*>(bytes.data()), std::min<std::size_t>(bytes.size(), 24));
        const bool text = std::all_of(start.begin(), start.end(), [](char c) { return (c >= 32 && c < 127) || c == '\n' || c == '\t'; });
        if (text) fail(name, "not a safetensors file: it starts with the text \"", start.substr(0, start.find('\n')), "\"");
        fail(name, "not a safetensors file (bytes 0-7, the header length, read ", header_length, ", outside 1..", max_safetensors_header, ")");
    }
    if (header_length > bytes.size() - 8)
        fail(name, "the header length ", header_length, " runs past the end of the file (", bytes.size(),
             " bytes): the file was cut short, or is not a safetensors file");
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_length);
    const std::uint64_t data_size = bytes.size() - 8 - header_length;
    if (text.front() != '{') fail(name, "not a safetensors file: the header does not start with '{'");

    // A repeated key anywhere is an error (the JSON library would keep the last one silently).
    if (const auto key = repeated_json_key(text))
        fail(name, "the header names a key twice in one object (\"", key->substr(0, 40), "\")");
    json header;
    try {
        header = json::parse(text);
    } catch (const json::exception& e) {
        fail(name, "the header (bytes 8-", 8 + header_length, ") is not valid JSON: ", e.what());
    }
    if (!header.is_object()) fail(name, "the header is not a JSON object");

    // Pass 1: check every entry and the tiling of the spans, before allocating anything. Error
    // messages never print untrusted JSON (a deeply nested value would take the printer deep).
    struct Entry {
        std::string tensor;
        DType dtype;
        Shape shape;
        std::uint64_t begin, end;
    };
    std::vector<Entry> entries;
    Metadata metadata;
    for (const auto& [key, entry] : header.items()) {
        if (key == "__metadata__") {
            if (!entry.is_object()) fail(name, "__metadata__ is not an object");
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string()) fail(name, "__metadata__ value of \"", k, "\" is not a string");
                metadata[k] = v.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor \"" + key + "\"";
        if (key.empty()) fail(name, "a tensor has an empty name");
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
            fail(name, where, " needs an object with dtype, shape and data_offsets");
        const json& dtype_field = entry["dtype"];
        if (!dtype_field.is_string()) fail(name, where, ": dtype is not a string");
        const std::string dtype_text = dtype_field.get<std::string>();
        DType dtype;
        if (dtype_text == "F32") dtype = f32;
        else if (dtype_text == "F64") dtype = f64;
        else if (dtype_text == "I64") dtype = i64;
        else if (dtype_text == "BF16") dtype = bf16;
        else fail(name, where, ": dtype \"", dtype_text.substr(0, 16), "\" is not one nyx reads (F32, F64, I64, BF16)");
        const json& shape_field = entry["shape"];
        if (!shape_field.is_array()) fail(name, where, ": shape is not an array");
        if (shape_field.size() > 64) fail(name, where, ": shape has ", shape_field.size(), " axes (at most 64)");
        Shape shape;
        std::uint64_t bytes_needed = element_size(dtype);
        for (std::size_t a = 0; a < shape_field.size(); ++a) {
            const json& s = shape_field[a];
            if (!s.is_number_unsigned()) fail(name, where, ": shape entry ", a, " is not a size >= 0");
            const std::uint64_t size = s.get<std::uint64_t>();
            if (size > (std::uint64_t{1} << 62)) fail(name, where, ": shape entry ", a, " (", size, ") is too large");
            shape.push_back(static_cast<std::int64_t>(size));
        }
        // The element count of the non-empty axes must stay addressable even when an axis is 0.
        std::uint64_t nonzero = 1;
        for (std::int64_t size : shape)
            if (size != 0 && __builtin_mul_overflow(nonzero, static_cast<std::uint64_t>(size), &nonzero))
                fail(name, where, ": the shape has more than 2^64 elements");
        if (nonzero > (std::uint64_t{1} << 60)) fail(name, where, ": the shape is too large");
        if (__builtin_mul_overflow(bytes_needed, nonzero, &bytes_needed)) fail(name, where, ": the shape is too large");
        if (numel(shape) == 0) bytes_needed = 0;
        const json& offsets = entry["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
            fail(name, where, ": data_offsets must be two integers >= 0");
        const std::uint64_t begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
        if (begin > end || end > data_size)
            fail(name, where, ": data_offsets [", begin, ", ", end, ") do not lie inside the ", data_size, " data bytes");
        if (end - begin != bytes_needed)
            fail(name, where, ": data_offsets [", begin, ", ", end, ") hold ", end - begin, " bytes, but shape ",
                 to_string(shape), " of ", dtype_text, " needs ", bytes_needed);
        entries.push_back({key, dtype, std::move(shape), begin, end});
    }
    // The spans must tile the data: sorted by start, each begins where the last ended, and the
    // last ends at the end of the file.
    std::vector<const Entry*> order;
    for (const Entry& e : entries) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
    std::uint64_t position = 0;
    for (const Entry* e : order) {
        if (e->begin != position)
            fail(name, "tensor \"", e->tensor, "\" starts at data byte ", e->begin, " but the previous data ends at ", position,
                 e->begin < position ? " (the spans overlap)" : " (a hole in the data)");
        position = e->end;
    }
    if (position != data_size) fail(name, "the data holds ", data_size - position, " bytes after the last tensor");

    // Pass 2: everything checks out; the tensors' total size is the data's size.
    Safetensors out;
    out.metadata = std::move(metadata);
    for (const Entry& e : entries) {
        Tensor t = empty(e.shape, e.dtype);
        if (e.end > e.begin) std::memcpy(t.raw_data(), bytes.data() + 8 + header_length + e.begin, e.end - e.begin);
        out.tensors.emplace(e.tensor, t);
    }
    return out;
}

}  // namespace nyx::io
