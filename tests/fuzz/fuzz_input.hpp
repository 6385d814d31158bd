#pragma once
// Shared by the fuzz targets. libFuzzer hands each target bytes; the readers under test take paths,
// so the bytes go to one scratch file per process first (in /dev/shm when there is one).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace nyx::fuzz {

inline std::string as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
    static const std::string path = [&] {
        const char* tmp = std::getenv("TMPDIR");
        const std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : tmp ? tmp : "/tmp";
        return dir + "/nyx-fuzz-" + std::to_string(getpid()) + suffix;
    }();
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
}

// A property the reader promised and broke: libFuzzer saves the input that did it.
inline void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz property broken: %s\n", what);
    std::abort();
}

}  // namespace nyx::fuzz
