#include "pathfinder.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <random>

#include <nyx/core/parallel.hpp>

namespace nyx::data {
namespace {

// Uniform in [0, 1) from the generator's raw 64 bits (the standard's distributions are not
// specified bit for bit; this is).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

struct Contour {
    std::vector<std::array<std::int64_t, 2>> pixels;
    std::array<std::array<std::int64_t, 2>, 2> ends{};  // the first dash's start and the last dash's end
};

// One contour inside the image, or nothing when the drawn path left it.
std::optional<Contour> draw_contour(const PathfinderOptions& o, std::mt19937_64& rng) {
    const double side = static_cast<double>(o.side), max_turn = o.max_turn_degrees * std::numbers::pi / 180;
    double r = 1 + uniform(rng) * (side - 2), c = 1 + uniform(rng) * (side - 2), heading = uniform(rng) * 2 * std::numbers::pi;
    Contour contour;
    auto pixel = [&](double pr, double pc) -> std::optional<std::array<std::int64_t, 2>> {
        const auto ir = static_cast<std::int64_t>(std::lround(pr)), ic = static_cast<std::int64_t>(std::lround(pc));
        if (ir < 1 || ic < 1 || ir >= o.side - 1 || ic >= o.side - 1) return std::nullopt;  // room for a circle
        return std::array<std::int64_t, 2>{ir, ic};
    };
    for (std::int64_t dash = 0; dash < o.dashes; ++dash) {
        if (dash > 0) heading += (2 * uniform(rng) - 1) * max_turn;
        const double dr = std::sin(heading), dc = std::cos(heading);
        const auto steps = static_cast<std::int64_t>(4 * o.dash_length);  // quarter-pixel steps
        for (std::int64_t s = 0; s <= steps; ++s) {
            const auto p = pixel(r + dr * static_cast<double>(s) / 4, c + dc * static_cast<double>(s) / 4);
            if (!p) return std::nullopt;
            if (contour.pixels.empty() || contour.pixels.back() != *p) contour.pixels.push_back(*p);
            if (dash == 0 && s == 0) contour.ends[0] = *p;
        }
        r += dr * static_cast<double>(o.dash_length), c += dc * static_cast<double>(o.dash_length);
        contour.ends[1] = contour.pixels.back();
        r += dr * static_cast<double>(o.gap), c += dc * static_cast<double>(o.gap);
    }
    return contour;
}

// The components of the drawn pixels (> 0), two pixels linked when their Chebyshev distance is at
// most `reach`: a component number per pixel, -1 for the background.
std::vector<int> components(const std::vector<std::uint8_t>& pixels, std::int64_t side, std::int64_t reach) {
    std::vector<int> id(pixels.size(), -1);
    int next = 0;
    std::vector<std::int64_t> stack;
    for (std::int64_t start = 0; start < side * side; ++start) {
        if (!pixels[static_cast<std::size_t>(start)] || id[static_cast<std::size_t>(start)] >= 0) continue;
        id[static_cast<std::size_t>(start)] = next;
        stack.assign(1, start);
        while (!stack.empty()) {
            const std::int64_t r = stack.back() / side, c = stack.back() % side;
            stack.pop_back();
            for (std::int64_t nr = std::max<std::int64_t>(0, r - reach); nr <= std::min(side - 1, r + reach); ++nr)
                for (std::int64_t nc = std::max<std::int64_t>(0, c - reach); nc <= std::min(side - 1, c + reach); ++nc) {
                    const auto at = static_cast<std::size_t>(nr * side + nc);
                    if (pixels[at] && id[at] < 0) id[at] = next, stack.push_back(nr * side + nc);
                }
        }
        ++next;
    }
    return id;
}

SequenceDataset images(const PathfinderOptions& o, std::uint64_t first, std::int64_t count, std::string name) {
    std::vector<Sequence> examples(static_cast<std::size_t>(count));
    parallel_for(0, count, 16, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
            PathfinderImage image = draw_pathfinder(o, first + static_cast<std::uint64_t>(i));
            examples[static_cast<std::size_t>(i)] = Sequence{{image.pixels.begin(), image.pixels.end()}, image.connected ? 1 : 0};
        }
    });
    return SequenceDataset(std::move(name), std::move(examples), 256, 2, 1, {"not connected", "connected"});
}

}  // namespace

PathfinderImage draw_pathfinder(const PathfinderOptions& o, std::uint64_t index) {
    NYX_CHECK(o.side >= 8 && o.side <= 128 && o.dashes >= 1 && o.dashes <= 64 && o.distractors >= 0 && o.distractors <= 32 &&
                  o.dash_length >= 1 && o.dash_length <= o.side && o.gap >= 1 && o.gap <= o.side && o.max_turn_degrees >= 0 &&
                  o.max_turn_degrees <= 180,
              "pathfinder: options out of range (side 8..128, dashes 1..64, distractors 0..32, dash_length and gap 1..side, "
              "max_turn_degrees 0..180)");
    std::mt19937_64 rng(mix_seed(o.seed, index));
    PathfinderImage image;
    image.connected = uniform(rng) < 0.5;
    const std::int64_t contours = 2 + o.distractors;
    for (int attempt = 0; attempt < 2000; ++attempt) {
        std::vector<Contour> drawn;
        for (std::int64_t k = 0; k < contours; ++k) {
            std::optional<Contour> contour;
            for (int tries = 0; tries < 100 && !contour; ++tries) contour = draw_contour(o, rng);
            if (!contour) break;
            drawn.push_back(std::move(*contour));
        }
        if (static_cast<std::int64_t>(drawn.size()) < contours) continue;
        image.pixels.assign(static_cast<std::size_t>(o.side * o.side), 0);
        for (const Contour& contour : drawn)
            for (const auto& [r, c] : contour.pixels) image.pixels[static_cast<std::size_t>(r * o.side + c)] = 255;
        const std::size_t end_a = uniform(rng) < 0.5 ? 0 : 1, end_b = uniform(rng) < 0.5 ? 0 : 1;
        image.circles = {drawn[0].ends[end_a], image.connected ? drawn[0].ends[1 - end_a] : drawn[1].ends[end_b]};
        for (const auto& [r, c] : image.circles)
            for (std::int64_t dr = -1; dr <= 1; ++dr)
                for (std::int64_t dc = -1; dc <= 1; ++dc) image.pixels[static_cast<std::size_t>((r + dr) * o.side + c + dc)] = 255;
        // Each contour one component of its own, for both labels alike: a contour broken at a gap,
        // or two that touch, and the image is drawn again.
        const std::vector<int> id = components(image.pixels, o.side, o.gap + 1);
        std::vector<int> contour_ids;
        bool apart = true;
        for (const Contour& contour : drawn) {
            const int own = id[static_cast<std::size_t>(contour.pixels[0][0] * o.side + contour.pixels[0][1])];
            for (const auto& [r, c] : contour.pixels) apart = apart && id[static_cast<std::size_t>(r * o.side + c)] == own;
            apart = apart && std::find(contour_ids.begin(), contour_ids.end(), own) == contour_ids.end();
            contour_ids.push_back(own);
        }
        if (apart) return image;
    }
    throw Error(detail::cat("pathfinder: no image with ", contours, " contours of ", o.dashes, " dashes fits a ", o.side, " × ", o.side,
                            " image apart; use fewer or shorter contours, or a larger side"));
}

PathfinderSplits generate_pathfinder(const PathfinderOptions& o) {
    NYX_CHECK(o.train_size >= 0 && o.val_size >= 0 && o.test_size >= 0, "pathfinder: split sizes must be >= 0");
    const auto train = static_cast<std::uint64_t>(o.train_size), val = static_cast<std::uint64_t>(o.val_size);
    return {images(o, 0, o.train_size, "pathfinder-train"), images(o, train, o.val_size, "pathfinder-val"),
            images(o, train + val, o.test_size, "pathfinder-test")};
}

}  // namespace nyx::data
