#pragma once
// The `main` that the training examples share. Each takes one flag, `--steps N`, and runs
// `run(N)` (or `run(fallback)` without the flag). Exit status: run's own (0 when the example's
// check passed, 1 when it failed), 1 after an error (nyx::Error, or a filesystem error), and 2 after
// printing the usage when the command line is anything else.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <system_error>

inline int example_main(int argc, char** argv, int fallback, int (*run)(int steps)) {
    int steps = fallback;
    if (argc != 1) {
        bool ok = argc == 3 && std::strcmp(argv[1], "--steps") == 0;
        if (ok) {  // the whole argument a number in range, and N >= 1
            const char* end = argv[2] + std::strlen(argv[2]);
            const auto [stop, error] = std::from_chars(argv[2], end, steps);
            ok = error == std::errc() && stop == end && steps >= 1;
        }
        if (!ok) {
            std::fprintf(stderr, "usage: %s [--steps N]   (N >= 1; default %d)\n", argv[0], fallback);
            return 2;
        }
    }
    try {
        return run(steps);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
