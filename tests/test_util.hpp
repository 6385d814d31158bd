#pragma once
// Helpers shared by the test files.
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

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

// An attention mask [B, n] with the last `padding` positions of every sequence padded.
inline nyx::Tensor mask_with_padding(std::int64_t batch, std::int64_t n, std::int64_t padding, nyx::DType dtype = nyx::f64) {
    nyx::Tensor mask = nyx::ones({batch, n}, dtype);
    if (padding > 0) mask.narrow(1, n - padding, padding).zero_();
    return mask;
}

// `inputs` followed by the module's parameters: what a gradcheck through a module checks.
inline std::vector<nyx::Tensor> with(std::vector<nyx::Tensor> inputs, const nyx::nn::Module& module) {
    for (const nyx::Tensor& p : module.parameters()) inputs.push_back(p);
    return inputs;
}

// A fresh, empty folder for one test's files (named with the process id: tests may run at once).
inline std::filesystem::path scratch_folder(const std::string& name) {
    const auto folder = std::filesystem::temp_directory_path() / ("nyx-test-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(folder);
    std::filesystem::create_directories(folder);
    return folder;
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The process's resident memory now, from /proc/self/statm (0 where there is none).
inline std::size_t current_rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// The seeds of the tests whose verdict rests on training (a majority of them must learn):
// 1, 2 and 3, or the comma-separated list in NYX_LEARNING_SEEDS, to show that the verdict holds
// for other seeds too (tests/README.md).
inline std::vector<std::uint64_t> learning_seeds() {
    const char* text = std::getenv("NYX_LEARNING_SEEDS");
    if (!text) return {1, 2, 3};
    std::vector<std::uint64_t> seeds;
    std::stringstream list(text);
    for (std::string item; std::getline(list, item, ',');) {
        std::uint64_t seed = 0;
        const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), seed);
        REQUIRE_MESSAGE((error == std::errc() && end == item.data() + item.size() && !item.empty()),
                        "NYX_LEARNING_SEEDS=\"", text, "\" is not a comma-separated list of seeds (\"", item, "\")");
        seeds.push_back(seed);
    }
    REQUIRE_MESSAGE(!seeds.empty(), "NYX_LEARNING_SEEDS holds no seed");
    return seeds;
}

// Built with sanitizers (NYX_SANITIZE): the slowest tests take a smaller size, never a skip.
#ifdef NYX_TESTS_SANITIZED
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
