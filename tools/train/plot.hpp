#pragma once
// SVG plots of runs' metrics: loss (left) and accuracy (right) against the step, the training
// curve smoothed and the validation points joined, one colour per run. Opens in any browser.
#include <string>
#include <vector>

#include "metrics.hpp"

namespace nyx::train {

struct PlotSeries {
    std::string label;  // the run's name in the legend
    std::vector<MetricsRecord> records;
};

std::string plot_svg(const std::vector<PlotSeries>& runs);

}  // namespace nyx::train
