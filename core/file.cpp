#include "file.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "error.hpp"

namespace nyx::io {

std::vector<unsigned char> read_file(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    NYX_CHECK(file, path, ": cannot open: ", std::strerror(errno));
    std::vector<unsigned char> bytes;
    unsigned char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) bytes.insert(bytes.end(), buffer, buffer + n);
    const bool failed = std::ferror(file);
    std::fclose(file);
    NYX_CHECK(!failed, path, ": read error");
    return bytes;
}

void for_each_line(std::string_view text, const std::function<void(std::int64_t, std::string_view)>& visit) {
    std::size_t start = 0;
    for (std::int64_t line_number = 1; start < text.size(); ++line_number) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        visit(line_number, line);
    }
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    // A temporary name of this process and call, created exclusively: two writes never share one.
    static std::atomic<std::uint64_t> writes{0};
    const std::string temporary = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(writes++);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    NYX_CHECK(fd >= 0, "cannot create ", temporary, ": ", std::strerror(errno));
    std::size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int error = n < 0 ? errno : ENOSPC;
            ::close(fd);
            ::unlink(temporary.c_str());
            throw Error(detail::cat("writing ", temporary, " failed: ", std::strerror(error)));
        }
        written += static_cast<std::size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    const bool closed = ::close(fd) == 0;
    if (!synced || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        throw Error(detail::cat("cannot complete ", path, ": ", std::strerror(error)));
    }
    // Make the rename itself durable (best effort: some file systems refuse fsync on a folder).
    const std::string directory = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
    if (const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

}  // namespace nyx::io
