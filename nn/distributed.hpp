#pragma once
// Deprecated, kept for one release: include <nyx/dist/distributed.hpp> for the session and the
// collectives, and <nyx/nn/data_parallel.hpp> for DataParallel. The names are unchanged.
#pragma message("<nyx/nn/distributed.hpp> is deprecated: include <nyx/dist/distributed.hpp> and <nyx/nn/data_parallel.hpp>")
#include <nyx/dist/distributed.hpp>

#include "data_parallel.hpp"
