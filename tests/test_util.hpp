#pragma once
// Helpers shared by the test files.
#include <string>

#include <doctest/doctest.h>

#include <nyx/nyx.hpp>

// Checks that `expression` throws nyx::Error whose message contains every one of `parts`.
#define CHECK_ERROR_CONTAINS(expression, ...)                                                  \
    do {                                                                                       \
        std::string message_;                                                                  \
        try {                                                                                  \
            (void)(expression);                                                                \
        } catch (const nyx::Error& e) {                                                        \
            message_ = e.what();                                                               \
        }                                                                                      \
        INFO("message: ", message_);                                                           \
        CHECK_MESSAGE(!message_.empty(), "expected a nyx::Error from " #expression);           \
        for (const std::string& part_ : {__VA_ARGS__})                                         \
            CHECK_MESSAGE(message_.find(part_) != std::string::npos, "missing \"", part_, "\""); \
    } while (0)

inline std::vector<double> values(const nyx::Tensor& t) { return t.to_vector(); }
