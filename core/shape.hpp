#pragma once
// Shapes and strides (in elements), NumPy broadcasting, and axis normalisation.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nyx {

using Shape = std::vector<std::int64_t>;

std::int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);  // "[2, 3]"

// NumPy broadcasting: align trailing axes; sizes must be equal or one of them 1.
// Throws naming both shapes and `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// Strides that read a tensor of shape `from` (with `strides`) as if it had the broadcast shape `to`:
// stride 0 on the axes that are added or stretched from size 1.
Shape broadcast_strides(const Shape& from, const Shape& strides, const Shape& to);

// Maps axis in [-rank, rank) to [0, rank); otherwise throws naming `op`.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, std::string_view op);

}  // namespace nyx
