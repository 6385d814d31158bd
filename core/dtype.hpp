#pragma once
// Element types: f32, f64 and i64 (indices and labels), and the dispatch from a runtime dtype to a
// compile-time element type: dispatch(dtype, [&]<class T>() { ... }).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "error.hpp"

namespace nyx {

enum class DType : std::uint8_t { f32, f64, i64 };

inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;
inline constexpr DType i64 = DType::i64;

constexpr std::string_view name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f64: return "f64";
        case DType::i64: return "i64";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& out, DType dtype) { return out << name(dtype); }

constexpr std::size_t element_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }
constexpr bool is_floating(DType dtype) { return dtype != DType::i64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }

// Calls f.template operator()<T>() with T the element type of `dtype`.
template <class F>
decltype(auto) dispatch(DType dtype, F&& f) {
    switch (dtype) {
        case DType::f32: return f.template operator()<float>();
        case DType::f64: return f.template operator()<double>();
        case DType::i64: return f.template operator()<std::int64_t>();
    }
    throw Error("dispatch: corrupt dtype");
}

// As dispatch, for ops that are defined on floating types only; i64 is an error naming the op.
template <class F>
decltype(auto) dispatch_floating(DType dtype, std::string_view op, F&& f) {
    NYX_CHECK(is_floating(dtype), op, ": expected a floating tensor (f32 or f64), got i64; convert it with .to(nyx::f32)");
    if (dtype == DType::f32) return f.template operator()<float>();
    return f.template operator()<double>();
}

}  // namespace nyx
