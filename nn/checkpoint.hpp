#pragma once
// Checkpoints in the safetensors format (core/safetensors.hpp: atomic writes, validated reads).
//   - save_weights / load_weights: a model's state_dict.
//   - save_training_state / load_training_state: everything a run needs to continue exactly where
//     it stopped: the weights ("model/..."), the optimizer's state ("optimizer/<parameter>:<slot>"),
//     and in the metadata the step, the schedule's position, the learning rate and the position of
//     the generator that drives dropout.
#include <nyx/core/random.hpp>
#include <nyx/core/safetensors.hpp>

#include "optim.hpp"

namespace nyx::nn {

void save_weights(const std::string& path, const Module& model);
void load_weights(const std::string& path, Module& model, bool strict = true);

// `schedule` may be null (a constant learning rate).
void save_training_state(const std::string& path, std::int64_t step, const Module& model, const optim::Optimizer& optimizer,
                         const optim::LRScheduler* schedule, const Generator& generator);
// Restores all of it and returns the step at which it was saved.
std::int64_t load_training_state(const std::string& path, Module& model, optim::Optimizer& optimizer,
                                 optim::LRScheduler* schedule, Generator& generator);

}  // namespace nyx::nn
