#pragma once
// The run directory as one process holds it: locked for the life of the process, so that a second
// nyx-train on the same directory is refused (two writers would interleave metrics.jsonl and
// overwrite each other's checkpoints), and checked before each write to be still the directory it
// locked (a directory removed or replaced meanwhile would silently lose the run).
#include <string>

#include <sys/types.h>

namespace nyx::train {

class RunDirectory {
  public:
    // Creates `path` if needed and locks it: flock(2) on path/.lock, which then names this process
    // (pid and host) for whoever finds it locked. Throws, naming the holder, when another has it.
    explicit RunDirectory(std::string path);
    ~RunDirectory();  // releases the lock (so does the end of the process, however it ends)
    RunDirectory(const RunDirectory&) = delete;
    RunDirectory& operator=(const RunDirectory&) = delete;

    // Throws when `path` is no longer the directory this object locked: removed, or replaced (rm -rf
    // and mkdir), so that nothing is written into a directory that does not hold the run.
    void check_unchanged() const;

  private:
    std::string path_;
    int lock_ = -1;  // the descriptor that holds the lock
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

}  // namespace nyx::train
