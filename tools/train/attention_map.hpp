#pragma once
// nyx-train attention-map: one head's attention matrix in a trained Nyström run, drawn as an SVG of
// three heat maps for one input: exact softmax attention of the run's own queries and keys, the
// Nyström approximation the model computes (its factors F·Z·B, nn::NystromFactors), and their
// difference. Both n×n matrices are built, so the input is at most 2,048 positions.
#include <cstdint>
#include <string>

namespace nyx::train {

struct AttentionMapOptions {
    std::string target;  // a run directory (its best checkpoint) or a checkpoint file
    std::string input;  // text of the run's task (a ListOps expression, or text); empty: an example
    std::string split = "test";
    std::int64_t example = 0;  // the example of `split`, when there is no input
    std::int64_t layer = 0, head = 0;
    std::string output;  // empty: attention-map-layerL-headH.svg beside the checkpoint
    std::int64_t threads = 0;
};

// Writes the SVG (atomically) and prints where, with the largest difference; returns 0. Usage
// errors (a run of another attention, a layer, head or example out of range, an input too long
// or of a task without a text form) name what to give instead.
int draw_attention_map(const AttentionMapOptions& options);

}  // namespace nyx::train
