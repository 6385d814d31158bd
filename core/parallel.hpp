#pragma once
// Threads: oneTBB is the only parallel runtime; OpenBLAS runs single-threaded inside TBB tasks
// (DESIGN.md has the measurements). One setting controls the thread count: set_num_threads(n),
// or the NYX_NUM_THREADS environment variable, default all cores.
#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace nyx {

void set_num_threads(int n);  // n >= 1
int num_threads();

namespace detail {
void ensure_thread_settings();  // applies NYX_NUM_THREADS the first time
}

// Runs body(begin, end) over [begin, end) in chunks of at least `grain` items; serially in the
// calling thread when the range is no larger than one grain (small work is not worth a task).
template <class Body>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, const Body& body) {
    detail::ensure_thread_settings();  // one atomic load once settled; NYX_NUM_THREADS is read on first use
    if (end - begin <= grain) {
        if (end > begin) body(begin, end);
        return;
    }
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(begin, end, grain),
                      [&](const tbb::blocked_range<std::int64_t>& r) { body(r.begin(), r.end()); });
}

}  // namespace nyx
