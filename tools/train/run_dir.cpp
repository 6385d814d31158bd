#include "run_dir.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nyx/core/error.hpp>

namespace nyx::train {

RunDirectory::RunDirectory(std::string path) : path_(std::move(path)) {
    std::error_code error;
    std::filesystem::create_directories(path_, error);
    NYX_CHECK(!error, "cannot create the run directory ", path_, " (", error.message(), "); give a writable --run-dir");
    NYX_CHECK(::access(path_.c_str(), W_OK) == 0, "cannot write in the run directory ", path_, " (", std::strerror(errno),
              "); give a writable --run-dir, or copy the run to a writable place and resume the copy");
    const std::string lock_file = path_ + "/.lock";
    lock_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    NYX_CHECK(lock_ >= 0, "cannot open ", lock_file, " to lock the run directory: ", std::strerror(errno));
    if (::flock(lock_, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        char holder[256] = {};
        const ssize_t n = ::pread(lock_, holder, sizeof holder - 1, 0);
        std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "another process";
        while (!who.empty() && who.back() == '\n') who.pop_back();
        ::close(lock_);
        NYX_CHECK(error == EWOULDBLOCK, "cannot lock ", lock_file, ": ", std::strerror(error));
        throw Error(detail::cat(path_, " is in use by nyx-train (", who, "); wait for it to end or choose another --run-dir"));
    }
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "unknown host");
    const std::string holder = detail::cat("pid ", ::getpid(), " on ", host, "\n");
    struct stat status {};
    const bool written = ::ftruncate(lock_, 0) == 0 && ::pwrite(lock_, holder.data(), holder.size(), 0) == static_cast<ssize_t>(holder.size());
    if (!written || ::stat(path_.c_str(), &status) != 0) {
        const int error = errno;
        ::close(lock_);
        throw Error(detail::cat("cannot lock the run directory ", path_, ": ", std::strerror(error)));
    }
    device_ = status.st_dev, inode_ = status.st_ino;
}

RunDirectory::~RunDirectory() { ::close(lock_); }

void RunDirectory::check_unchanged() const {
    struct stat status {};
    const bool same = ::stat(path_.c_str(), &status) == 0 && status.st_dev == device_ && status.st_ino == inode_;
    NYX_CHECK(same, "the run directory ", path_, " was removed or replaced while the run was using it; stopping, so as not to write "
              "part of a run where its checkpoints and metrics are not");
}

}  // namespace nyx::train
