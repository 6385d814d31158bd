#include "shape.hpp"

#include <algorithm>
#include <ostream>

#include "error.hpp"

namespace nyx {

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << to_string(shape); }

std::int64_t numel(const Shape& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
}

std::int64_t checked_numel(const Shape& shape, std::size_t element_bytes, std::string_view op) {
    std::int64_t n = 1;
    for (auto s : shape) {
        NYX_CHECK(s >= 0, op, ": negative size ", s, " in shape ", to_string(shape));
        NYX_CHECK(!__builtin_mul_overflow(n, s, &n), op, ": shape ", to_string(shape), " has more than 2^63 elements");
    }
    std::int64_t bytes = 0;
    NYX_CHECK(!__builtin_mul_overflow(n, static_cast<std::int64_t>(element_bytes), &bytes), op, ": shape ",
              to_string(shape), " needs more than 2^63 bytes");
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    std::int64_t stride = 1;
    for (auto i = shape.size(); i-- > 0;) {
        strides[i] = stride;
        stride *= std::max<std::int64_t>(shape[i], 1);
    }
    return strides;
}

std::string to_string(const Shape& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t i = 0; i < rank; ++i) {
        const std::int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        const std::int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        NYX_CHECK(x == y || x == 1 || y == 1, op, ": shapes ", to_string(a), " and ", to_string(b),
                  " do not broadcast (axis ", i, " of the aligned shapes has sizes ", x, " and ", y,
                  "; sizes must match or one of them must be 1)");
        out[i] = x == 1 ? y : x;
    }
    return out;
}

bool broadcastable(const Shape& a, const Shape& b) {
    const Shape& longer = a.size() >= b.size() ? a : b;
    const Shape& shorter = a.size() >= b.size() ? b : a;
    const std::size_t lead = longer.size() - shorter.size();
    for (std::size_t i = 0; i < shorter.size(); ++i)
        if (shorter[i] != longer[lead + i] && shorter[i] != 1 && longer[lead + i] != 1) return false;
    return true;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    const std::size_t lead = to.size() - from.size();
    for (std::size_t i = 0; i < from.size(); ++i)
        if (from[i] != to[lead + i] && from[i] != 1) return false;
    return true;
}

Shape broadcast_strides(const Shape& from, const Shape& strides, const Shape& to) {
    NYX_CHECK(from.size() <= to.size(), "broadcast_strides: shape ", to_string(from), " has a higher rank than ", to_string(to));
    Shape out(to.size(), 0);
    const std::size_t lead = to.size() - from.size();
    for (std::size_t i = 0; i < from.size(); ++i)
        out[lead + i] = (from[i] == 1 && to[lead + i] != 1) ? 0 : strides[i];
    return out;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank, std::string_view op) {
    NYX_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis, " is out of range for a tensor of rank ", rank,
              " (valid axes are ", -rank, " to ", rank - 1, ")");
    return axis < 0 ? axis + rank : axis;
}

}  // namespace nyx
