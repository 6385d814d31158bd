#pragma once
// Shapes and strides (in elements), NumPy broadcasting, and axis normalisation.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nyx {

// Sizes, strides or axes: a std::vector<std::int64_t> of its own type, so that it prints
// (std::cout << x.shape() writes "[2, 3]") and argument-dependent lookup finds nyx's functions.
struct Shape : std::vector<std::int64_t> {
    using std::vector<std::int64_t>::vector;
    Shape() = default;
    Shape(std::vector<std::int64_t> values) : std::vector<std::int64_t>(std::move(values)) {}  // NOLINT: implicit on purpose
};
std::ostream& operator<<(std::ostream& out, const Shape& shape);  // as to_string: "[2, 3]"

std::int64_t numel(const Shape& shape);
// numel for a shape that comes from a caller: throws naming `op` on a negative size, or when the
// element count or its size in bytes (elements of `element_bytes`) does not fit in 63 bits.
std::int64_t checked_numel(const Shape& shape, std::size_t element_bytes, std::string_view op);
Shape contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);  // "[2, 3]"

// NumPy broadcasting: align trailing axes; sizes must be equal or one of them 1.
// Throws naming both shapes and `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// True when a and b broadcast together (broadcast_shapes would not throw).
bool broadcastable(const Shape& a, const Shape& b);

// True when `from` broadcasts to exactly `to` (as an expand() of it would).
bool broadcasts_to(const Shape& from, const Shape& to);

// Strides that read a tensor of shape `from` (with `strides`) as if it had the broadcast shape `to`:
// stride 0 on the axes that are added or stretched from size 1.
Shape broadcast_strides(const Shape& from, const Shape& strides, const Shape& to);

// Maps axis in [-rank, rank) to [0, rank); otherwise throws naming `op`.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, std::string_view op);

}  // namespace nyx
