#pragma once
// Whole-file reads and crash-safe writes, shared by every reader and writer in nyx.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nyx::io {

// A regular file (or a symbolic link to one) open for reading, and its size when it was opened.
struct ReadableFile {
    int fd = -1;  // the caller closes it
    std::uint64_t size = 0;
};
// Opens `path` for reading. Anything but a regular file (a FIFO, a device such as /dev/zero, a
// directory, a socket) is refused with an Error naming it and what it is, before any read could
// block or never end: the type is checked before opening, and again on the open descriptor.
ReadableFile open_regular_file(const std::string& path);

// The file's bytes, at most the size it had when opened (a file that grows meanwhile is not
// followed); a file that cannot be opened or read, or is not a regular file, is an Error naming it.
std::vector<unsigned char> read_file(const std::string& path);

// The bytes `path` inflates to, read with zlib: a gzip'd file, or a plain one as it is. More than
// `max_bytes` is refused, not buffered ("decompresses to more than N MiB; not <what>"); a corrupt or
// truncated stream is an Error naming the file and zlib's message.
std::vector<unsigned char> read_gzip_file(const std::string& path, std::size_t max_bytes, std::string_view what);

// The same as text, without a leading UTF-8 byte-order mark (EF BB BF, which some editors write
// at the start of a file): every text reader of nyx reads through this.
std::string read_text_file(const std::string& path);

// Calls visit(line_number, line) for each line of `text` (numbered from 1, without its "\n" or
// "\r\n"), empty lines included.
void for_each_line(std::string_view text, const std::function<void(std::int64_t, std::string_view)>& visit);

// The first key that one object of the JSON `text` holds twice, if any (a JSON library keeps the
// last value silently, so a file edited by hand could say two things). Invalid JSON has none:
// parsing it afterwards reports the error.
std::optional<std::string> repeated_json_key(std::string_view text);

// Writes `bytes` to a new temporary file beside `path`, syncs it and renames it over `path`:
// a reader sees the old file or the whole new one, never a part; on failure nothing is left behind.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Flushes what was written to `path` (through any descriptor) to the disk (fsync).
void sync_file(const std::string& path);

}  // namespace nyx::io
