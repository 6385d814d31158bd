#pragma once
// Image classification data as sequences: the IDX files of MNIST-style datasets (gzip'd or not,
// read with zlib and validated), and Fashion-MNIST from Debian's dataset-fashion-mnist package.
//
//     data::ImageSplits s = data::load_fashion_mnist();               // 784 pixel tokens per image
//     data::ImageSplits p = data::load_fashion_mnist({.patch = 4});   // 49 patches of 16 pixels
#include "dataset.hpp"

namespace nyx::data {

// An unsigned-byte IDX array (magic 0x00000800 | rank): its dimensions and its values, row-major.
struct IdxArray {
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> values;
};

// Reads and checks a whole IDX file: the magic number, the dimensions, and that the data is
// exactly as long as they say. Anything else is an Error naming the file and the problem.
IdxArray read_idx(const std::string& path);

struct ImageOptions {
    std::string folder = "/usr/share/datasets/fashion-mnist";
    // 0: one token per pixel (ids 0–255, the LRA Image task's form); p > 0: one position per p×p
    // patch, whose pixels become a feature vector for a linear embedding. p must divide the side.
    std::int64_t patch = 0;
};

struct ImageSplits {
    SequenceDataset train, test;
};

// images [N, rows, cols] and labels [N] with values below `classes`.
SequenceDataset images_to_dataset(std::string name, const IdxArray& images, const IdxArray& labels, std::int64_t classes, std::int64_t patch);

// train-{images-idx3,labels-idx1}-ubyte.gz and t10k-... in options.folder.
ImageSplits load_fashion_mnist(const ImageOptions& options = {});

}  // namespace nyx::data
