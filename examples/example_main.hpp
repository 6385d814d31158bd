#pragma once
// The `main` that the training examples share. Each takes two flags, `--steps N` and `--seed S`,
// and runs `run(N, S)` (the example's own defaults for a flag not given). The seed drives the
// initial weights and the data, so that anyone can see that an example's verdict does not rest on
// one lucky seed. Exit status: run's own (0 when the example's check passed, 1 when it failed), 1
// after an error (nyx::Error, or a filesystem error), and 2 after printing the usage when the
// command line is anything else.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <system_error>

// The whole of `text` as a number of type T, at least `least`.
template <class T>
bool parse_number(const char* text, T least, T& value) {
    const char* end = text + std::strlen(text);
    const auto [stop, error] = std::from_chars(text, end, value);
    return error == std::errc() && stop == end && stop != text && value >= least;
}

inline int example_main(int argc, char** argv, int default_steps, std::uint64_t default_seed,
                        int (*run)(int steps, std::uint64_t seed)) {
    int steps = default_steps;
    std::uint64_t seed = default_seed;
    bool ok = argc % 2 == 1;
    for (int i = 1; ok && i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--steps") == 0) ok = parse_number(argv[i + 1], 1, steps);
        else if (std::strcmp(argv[i], "--seed") == 0) ok = parse_number<std::uint64_t>(argv[i + 1], 0, seed);
        else ok = false;
    }
    if (!ok) {
        std::fprintf(stderr, "usage: %s [--steps N] [--seed S]   (N >= 1, default %d; S >= 0, default %llu)\n", argv[0],
                     default_steps, static_cast<unsigned long long>(default_seed));
        return 2;
    }
    try {
        return run(steps, seed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
