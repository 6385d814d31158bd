// Tensor::to_string: PyTorch's layout. Floats share one format chosen from all the values (integral
// values print as "1.", others with four decimals, very large or small ones in scientific notation),
// padded to one width; axes longer than 6 are elided to their first and last 3 entries once the
// tensor has more than 1000 elements.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "tensor.hpp"

namespace nyx {
namespace {

constexpr std::int64_t elide_above = 1000, edge_items = 3;

struct Formatter {
    enum class Mode { integer, integral_float, fixed, scientific } mode = Mode::integer;
    std::size_t width = 0;

    std::string format(double v) const {
        char buffer[64];
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        switch (mode) {
            case Mode::integer: std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(v)); break;
            case Mode::integral_float: std::snprintf(buffer, sizeof buffer, "%.0f.", v); break;
            case Mode::fixed: std::snprintf(buffer, sizeof buffer, "%.4f", v); break;
            case Mode::scientific: std::snprintf(buffer, sizeof buffer, "%.4e", v); break;
        }
        return buffer;
    }
    std::string padded(double v) const {
        std::string s = format(v);
        return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
    }
};

struct Printer {
    const std::vector<double>& values;
    const Shape& shape;
    Formatter formatter;
    bool elide;
    std::size_t indent;  // column of the outermost '['
    std::string out;

    std::vector<std::int64_t> shown(std::int64_t size) const {
        std::vector<std::int64_t> indices;
        for (std::int64_t i = 0; i < size; ++i) {
            if (elide && size > 2 * edge_items && i == edge_items) {
                indices.push_back(-1);  // the ellipsis
                i = size - edge_items;
            }
            indices.push_back(i);
        }
        return indices;
    }

    void print(std::size_t axis, std::int64_t base) {
        if (axis == shape.size()) {
            out += formatter.padded(values[static_cast<std::size_t>(base)]);
            return;
        }
        std::int64_t stride = 1;
        for (std::size_t a = axis + 1; a < shape.size(); ++a) stride *= shape[a];
        const bool innermost = axis + 1 == shape.size();
        // Rows of a matrix end with one newline, matrices with two, and so on; then the indent.
        std::string separator = ",";
        if (innermost) separator += ' ';
        else separator.append(shape.size() - axis - 1, '\n').append(indent + axis + 1, ' ');
        out += '[';
        bool first = true;
        for (std::int64_t i : shown(shape[axis])) {
            if (!first) out += separator;
            first = false;
            if (i < 0) out += "...";
            else print(axis + 1, base + i * stride);
        }
        out += ']';
    }
};

}  // namespace

std::string Tensor::to_string() const {
    if (!defined()) return "tensor(undefined)";
    const std::vector<double> values = to_vector();
    Formatter formatter;
    if (dtype() != i64) {
        double largest = 0, smallest = INFINITY;
        bool integral = true;
        for (double v : values) {
            if (!std::isfinite(v)) continue;
            integral = integral && v == std::round(v);
            largest = std::max(largest, std::abs(v));
            if (v != 0) smallest = std::min(smallest, std::abs(v));
        }
        using Mode = Formatter::Mode;
        formatter.mode = integral && largest < 1e8 ? Mode::integral_float
                         : (largest >= 1e8 || smallest < 1e-4) ? Mode::scientific
                                                               : Mode::fixed;
    }
    for (double v : values) formatter.width = std::max(formatter.width, formatter.format(v).size());

    Printer printer{values, shape(), formatter, numel() > elide_above, 7, "tensor("};
    printer.print(0, 0);
    std::string& out = printer.out;
    out += ", shape=" + nyx::to_string(shape()) + ", dtype=" + std::string(name(dtype()));
    if (const std::string op = grad_fn_name(); !op.empty()) out += ", grad_fn=<" + op + ">";
    else if (requires_grad()) out += ", requires_grad=true";
    return out + ")";
}

}  // namespace nyx
