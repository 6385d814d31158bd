#pragma once
// The one flag the examples take: `--steps N`. Returns N (or `fallback` when no flag is given), or
// 0 after printing the usage when the command line is anything else.
#include <charconv>
#include <cstdio>
#include <cstring>

inline int steps_flag(int argc, char** argv, int fallback) {
    if (argc == 1) return fallback;
    int steps = 0;
    if (argc == 3 && std::strcmp(argv[1], "--steps") == 0) {
        const char* end = argv[2] + std::strlen(argv[2]);
        const auto [stop, error] = std::from_chars(argv[2], end, steps);
        if (error == std::errc() && stop == end && steps >= 1) return steps;
    }
    std::fprintf(stderr, "usage: %s [--steps N]   (N >= 1; default %d)\n", argv[0], fallback);
    return 0;
}
