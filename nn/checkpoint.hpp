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

// `metadata` is stored beside the tensors (a run's configuration, say; io::load_safetensors reads it).
void save_weights(const std::string& path, const Module& model, const io::Metadata& metadata = {});
// Reads a weights file, or the model's part of a training-state file.
void load_weights(const std::string& path, Module& model, bool strict = true);

// `schedule` may be null (a constant learning rate). `metadata` may not reuse the keys this
// function writes (format, step, schedule_position, lr, rng_seed, rng_offset).
void save_training_state(const std::string& path, std::int64_t step, const Module& model, const optim::Optimizer& optimizer,
                         const optim::LRScheduler* schedule, const Generator& generator, const io::Metadata& metadata = {});
// Restores all of it and returns the step at which it was saved. With a schedule the learning rate
// is the schedule's at the saved position, so a schedule planned over more steps than the saved one
// (a longer run) takes over at once; without one it is the saved rate.
std::int64_t load_training_state(const std::string& path, Module& model, optim::Optimizer& optimizer,
                                 optim::LRScheduler* schedule, Generator& generator);

// The same from a file already read (io::parse_safetensors): data-parallel training reads it on
// one rank and broadcasts the bytes to the others. `source` names it in errors.
void load_weights(const io::Safetensors& file, const std::string& source, Module& model, bool strict = true);
std::int64_t load_training_state(const io::Safetensors& file, const std::string& source, Module& model, optim::Optimizer& optimizer,
                                 optim::LRScheduler* schedule, Generator& generator);

}  // namespace nyx::nn
