#include "parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <tbb/global_control.h>

#include "blas.hpp"
#include "error.hpp"

namespace nyx {
namespace {

std::mutex settings_mutex;
// The setting in force. It is never destroyed when the process exits: tbb::global_control's
// destructor puts TBB's default back, which throws when threads cannot be made (short of memory,
// say), and a destructor that throws aborts the process after its work is done. A setting that
// is replaced is destroyed at once (TBB obeys the smallest of the live ones).
tbb::global_control* control = nullptr;
int current_threads = 0;                       // 0 until the first setting
std::atomic<bool> settled{false};              // a setting is in force

void apply(int n) {
    auto next = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(n));
    delete control;
    control = next.release();
    current_threads = n;
    blas::use_single_thread();
    settled.store(true, std::memory_order_release);
}

int threads_from_environment() {
    const char* text = std::getenv("NYX_NUM_THREADS");
    if (!text || !*text) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    NYX_CHECK(*end == '\0' && n >= 1 && n <= 4096, "NYX_NUM_THREADS=\"", text,
              "\" is not a thread count; set it to a whole number >= 1, or unset it to use all cores");
    return static_cast<int>(n);
}

}  // namespace

namespace detail {
void ensure_thread_settings() {
    if (settled.load(std::memory_order_acquire)) return;
    std::lock_guard lock(settings_mutex);
    if (current_threads == 0) apply(threads_from_environment());
}
}  // namespace detail

void set_num_threads(int n) {
    NYX_CHECK(n >= 1, "set_num_threads: got ", n, "; the thread count must be at least 1");
    std::lock_guard lock(settings_mutex);
    apply(n);  // overrides NYX_NUM_THREADS, which is then never read
}

int num_threads() {
    detail::ensure_thread_settings();
    std::lock_guard lock(settings_mutex);
    return current_threads;
}

}  // namespace nyx
