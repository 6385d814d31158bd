#pragma once
// The op table: every differentiable op, registered once with its name, which of its inputs are
// differentiable, and a generator of valid random inputs (f64; contiguous, non-contiguous,
// broadcast and edge shapes). The gradcheck suite walks it and checks every sample, and the test
// binaries refuse to record an op it does not list (check_recorded_ops), so an op whose backward
// is missing or unchecked cannot land. It is part of the tests, not of the library.
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

// From now on, recording an op that the table does not list throws, naming it, in every test of
// this process. Ops that a test defines on purpose (a deliberately wrong backward, say) are named
// "test_...". `to`, the one differentiable op outside the table, has its gradient tested exactly.
void check_recorded_ops();

}  // namespace nyx::ops
