#pragma once
// Internal to models/ and nyx-train (it needs nlohmann-json, which the library's public headers do
// not): JSON text read strictly, for configurations a user may have edited or damaged.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nyx::models {

// `text` parsed as JSON, keys kept in file order (so an error can name the first unknown key as
// it appears in the file). Throws nyx::Error naming `source` for a NUL byte (the parser would stop
// there and accept what came before), for text that is not JSON, and for a key that appears twice
// in one object (which value was meant is unclear).
nlohmann::ordered_json parse_json_text(std::string_view text, const std::string& source);

}  // namespace nyx::models
