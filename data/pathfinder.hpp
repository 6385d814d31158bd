#pragma once
// A Pathfinder task (Linsley et al. 2018, "Learning long-range spatial dependencies with
// horizontal gated recurrent units"; the Long Range Arena's form: 32 × 32 images, n = 1,024 pixel
// tokens), generated here from its published description rather than downloaded.
//
// An image holds several contours, each a chain of short dashes along a smoothly turning path,
// and two circles. The label says whether the circles lie on the same contour (1) or on two
// different ones (0). The rules, all in pixels:
//   - a contour starts at a uniform point with a uniform heading; each dash is `dash_length` long,
//     then the path advances `gap` without drawing, and the heading turns by a uniform angle in
//     ±max_turn_degrees before the next dash; a contour that leaves the image is drawn again;
//   - the circles are 3 × 3 discs on contour ends: both ends of contour 0 (connected), or one end
//     of contour 0 and one of contour 1 (not connected); contours 2, 3, ... are distractors;
//   - what "connected" means, which the label must agree with: drawn pixels are linked when their
//     Chebyshev distance is at most gap + 1 (so a contour's own gaps are bridged), and the circles
//     are connected when a chain of links joins them. Every contour must be one component of its
//     own under this rule, for both labels alike (an image with a contour broken at a gap, or with
//     two contours touching, is drawn again), so the label agrees with the drawing and cannot be
//     told from whether contours touch;
//   - pixels are 0 (background) or 255 (drawn), one token each (vocabulary 256); labels are drawn
//     by a fair coin.
// Image i of a seed depends only on (seed, i): deterministic. The random numbers are the same on
// every machine (std::mt19937_64 is specified bit for bit, and only its raw output is used); the
// pixels are too as long as libm's sin and cos round alike, as glibc's do everywhere.
#include <array>
#include <cstdint>
#include <vector>

#include "dataset.hpp"

namespace nyx::data {

struct PathfinderOptions {
    std::int64_t side = 32;  // image side (LRA: 32)
    std::int64_t dashes = 5;  // dashes per contour: the difficulty (the original's 6, 9 and 14, in larger images)
    std::int64_t distractors = 1;  // contours besides the two that may carry the circles (more rarely fit apart)
    std::int64_t dash_length = 2, gap = 2;
    double max_turn_degrees = 30;
    std::int64_t train_size = 16000, val_size = 2000, test_size = 2000;
    std::uint64_t seed = 0;
};

struct PathfinderImage {
    std::vector<std::uint8_t> pixels;  // side × side, row-major
    std::array<std::array<std::int64_t, 2>, 2> circles{};  // the circles' centres, (row, column)
    bool connected = false;  // the label
};

// Image `index` of options.seed's stream, with the label a fair coin gives it. Throws nyx::Error
// when the options are out of range, or when 2,000 attempts found no image that fits (too many
// or too long contours for the side).
PathfinderImage draw_pathfinder(const PathfinderOptions& options, std::uint64_t index);

struct PathfinderSplits {
    SequenceDataset train, val, test;  // images 0.., then the next val_size, then test_size
};
PathfinderSplits generate_pathfinder(const PathfinderOptions& options);

}  // namespace nyx::data
