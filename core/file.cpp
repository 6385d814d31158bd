#include "file.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace nyx::io {
namespace {

// "a FIFO (named pipe)", ...: what a path is when it is not a regular file.
const char* file_type_name(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

void check_regular(const std::string& path, mode_t mode) {
    NYX_CHECK(S_ISREG(mode), path, " is ", file_type_name(mode), ", not a regular file");
}

}  // namespace

ReadableFile open_regular_file(const std::string& path) {
    struct stat status {};
    NYX_CHECK(::stat(path.c_str(), &status) == 0, path, ": cannot open: ", std::strerror(errno));
    check_regular(path, status.st_mode);  // before open(), which may block (a FIFO) or act (a device)
    // Non-blocking, in case the path changed since: a FIFO opens at once and is refused below.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    NYX_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
    try {
        NYX_CHECK(::fstat(fd, &status) == 0, path, ": cannot open: ", std::strerror(errno));
        check_regular(path, status.st_mode);
        NYX_CHECK(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0, path, ": cannot open: ", std::strerror(errno));
    } catch (...) {
        ::close(fd);
        throw;
    }
    return {fd, static_cast<std::uint64_t>(status.st_size)};
}

std::vector<unsigned char> read_file(const std::string& path) {
    const ReadableFile file = open_regular_file(path);
    std::vector<unsigned char> bytes;
    int error = 0;
    try {
        bytes.resize(file.size);
        std::size_t done = 0;
        while (done < bytes.size()) {  // never more than the size stat reported
            const ssize_t n = ::read(file.fd, bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) error = errno;
            if (n <= 0) break;  // an error, or the file shrank
            done += static_cast<std::size_t>(n);
        }
        bytes.resize(done);
    } catch (...) {
        ::close(file.fd);
        throw;
    }
    ::close(file.fd);
    NYX_CHECK(error == 0, path, ": read error: ", std::strerror(error));
    return bytes;
}

std::vector<unsigned char> read_gzip_file(const std::string& path, std::size_t max_bytes, std::string_view what) {
    const ReadableFile opened = open_regular_file(path);  // refuses a FIFO or a device by name
    gzFile file = gzdopen(opened.fd, "rb");  // also reads a file that is not compressed
    if (!file) ::close(opened.fd);
    NYX_CHECK(file, path, ": cannot open: ", std::strerror(errno));
    std::vector<unsigned char> bytes;
    unsigned char buffer[1 << 16];
    for (;;) {
        const int n = gzread(file, buffer, sizeof buffer);
        if (n < 0) {
            int code = 0;
            const std::string message = gzerror(file, &code);
            gzclose(file);
            throw Error(detail::cat(path, ": the file is corrupt (zlib: ", message, ")"));
        }
        if (n == 0) break;
        if (bytes.size() + static_cast<std::size_t>(n) > max_bytes) {
            gzclose(file);
            throw Error(detail::cat(path, ": decompresses to more than ", max_bytes >> 20, " MiB; not ", what));
        }
        bytes.insert(bytes.end(), buffer, buffer + n);
    }
    int code = 0;
    const std::string message = gzerror(file, &code);
    gzclose(file);
    // A gzip stream cut short reads as a clean end on some zlib versions: gzerror tells.
    NYX_CHECK(code == Z_OK || code == Z_STREAM_END, path, ": the file is truncated or corrupt (zlib: ", message, ")");
    return bytes;
}

std::string read_text_file(const std::string& path) {
    const std::vector<unsigned char> bytes = read_file(path);
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    const auto* first = reinterpret_cast<const char*>(bytes.data());
    std::string_view text(first, bytes.size());
    if (text.starts_with(bom)) text.remove_prefix(bom.size());
    return std::string(text);  // one copy, without the mark
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

std::optional<std::string> repeated_json_key(std::string_view text) {
    // Parsed as events, with each open object's keys in a set as they come.
    struct KeyChecker : nlohmann::json_sax<nlohmann::json> {
        std::vector<std::unordered_set<std::string>> open_objects;
        std::optional<std::string> repeated;
        bool null() override { return true; }
        bool boolean(bool) override { return true; }
        bool number_integer(number_integer_t) override { return true; }
        bool number_unsigned(number_unsigned_t) override { return true; }
        bool number_float(number_float_t, const string_t&) override { return true; }
        bool string(string_t&) override { return true; }
        bool binary(binary_t&) override { return true; }
        bool start_object(std::size_t) override { return open_objects.emplace_back(), true; }
        bool end_object() override { return open_objects.pop_back(), true; }
        bool start_array(std::size_t) override { return true; }
        bool end_array() override { return true; }
        bool key(string_t& key) override {
            if (open_objects.back().insert(key).second) return true;
            repeated = key;
            return false;  // stops the parse
        }
        bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
    } checker;
    nlohmann::json::sax_parse(text, &checker);
    return checker.repeated;
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

void sync_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    NYX_CHECK(fd >= 0, "cannot open ", path, " to sync it: ", std::strerror(errno));
    const int error = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    NYX_CHECK(error == 0, "cannot sync ", path, " to the disk: ", std::strerror(error));
}

}  // namespace nyx::io
