#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <zlib.h>

#include <nyx/core/error.hpp>

namespace nyx::train {
namespace {

constexpr double panel_w = 440, panel_h = 300, margin_l = 60, margin_t = 40, margin_b = 50, gap = 90;
constexpr const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Point {
    double x, y;
};

struct Range {
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    void add(double v) {
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
};

std::string fmt(const char* format, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, v);
    return buffer;
}

// Tick marks at 1, 2 or 5 times a power of ten, about `count` of them over [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
    const double raw = (hi - lo) / count, power = std::pow(10, std::floor(std::log10(raw)));
    const double step = power * (raw / power < 1.5 ? 1 : raw / power < 3.5 ? 2 : raw / power < 7.5 ? 5 : 10);
    std::vector<double> out;
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
    return out;
}

// The trailing mean over `window` points: per-step losses are noisy.
std::vector<Point> smooth(const std::vector<Point>& points, std::size_t window) {
    std::vector<Point> out;
    double sum = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
        sum += points[i].y;
        if (i >= window) sum -= points[i - window].y;
        out.push_back({points[i].x, sum / static_cast<double>(std::min(i + 1, window))});
    }
    return out;
}

std::string escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

class Panel {
  public:
    Panel(double left, std::string title, std::string x_label, Range x, Range y)
        : left_(left), title_(std::move(title)), x_label_(std::move(x_label)), x_(x), y_(y) {
        if (!(x_.hi > x_.lo)) x_.hi = x_.lo + 1;
        if (!(y_.hi > y_.lo)) y_.lo -= 0.5, y_.hi += 0.5;
        const double pad = (y_.hi - y_.lo) * 0.05;
        y_.lo -= pad, y_.hi += pad;
    }
    double sx(double x) const { return left_ + (x - x_.lo) / (x_.hi - x_.lo) * panel_w; }
    double sy(double y) const { return margin_t + panel_h - (y - y_.lo) / (y_.hi - y_.lo) * panel_h; }

    std::string frame(const char* y_format) const {
        std::string s = "<rect x=\"" + fmt("%.1f", left_) + "\" y=\"" + fmt("%.1f", margin_t) + "\" width=\"" + fmt("%.0f", panel_w) +
                        "\" height=\"" + fmt("%.0f", panel_h) + "\" fill=\"none\" stroke=\"#444\"/>\n";
        s += "<text x=\"" + fmt("%.1f", left_ + panel_w / 2) + "\" y=\"25\" text-anchor=\"middle\" font-weight=\"bold\">" + escape(title_) + "</text>\n";
        for (const double t : ticks(x_.lo, x_.hi, 5))
            s += "<line x1=\"" + fmt("%.1f", sx(t)) + "\" x2=\"" + fmt("%.1f", sx(t)) + "\" y1=\"" + fmt("%.1f", margin_t) + "\" y2=\"" +
                 fmt("%.1f", margin_t + panel_h) + "\" stroke=\"#eee\"/><text x=\"" + fmt("%.1f", sx(t)) + "\" y=\"" +
                 fmt("%.1f", margin_t + panel_h + 16) + "\" text-anchor=\"middle\">" + fmt("%g", t) + "</text>\n";
        for (const double t : ticks(y_.lo, y_.hi, 5))
            s += "<line x1=\"" + fmt("%.1f", left_) + "\" x2=\"" + fmt("%.1f", left_ + panel_w) + "\" y1=\"" + fmt("%.1f", sy(t)) + "\" y2=\"" +
                 fmt("%.1f", sy(t)) + "\" stroke=\"#eee\"/><text x=\"" + fmt("%.1f", left_ - 6) + "\" y=\"" + fmt("%.1f", sy(t) + 4) +
                 "\" text-anchor=\"end\">" + fmt(y_format, t) + "</text>\n";
        s += "<text x=\"" + fmt("%.1f", left_ + panel_w / 2) + "\" y=\"" + fmt("%.1f", margin_t + panel_h + 36) +
             "\" text-anchor=\"middle\">" + escape(x_label_) + "</text>\n";
        return s;
    }

    std::string line(const std::vector<Point>& points, const char* colour, const char* extra) const {
        if (points.empty()) return {};
        std::string s = "<polyline fill=\"none\" stroke=\"" + std::string(colour) + "\" " + extra + " points=\"";
        for (const Point& p : points) s += fmt("%.1f", sx(p.x)) + "," + fmt("%.1f", sy(p.y)) + " ";
        return s + "\"/>\n";
    }

    std::string dots(const std::vector<Point>& points, const char* colour) const {
        std::string s;
        for (const Point& p : points)
            s += "<circle cx=\"" + fmt("%.1f", sx(p.x)) + "\" cy=\"" + fmt("%.1f", sy(p.y)) + "\" r=\"3\" fill=\"" + colour + "\"/>\n";
        return s;
    }

  private:
    double left_;
    std::string title_, x_label_;
    Range x_, y_;
};

// The 4-byte big-endian length, the type, the data and their CRC: one PNG chunk.
void png_chunk(std::string& png, const char* type, const std::string& data) {
    const auto length = static_cast<std::uint32_t>(data.size());
    for (int shift = 24; shift >= 0; shift -= 8) png += static_cast<char>((length >> shift) & 0xff);
    const std::string body = type + data;
    png += body;
    const auto crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    for (int shift = 24; shift >= 0; shift -= 8) png += static_cast<char>((crc >> shift) & 0xff);
}

std::string base64(const std::string& bytes) {
    static constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t count = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t word = 0;
        for (std::size_t j = 0; j < 3; ++j) word = word << 8 | (j < count ? static_cast<unsigned char>(bytes[i + j]) : 0u);
        for (std::size_t j = 0; j < 4; ++j) out += j <= count ? digits[(word >> (18 - 6 * j)) & 63] : '=';
    }
    return out;
}

// An 8-bit RGB PNG of the map, one pixel per value (PNG: ISO/IEC 15948; zlib's deflate and CRC).
std::string png_of(const HeatMap& map) {
    // Sequential: white, yellow, orange, red, dark red; diverging: blue, white, red.
    static constexpr unsigned char sequential[][3] = {{255, 255, 255}, {254, 217, 118}, {253, 141, 60}, {227, 26, 28}, {128, 0, 38}};
    static constexpr unsigned char diverging[][3] = {{33, 102, 172}, {255, 255, 255}, {178, 24, 43}};
    std::string raw;
    raw.reserve(static_cast<std::size_t>(map.rows * (1 + 3 * map.cols)));
    for (std::int64_t r = 0; r < map.rows; ++r) {
        raw += '\0';  // filter: none
        for (std::int64_t c = 0; c < map.cols; ++c) {
            const double v = map.values[static_cast<std::size_t>(r * map.cols + c)] / map.scale;
            const double t = std::clamp(map.diverging ? (v + 1) / 2 : v, 0.0, 1.0);
            const auto* stops = map.diverging ? diverging : sequential;
            const std::size_t last = map.diverging ? 2 : 4;
            const double at = t * static_cast<double>(last);
            const std::size_t i = std::min(static_cast<std::size_t>(at), last - 1);
            for (int channel = 0; channel < 3; ++channel)
                raw += static_cast<char>(std::lround(stops[i][channel] + (at - static_cast<double>(i)) * (stops[i + 1][channel] - stops[i][channel])));
        }
    }
    uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
    std::string packed(packed_size, '\0');
    NYX_CHECK(compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                        static_cast<uLong>(raw.size()), 9) == Z_OK,
              "heat map: zlib could not compress the image");
    packed.resize(packed_size);
    std::string header;
    for (const std::int64_t side : {map.cols, map.rows})
        for (int shift = 24; shift >= 0; shift -= 8) header += static_cast<char>((static_cast<std::uint32_t>(side) >> shift) & 0xff);
    header += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, adaptive filters, no interlace
    std::string png = "\x89PNG\r\n\x1a\n";
    png_chunk(png, "IHDR", header);
    png_chunk(png, "IDAT", packed);
    png_chunk(png, "IEND", "");
    return png;
}

}  // namespace

std::string heat_maps_svg(const std::string& title, const std::vector<HeatMap>& maps, double size, const std::vector<std::string>& notes) {
    constexpr double margin = 30, top = 60, spacing = 30, line = 18;
    const double width = 2 * margin + static_cast<double>(maps.size()) * size + static_cast<double>(maps.size() - 1) * spacing;
    const double height = top + size + 30 + line * static_cast<double>(notes.size()) + 20;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", width) + "\" height=\"" + fmt("%.0f", height) +
                      "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += "<text x=\"" + fmt("%.0f", margin) + "\" y=\"25\" font-weight=\"bold\" font-size=\"14\">" + escape(title) + "</text>\n";
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const double x = margin + static_cast<double>(i) * (size + spacing);
        svg += "<text x=\"" + fmt("%.0f", x) + "\" y=\"" + fmt("%.0f", top - 8) + "\">" + escape(maps[i].title) + "</text>\n";
        svg += "<image x=\"" + fmt("%.0f", x) + "\" y=\"" + fmt("%.0f", top) + "\" width=\"" + fmt("%.0f", size) + "\" height=\"" +
               fmt("%.0f", size) + "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64," +
               base64(png_of(maps[i])) + "\"/>\n";
        svg += "<rect x=\"" + fmt("%.0f", x) + "\" y=\"" + fmt("%.0f", top) + "\" width=\"" + fmt("%.0f", size) + "\" height=\"" +
               fmt("%.0f", size) + "\" fill=\"none\" stroke=\"#888\"/>\n";
    }
    for (std::size_t i = 0; i < notes.size(); ++i)
        svg += "<text x=\"" + fmt("%.0f", margin) + "\" y=\"" + fmt("%.0f", top + size + 28 + line * static_cast<double>(i)) +
               "\" fill=\"#333\">" + escape(notes[i]) + "</text>\n";
    return svg + "</svg>\n";
}

std::string plot_svg(const std::vector<PlotSeries>& runs, const std::string& x_label, const std::string& metric) {
    struct Curves {
        std::vector<Point> train_loss, train_acc, val_loss, val_acc;
    };
    std::vector<Curves> curves(runs.size());
    Range steps, loss, accuracy;
    for (std::size_t r = 0; r < runs.size(); ++r)
        for (std::size_t i = 0; i < runs[r].records.size(); ++i) {
            const MetricsRecord& m = runs[r].records[i];
            const double x = runs[r].x.empty() ? static_cast<double>(m.step) : runs[r].x[i];
            if (m.split == "train") curves[r].train_loss.push_back({x, m.loss}), curves[r].train_acc.push_back({x, m.accuracy});
            else if (m.split == "val") curves[r].val_loss.push_back({x, m.loss}), curves[r].val_acc.push_back({x, m.accuracy});
            else continue;
            steps.add(x), loss.add(m.loss), accuracy.add(m.accuracy);
        }
    steps.lo = std::min(steps.lo, 0.0);
    accuracy.lo = std::min(accuracy.lo, 0.0), accuracy.hi = std::max(accuracy.hi, 0.0);
    const Panel left(margin_l, "loss", x_label, steps, loss), right(margin_l + panel_w + gap, metric, x_label, steps, accuracy);
    const double width = margin_l + 2 * panel_w + gap + 20;
    const double height = margin_t + panel_h + margin_b + 20.0 * static_cast<double>(runs.size()) + 30;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", width) + "\" height=\"" + fmt("%.0f", height) +
                      "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += left.frame("%g") + right.frame("%.2f");
    for (std::size_t r = 0; r < runs.size(); ++r) {
        const char* colour = colours[r % std::size(colours)];
        // Smoothed over 2% of the run's points: runs of fewer than 100 logged steps are drawn as logged.
        const std::size_t window = std::max<std::size_t>(1, curves[r].train_loss.size() / 50);
        const std::string smoothing = window > 1 ? " (training curve: trailing mean over " + std::to_string(window) + " logged steps)" : "";
        svg += left.line(smooth(curves[r].train_loss, window), colour, "stroke-width=\"1.2\" opacity=\"0.6\"");
        svg += right.line(smooth(curves[r].train_acc, window), colour, "stroke-width=\"1.2\" opacity=\"0.6\"");
        svg += left.line(curves[r].val_loss, colour, "stroke-width=\"2\"") + left.dots(curves[r].val_loss, colour);
        svg += right.line(curves[r].val_acc, colour, "stroke-width=\"2\"") + right.dots(curves[r].val_acc, colour);
        const double y = margin_t + panel_h + margin_b + 20.0 * static_cast<double>(r) + 10;
        svg += "<rect x=\"" + fmt("%.0f", margin_l) + "\" y=\"" + fmt("%.0f", y - 9) + "\" width=\"14\" height=\"10\" fill=\"" + colour +
               "\"/><text x=\"" + fmt("%.0f", margin_l + 20) + "\" y=\"" + fmt("%.0f", y) + "\">" + escape(runs[r].label) + smoothing + "</text>\n";
    }
    const double note_y = margin_t + panel_h + margin_b + 20.0 * static_cast<double>(runs.size()) + 15;
    svg += "<text x=\"" + fmt("%.0f", margin_l) + "\" y=\"" + fmt("%.0f", note_y) +
           "\" fill=\"#555\">thin: training; thick with dots: validation</text>\n</svg>\n";
    return svg;
}

}  // namespace nyx::train
