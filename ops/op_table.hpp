#pragma once
// The op table: every differentiable op, registered once with its name, which of its inputs are
// differentiable, and a generator of valid random inputs (f64; contiguous, non-contiguous,
// broadcast and edge shapes). The gradcheck suite walks it and checks every sample, so an op
// whose backward is missing or wrong cannot land.
#include <string>
#include <vector>

#include <nyx/autograd/gradcheck.hpp>
#include <nyx/core/random.hpp>

namespace nyx::ops {

struct OpSample {
    std::string label;           // what the sample exercises, e.g. "broadcast [3, 1] + [4]"
    std::vector<Tensor> inputs;  // f64 leaves, not yet requiring grad
    TensorFunction call;         // the op with this sample's non-tensor arguments bound
};

struct OpInfo {
    std::string name;                // as recorded on the tape
    std::vector<bool> differentiable;  // per input
    std::function<std::vector<OpSample>(Generator&)> samples;
};

const std::vector<OpInfo>& op_table();

}  // namespace nyx::ops
