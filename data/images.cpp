#include "images.hpp"

#include <nyx/core/file.hpp>

namespace nyx::data {
namespace {

// More than any IDX dataset nyx reads; a file that inflates past it is refused, not buffered.
constexpr std::size_t max_idx_bytes = std::size_t{1} << 30;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

IdxArray read_idx(const std::string& path) {
    const std::vector<unsigned char> bytes = io::read_gzip_file(path, max_idx_bytes, "an IDX file nyx reads");
    NYX_CHECK(bytes.size() >= 4, path, ": ", bytes.size(), " bytes, too short for an IDX header");
    NYX_CHECK(bytes[0] == 0 && bytes[1] == 0, path, ": bad magic number (the first two bytes must be 0); not an IDX file");
    NYX_CHECK(bytes[2] == 0x08, path, ": the IDX element type is 0x", std::hex, int{bytes[2]}, std::dec,
              "; nyx reads unsigned bytes (0x08) only");
    const std::size_t rank = bytes[3];
    NYX_CHECK(rank >= 1, path, ": an IDX array of rank 0");
    const std::size_t header = 4 + 4 * rank;
    NYX_CHECK(bytes.size() >= header, path, ": the header promises ", rank, " dimensions but the file ends after ", bytes.size(), " bytes");
    IdxArray array;
    std::size_t count = 1;
    for (std::size_t d = 0; d < rank; ++d) {
        const std::uint32_t size = big_endian_u32(bytes.data() + 4 + 4 * d);
        array.dims.push_back(size);
        // Bounded by the data actually present, so the product cannot overflow.
        NYX_CHECK(size == 0 || count <= (bytes.size() - header) / size, path, ": the dimensions ask for more values than the ",
                  bytes.size() - header, " the file holds (truncated)");
        count *= size;
    }
    NYX_CHECK(bytes.size() - header == count, path, ": the dimensions promise ", count, " values but the file holds ",
              bytes.size() - header, " (", bytes.size() - header < count ? "truncated" : "trailing bytes", ")");
    array.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return array;
}

SequenceDataset images_to_dataset(std::string name, const IdxArray& images, const IdxArray& labels, std::int64_t classes, std::int64_t patch) {
    NYX_CHECK(images.dims.size() == 3, name, ": images must be a rank-3 IDX array [count, rows, cols], got rank ", images.dims.size());
    NYX_CHECK(labels.dims.size() == 1, name, ": labels must be a rank-1 IDX array, got rank ", labels.dims.size());
    const std::int64_t count = images.dims[0], rows = images.dims[1], cols = images.dims[2];
    NYX_CHECK(labels.dims[0] == count, name, ": ", count, " images but ", labels.dims[0], " labels");
    NYX_CHECK(count >= 1, name, ": the file holds no images");
    NYX_CHECK(rows >= 1 && cols >= 1 && rows <= 65536 && cols <= 65536 && rows * cols <= 65536, name, ": images of ", rows, "x", cols,
              " pixels; nyx takes 1 to 65536 per image");
    NYX_CHECK(patch >= 0 && (patch == 0 || (rows % patch == 0 && cols % patch == 0)), name, ": the patch size ", patch,
              " does not divide the ", rows, "x", cols, " image");
    SequenceDataset d{std::move(name), {}, 256, classes, patch ? patch * patch : 1, {}};
    d.examples.resize(static_cast<std::size_t>(count));
    const std::size_t pixels = static_cast<std::size_t>(rows * cols);
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint8_t label = labels.values[static_cast<std::size_t>(i)];
        NYX_CHECK(label < classes, d.name, ": label ", int{label}, " of image ", i, " is not below ", classes);
        const std::uint8_t* image = images.values.data() + static_cast<std::size_t>(i) * pixels;
        Sequence& e = d.examples[static_cast<std::size_t>(i)];
        e.label = label;
        if (patch == 0) {
            e.tokens.assign(image, image + pixels);
            continue;
        }
        e.tokens.reserve(pixels);  // patch by patch, row-major within each patch
        for (std::int64_t pr = 0; pr < rows; pr += patch)
            for (std::int64_t pc = 0; pc < cols; pc += patch)
                for (std::int64_t r = pr; r < pr + patch; ++r)
                    for (std::int64_t c = pc; c < pc + patch; ++c) e.tokens.push_back(image[r * cols + c]);
    }
    return d;
}

ImageSplits load_fashion_mnist(const ImageOptions& options) {
    const auto load = [&](const std::string& stem, std::string name) {
        const std::string images = options.folder + "/" + stem + "-images-idx3-ubyte.gz", labels = options.folder + "/" + stem + "-labels-idx1-ubyte.gz";
        SequenceDataset d = images_to_dataset(std::move(name), read_idx(images), read_idx(labels), 10, options.patch);
        d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
        return d;
    };
    return {load("train", "fashion-mnist-train"), load("t10k", "fashion-mnist-test")};
}

}  // namespace nyx::data
