#pragma once
// Element types: f32, f64 and i64 (indices and labels), bf16 for storage and mixed precision, and
// the dispatch from a runtime dtype to a compile-time element type:
// dispatch(dtype, [&]<class T>() { ... }).
//
// bf16 (bfloat16: f32's sign and 8-bit exponent, 7 stored mantissa bits) holds data: it converts
// to and from the other dtypes, prints, saves to safetensors as BF16, and feeds the products that
// autocast runs (autograd/autocast.hpp). Arithmetic ops take f32 or f64 and name bf16 as the
// problem; convert with .to(nyx::f32), as the products do internally.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include "error.hpp"

namespace nyx {

enum class DType : std::uint8_t { f32, f64, i64, bf16 };

inline constexpr DType f32 = DType::f32;
inline constexpr DType f64 = DType::f64;
inline constexpr DType i64 = DType::i64;
inline constexpr DType bf16 = DType::bf16;

// One bf16 value. From f32 it rounds to nearest, ties to even (as PyTorch and the AVX512_BF16
// instructions do): values beyond the largest bf16 (about 3.39e38) become ±inf, and a NaN stays a
// (quiet) NaN of the same sign. From f64 it goes through f32. To f32 it is exact.
struct bfloat16 {
    std::uint16_t bits = 0;

    bfloat16() = default;
    constexpr explicit bfloat16(float value) : bits(round(value)) {}
    constexpr explicit bfloat16(double value) : bfloat16(static_cast<float>(value)) {}
    constexpr explicit bfloat16(std::int64_t value) : bfloat16(static_cast<float>(value)) {}
    // To any arithmetic type, through f32 (exact).
    template <class T>
        requires std::is_arithmetic_v<T>
    constexpr explicit operator T() const {
        return static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16));
    }

    static constexpr std::uint16_t round(float value) {
        const auto u = std::bit_cast<std::uint32_t>(value);
        if ((u & 0x7fffffffU) > 0x7f800000U) return static_cast<std::uint16_t>((u >> 16) | 0x40U);  // NaN: set the quiet bit
        return static_cast<std::uint16_t>((u + 0x7fffU + ((u >> 16) & 1U)) >> 16);
    }
};
static_assert(sizeof(bfloat16) == 2);

constexpr std::string_view name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f64: return "f64";
        case DType::i64: return "i64";
        case DType::bf16: return "bf16";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& out, DType dtype) { return out << name(dtype); }

constexpr std::size_t element_size(DType dtype) {
    return dtype == DType::bf16 ? 2 : dtype == DType::f32 ? 4 : 8;
}
// The dtypes nyx computes in and differentiates: f32 and f64 (bf16 holds data only).
constexpr bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::bf16; }

namespace detail {
[[noreturn]] inline void bf16_not_computed() {
    throw Error("this op computes in f32, f64 or i64, not bf16: bf16 tensors hold data (storage, checkpoints, the "
                "inputs of autocast's products); convert with .to(nyx::f32)");
}
}  // namespace detail

// Calls f.template operator()<T>() with T the element type of `dtype`: float, double or int64_t.
// bf16 is an error (see the top of this file); dispatch_with_bf16 also covers it, for the kernels
// that only move or convert data.
template <class F>
decltype(auto) dispatch(DType dtype, F&& f) {
    switch (dtype) {
        case DType::f32: return f.template operator()<float>();
        case DType::f64: return f.template operator()<double>();
        case DType::i64: return f.template operator()<std::int64_t>();
        case DType::bf16: detail::bf16_not_computed();
    }
    throw Error("dispatch: corrupt dtype");
}

template <class F>
decltype(auto) dispatch_with_bf16(DType dtype, F&& f) {
    if (dtype == DType::bf16) return f.template operator()<bfloat16>();
    return dispatch(dtype, std::forward<F>(f));
}

// As dispatch, for ops that are defined on f32 and f64 only; i64 and bf16 are errors naming the op.
template <class F>
decltype(auto) dispatch_floating(DType dtype, std::string_view op, F&& f) {
    NYX_CHECK(dtype != DType::i64, op, ": expected a floating tensor (f32 or f64), got i64; convert it with .to(nyx::f32)");
    NYX_CHECK(dtype != DType::bf16, op, ": computes in f32 or f64, not bf16 (bf16 holds data and feeds autocast's "
              "products); convert with .to(nyx::f32)");
    if (dtype == DType::f32) return f.template operator()<float>();
    return f.template operator()<double>();
}

}  // namespace nyx
