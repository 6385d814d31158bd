#pragma once
// Autograd's modes.
//
// Recording is on by default; NoGradGuard turns it off for the current thread while it lives, and
// AutoGradMode sets it either way.
//
// Anomaly detection is off by default. detect_anomaly(true) turns it on for every thread, as
// PyTorch's torch.autograd.set_detect_anomaly does: each op then checks its floating outputs, and
// backward() checks every gradient it computes, for NaN and ±Inf, and throws an nyx::Error naming
// the op, its record number on the tape and its input shapes. It costs one pass over every result,
// so it is for finding where a loss went non-finite, not for training runs.
namespace nyx {

bool is_grad_enabled();

class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};

// Sets recording on or off while it lives, then restores the previous setting (libtorch's
// AutoGradMode): AutoGradMode enable(true) records again inside a NoGradGuard.
class AutoGradMode {
  public:
    explicit AutoGradMode(bool enabled);
    ~AutoGradMode();
    AutoGradMode(const AutoGradMode&) = delete;
    AutoGradMode& operator=(const AutoGradMode&) = delete;

  private:
    bool previous_;
};

void detect_anomaly(bool on);
bool is_anomaly_enabled();

// Turns anomaly detection on (or off) while it lives, then restores the previous setting.
class DetectAnomalyGuard {
  public:
    explicit DetectAnomalyGuard(bool on = true);
    ~DetectAnomalyGuard();
    DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
    DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

  private:
    bool previous_;
};

}  // namespace nyx
