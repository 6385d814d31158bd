#pragma once
// SVG plots of runs' metrics: loss (left) and accuracy (right) against the step, the training
// curve smoothed and the validation points joined, one colour per run; and heat maps side by side
// (nyx-train attention-map). Each opens in any browser.
#include <cstdint>
#include <string>
#include <vector>

#include "metrics.hpp"

namespace nyx::train {

struct PlotSeries {
    std::string label;  // the run's name in the legend
    std::vector<MetricsRecord> records;
    std::vector<double> x = {};  // where each record is drawn along the x axis; empty: at its step
};

// `x_label` names the x axis ("step", or what PlotSeries::x holds), `metric` the right panel's
// figure (the records' accuracy).
std::string plot_svg(const std::vector<PlotSeries>& runs, const std::string& x_label = "step", const std::string& metric = "accuracy");

// One heat map: rows × cols values (row-major), drawn pixel for pixel as a PNG inside the SVG.
// `scale` is the value given the full colour: from white at 0 to dark red at `scale` (values are
// >= 0), or, when `diverging`, from blue at −scale through white at 0 to red at +scale.
struct HeatMap {
    std::string title;
    std::vector<double> values;
    std::int64_t rows = 0, cols = 0;
    double scale = 1;
    bool diverging = false;
};
// The maps in a row under `title`, each `size` pixels wide and tall, with `notes` as lines below.
std::string heat_maps_svg(const std::string& title, const std::vector<HeatMap>& maps, double size, const std::vector<std::string>& notes);

}  // namespace nyx::train
