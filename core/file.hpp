#pragma once
// Whole-file reads and crash-safe writes, shared by every reader and writer in nyx.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nyx::io {

// The file's bytes; a file that cannot be opened or read is an Error naming it.
std::vector<unsigned char> read_file(const std::string& path);

// Calls visit(line_number, line) for each line of `text` (numbered from 1, without its "\n" or
// "\r\n"), empty lines included.
void for_each_line(std::string_view text, const std::function<void(std::int64_t, std::string_view)>& visit);

// Writes `bytes` to a new temporary file beside `path`, syncs it and renames it over `path`:
// a reader sees the old file or the whole new one, never a part; on failure nothing is left behind.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace nyx::io
