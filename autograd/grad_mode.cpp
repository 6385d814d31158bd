#include "grad_mode.hpp"

#include "autocast.hpp"

#include <atomic>

namespace nyx {
namespace {
thread_local bool grad_enabled = true;
thread_local bool autocast_enabled = false;
std::atomic<bool> anomaly_enabled{false};
}  // namespace

bool is_grad_enabled() { return grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }

AutoGradMode::AutoGradMode(bool enabled) : previous_(grad_enabled) { grad_enabled = enabled; }
AutoGradMode::~AutoGradMode() { grad_enabled = previous_; }

bool is_autocast_enabled() { return autocast_enabled; }

AutocastGuard::AutocastGuard(bool enabled) : previous_(autocast_enabled) { autocast_enabled = enabled; }
AutocastGuard::~AutocastGuard() { autocast_enabled = previous_; }

void detect_anomaly(bool on) { anomaly_enabled.store(on); }
bool is_anomaly_enabled() { return anomaly_enabled.load(std::memory_order_relaxed); }

DetectAnomalyGuard::DetectAnomalyGuard(bool on) : previous_(is_anomaly_enabled()) { detect_anomaly(on); }
DetectAnomalyGuard::~DetectAnomalyGuard() { detect_anomaly(previous_); }

}  // namespace nyx
