#pragma once
// Recording is on by default; NoGradGuard turns it off for the current thread while it lives.
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

}  // namespace nyx
