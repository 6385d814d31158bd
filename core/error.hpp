#pragma once
// nyx::Error and NYX_CHECK: every public function validates its arguments and throws nyx::Error with
// the op's name, the shapes and dtypes involved, and what the caller probably meant.
#include <sstream>
#include <stdexcept>
#include <string>

namespace nyx {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}
}  // namespace detail

}  // namespace nyx

// NYX_CHECK(condition, message parts...): throws nyx::Error with the parts streamed together.
#define NYX_CHECK(condition, ...)                                          \
    do {                                                                   \
        if (!(condition)) throw ::nyx::Error(::nyx::detail::cat(__VA_ARGS__)); \
    } while (0)
