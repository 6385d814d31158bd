// core: the Tensor, its views and strides, broadcasting, factories, printing, the RNG, the allocator.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <thread>

#include <sys/stat.h>

#include "test_util.hpp"

using namespace nyx;

TEST_SUITE("core") {

TEST_CASE("factories make the shapes, dtypes and values asked for") {
    CHECK(values(zeros({2, 3})) == std::vector<double>(6, 0.0));
    CHECK(values(ones({2}, f64)) == std::vector<double>{1, 1});
    CHECK(values(full({2, 2}, 2.5)) == std::vector<double>(4, 2.5));
    CHECK(values(arange(4)) == std::vector<double>{0, 1, 2, 3});
    CHECK(values(arange(1, 2, 0.25, f64)) == std::vector<double>{1, 1.25, 1.5, 1.75});
    CHECK(values(arange(3, 0, -1, i64)) == std::vector<double>{3, 2, 1});
    CHECK(values(eye(3)) == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(values(tensor({1, 2, 3, 4}, {2, 2}, i64)) == std::vector<double>{1, 2, 3, 4});
    CHECK(from_vector<std::int64_t>({4, 5}, {2}).dtype() == i64);
    CHECK(tensor({1, 2, 3}).shape() == Shape{3});
    CHECK(zeros({2, 3}).dtype() == f32);

    const Tensor s = scalar(3.5, f64);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item<double>() == 3.5);

    const Tensor e = zeros({0, 3});
    CHECK(e.numel() == 0);
    CHECK(e.strides() == Shape{3, 1});
    CHECK(values(e).empty());
}

TEST_CASE("storage is 64-byte aligned and strides are row-major") {
    for (std::int64_t n : {1, 3, 17, 1000, 100003}) {
        const Tensor t = empty({n}, f32);
        CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
    }
    const Tensor t = zeros({2, 3, 4});
    CHECK(t.strides() == Shape{12, 4, 1});
    CHECK(t.is_contiguous());
    CHECK(t.size(-1) == 4);
}

TEST_CASE("views share storage and have the expected strides") {
    const Tensor t = arange(24).reshape({2, 3, 4});
    CHECK(t.strides() == Shape{12, 4, 1});

    const Tensor tr = t.transpose(0, 2);
    CHECK(tr.shape() == Shape{4, 3, 2});
    CHECK(tr.strides() == Shape{1, 4, 12});
    CHECK_FALSE(tr.is_contiguous());
    CHECK(tr.shares_storage(t));
    CHECK(tr.at<float>({3, 2, 1}) == t.at<float>({1, 2, 3}));

    const Tensor p = t.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Shape{1, 12, 4});

    const Tensor sl = t.slice(2, 1, 4, 2);  // columns 1 and 3
    CHECK(sl.shape() == Shape{2, 3, 2});
    CHECK(sl.strides() == Shape{12, 4, 2});
    CHECK(sl.offset() == 1);
    CHECK(values(sl.select(0, 0).select(0, 0)) == std::vector<double>{1, 3});
    CHECK(t.slice(1, -2, 100).shape() == Shape{2, 2, 4});
    CHECK(t.slice(1, 5, 9).shape() == Shape{2, 0, 4});

    const Tensor n = t.narrow(1, 1, 2);
    CHECK(n.shape() == Shape{2, 2, 4});
    CHECK(n.offset() == 4);

    const Tensor sel = t.select(1, -1);
    CHECK(sel.shape() == Shape{2, 4});
    CHECK(sel.offset() == 8);
    CHECK(sel.strides() == Shape{12, 1});

    const Tensor ex = tensor({1, 2, 3}, {3, 1}).expand({2, 3, 4});
    CHECK(ex.shape() == Shape{2, 3, 4});
    CHECK(ex.strides() == Shape{0, 1, 0});
    CHECK(ex.at<float>({1, 2, 3}) == 3);
    CHECK(tensor({1, 2}, {1, 2}).expand({3, -1}).shape() == Shape{3, 2});

    CHECK(zeros({3, 1, 2, 1}).squeeze().shape() == Shape{3, 2});
    CHECK(zeros({3, 1, 2}).squeeze(1).shape() == Shape{3, 2});
    CHECK(zeros({3, 2}).squeeze(1).shape() == Shape{3, 2});  // not size 1: unchanged
    CHECK(zeros({3, 2}).unsqueeze(1).shape() == Shape{3, 1, 2});
    CHECK(zeros({3, 2}).unsqueeze(1).strides() == Shape{2, 2, 1});
    CHECK(zeros({3, 2}).unsqueeze(-1).shape() == Shape{3, 2, 1});
    CHECK(zeros({3, 2}).unsqueeze(-1).strides() == Shape{2, 1, 1});
    CHECK(arange(24).reshape({2, 3, 4}).transpose(0, 2).unsqueeze(1).strides() == Shape{1, 12, 4, 12});  // PyTorch's rule
    CHECK(zeros({3, 1, 2, 1}).squeeze().strides() == Shape{2, 1});
    CHECK(t.slice(1, 0, 3, std::numeric_limits<std::int64_t>::max()).shape() == Shape{2, 1, 4});
    CHECK(scalar(1).unsqueeze(0).shape() == Shape{1});

    // Writes through a view land in the base tensor.
    Tensor base = zeros({2, 3});
    base.transpose(0, 1).at<float>({2, 1}) = 7;
    CHECK(base.at<float>({1, 2}) == 7);
}

TEST_CASE("reshape copies only when the strides force it") {
    const Tensor t = arange(12).reshape({3, 4});
    const Tensor v = t.reshape({2, 6});
    CHECK(v.shares_storage(t));
    CHECK(t.reshape({-1}).shape() == Shape{12});
    CHECK(t.view({2, -1, 3}).shape() == Shape{2, 2, 3});

    const Tensor tr = t.transpose(0, 1);  // [4, 3], not contiguous
    const Tensor flat = tr.reshape({12});
    CHECK_FALSE(flat.shares_storage(t));
    CHECK(values(flat) == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
    // A view that keeps contiguous chunks together needs no copy, even of a non-contiguous tensor.
    const Tensor cols = arange(24).reshape({4, 6}).slice(1, 0, 6, 2);  // [4, 3], stride 2
    CHECK(cols.view({2, 2, 3}).shares_storage(cols));
    CHECK_ERROR_CONTAINS(tr.view({12}), "view", "[4, 3]", "reshape()");

    CHECK(t.contiguous().is_same(t));
    CHECK(tr.contiguous().is_contiguous());
    CHECK_FALSE(t.clone().shares_storage(t));
    CHECK(values(t.clone()) == values(t));
    const Tensor d = t.to(f64);
    CHECK(d.dtype() == f64);
    CHECK(values(d) == values(t));
    CHECK(values(tensor({1.7, -2.7}).to(i64)) == std::vector<double>{1, -2});
}

TEST_CASE("broadcasting follows NumPy's rules") {
    CHECK(broadcast_shapes({3, 1}, {4}, "t") == Shape{3, 4});
    CHECK(broadcast_shapes({}, {2, 3}, "t") == Shape{2, 3});
    CHECK(broadcast_shapes({2, 1, 5}, {3, 1}, "t") == Shape{2, 3, 5});
    CHECK(broadcast_shapes({0, 1}, {1, 4}, "t") == Shape{0, 4});
    CHECK_ERROR_CONTAINS(broadcast_shapes({2, 3}, {4, 3}, "add"), "add", "[2, 3]", "[4, 3]", "do not broadcast");
    CHECK_ERROR_CONTAINS(ones({2, 3}) + ones({3, 2}), "add", "[2, 3]", "[3, 2]");
}

TEST_CASE("element access reads and writes, and checks its indices") {
    Tensor t = arange(6, f64).reshape({2, 3});
    CHECK(t.at<double>({1, 2}) == 5);
    CHECK(t.at<double>({-1, -3}) == 3);
    t.at<double>({0, 1}) = 10;
    CHECK(values(t)[1] == 10);
    CHECK(scalar(4, i64).item<std::int64_t>() == 4);
    CHECK(ones({1, 1}).item<float>() == 1);
    CHECK_ERROR_CONTAINS(t.at<double>({2, 0}), "at", "out of range", "[2, 3]");
    CHECK_ERROR_CONTAINS(t.at<double>({0}), "at", "1 indices", "[2, 3]");
    CHECK_ERROR_CONTAINS(t.at<float>({0, 0}), "f32", "f64");
    CHECK_ERROR_CONTAINS(t.item<double>(), "item", "6 elements");
    CHECK_ERROR_CONTAINS(Tensor().shape(), "undefined tensor");
}

TEST_CASE("printing follows PyTorch's style") {
    CHECK(tensor({1, 2, 3, 4, 5, 6}, {2, 3}).to_string() ==
          "tensor([[1., 2., 3.],\n        [4., 5., 6.]], shape=[2, 3], dtype=f32)");
    CHECK(tensor({0.5, -1.25}).to_string() == "tensor([ 0.5000, -1.2500], shape=[2], dtype=f32)");
    CHECK(arange(3, i64).to_string() == "tensor([0, 1, 2], shape=[3], dtype=i64)");
    CHECK(scalar(3.5, f64).to_string() == "tensor(3.5000, shape=[], dtype=f64)");
    CHECK(tensor({1e-6, 1}).to_string() == "tensor([1.0000e-06, 1.0000e+00], shape=[2], dtype=f32)");
    CHECK(zeros({0, 2}).to_string() == "tensor([], shape=[0, 2], dtype=f32)");
    CHECK(arange(8).reshape({2, 2, 2}).to_string() ==
          "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]], shape=[2, 2, 2], dtype=f32)");
    CHECK(tensor({NAN, INFINITY, 1}).to_string() == "tensor([nan, inf,  1.], shape=[3], dtype=f32)");

    const std::string long_one = arange(2000).to_string();
    CHECK(long_one == "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape=[2000], dtype=f32)");
    const std::string wide = zeros({100, 100}).to_string();
    CHECK(wide.find("...") != std::string::npos);
    CHECK(wide.size() < 400);

    Tensor w = ones({2}).requires_grad_();
    CHECK(w.to_string() == "tensor([1., 1.], shape=[2], dtype=f32, requires_grad=true)");
    CHECK((w * 2.0).to_string() == "tensor([2., 2.], shape=[2], dtype=f32, grad_fn=<mul>)");
    std::ostringstream out;
    out << scalar(2, i64);
    CHECK(out.str() == "tensor(2, shape=[], dtype=i64)");
}

TEST_CASE("Philox matches the published known-answer vectors") {
    // Random123's known-answer vector for philox4x32_10 with counter 0 and key 0.
    CHECK(philox(0, 0) == std::array<std::uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
}

TEST_CASE("the block form of Philox equals Philox counter by counter") {
    // The SIMD block draws 16 counters at once; the second start crosses a carry into the high word.
    for (const auto& [first, key] : {std::pair<std::uint64_t, std::uint64_t>{0, 0}, {0xFFFFFFFAull, 0x0123456789ABCDEFull},
                                     {~std::uint64_t{0} - 3, 42}}) {
        const PhiloxBlock block = philox_block(first, key);
        for (int l = 0; l < philox_block_size; ++l) {
            const auto w = philox(first + static_cast<std::uint64_t>(l), key);
            for (int j = 0; j < 4; ++j) CHECK(block[j][l] == w[j]);
        }
    }
}

TEST_CASE("the generator is reproducible and independent of the thread count") {
    Generator a(123), b(123), c(124);
    const Tensor x = randn({1000}, f64, a);
    CHECK(values(x) == values(randn({1000}, f64, b)));
    CHECK(values(x) != values(randn({1000}, f64, c)));
    CHECK(values(randn({1000}, f64, a)) != values(x));  // the stream moves on

    const int threads = num_threads();
    set_num_threads(1);
    Generator g1(9);
    const std::vector<double> one = values(rand({300000}, f32, g1));
    set_num_threads(2);
    Generator g2(9);
    const std::vector<double> two = values(rand({300000}, f32, g2));
    set_num_threads(threads);
    CHECK(one == two);

    manual_seed(5);
    const std::vector<double> first = values(randn({10}));
    manual_seed(5);
    CHECK(values(randn({10})) == first);
}

TEST_CASE("random numbers have the right ranges and moments") {
    Generator gen(2024);
    const std::vector<double> u = values(rand({200000}, f64, gen));
    CHECK(*std::min_element(u.begin(), u.end()) >= 0.0);
    CHECK(*std::max_element(u.begin(), u.end()) < 1.0);
    double mean = 0, square = 0;
    for (double v : values(randn({200000}, f64, gen))) mean += v, square += v * v;
    mean /= 200000, square /= 200000;
    CHECK(std::abs(mean) < 0.01);           // standard error 0.0022
    CHECK(std::abs(square - 1.0) < 0.02);   // standard error 0.0032
    const Tensor k = randint(-2, 3, {5000}, gen);
    CHECK(k.dtype() == i64);
    const std::vector<double> kv = values(k);
    CHECK(std::set<double>(kv.begin(), kv.end()) == std::set<double>{-2, -1, 0, 1, 2});
    CHECK_ERROR_CONTAINS(randint(3, 3, {1}, gen), "randint", "empty");
    CHECK_ERROR_CONTAINS(rand({2}, i64, gen), "rand", "i64", "randint");
}

TEST_CASE("the caching allocator reuses released blocks") {
    memory::empty_cache();
    const auto before = memory::stats();
    { const Tensor t = empty({1 << 20}, f32); CHECK(memory::stats().live_bytes >= before.live_bytes + (4u << 20)); }
    const auto released = memory::stats();
    CHECK(released.live_bytes == before.live_bytes);
    CHECK(released.cached_bytes >= (4u << 20));
    { const Tensor t = empty({1 << 20}, f32); CHECK(memory::stats().cached_bytes == released.cached_bytes - (4u << 20)); }
    memory::empty_cache();
    CHECK(memory::stats().cached_bytes == 0);
}

TEST_CASE("the cache stays within twice the most memory ever needed, whatever the sizes") {
    // 60 blocks from h/10 to h, 4% apart, one live at a time (h at least the most ever live, so
    // that the figures do not depend on the tests before): without eviction the cache would keep
    // them all, about 25·h.
    memory::empty_cache();
    const auto before = memory::stats();
    const double h = static_cast<double>(std::max<std::size_t>(before.high_water_bytes, 64 << 20));
    double bytes = h / 10, largest = 0;
    for (int i = 0; i < 60 && bytes <= h; ++i, bytes *= 1.04) {
        largest = bytes;
        const Tensor t = empty({static_cast<std::int64_t>(bytes / 4)}, f32);
    }
    // The most the tensors needed at once, from what this test knows: size classes round up by at most 1/8.
    const double needed = std::max(static_cast<double>(before.high_water_bytes), static_cast<double>(before.live_bytes) + largest * 1.125);
    CHECK(static_cast<double>(memory::stats().cached_bytes) <= 2 * needed);
    memory::empty_cache();
}

TEST_CASE("a repeating step is served from the cache, though its sizes together exceed its peak") {
    // Each "step" holds a block of h bytes, then two of 7/16·h (too small to take the h block):
    // a peak of h (a power of two at least the most ever live, so that this step sets the peak),
    // but 15/8·h bytes of blocks of the two sizes. Once the first step has run, later steps never go
    // to the system; a cache held to the peak would return the h block at every step. (The blocks
    // are not touched, so this costs address space, not memory.)
    memory::empty_cache();
    const auto h = static_cast<std::int64_t>(std::bit_ceil(std::max<std::size_t>(memory::stats().high_water_bytes, 64 << 20)));
    const auto step = [h] {
        { const Tensor a = empty({h / 4}, f32); }
        const Tensor b = empty({h / 4 * 7 / 16}, f32), c = empty({h / 4 * 7 / 16}, f32);
    };
    step();
    const std::size_t misses = memory::stats().misses;
    for (int i = 0; i < 5; ++i) step();
    CHECK(memory::stats().misses == misses);
    memory::empty_cache();
}

TEST_CASE("a request takes the smallest cached block within twice its size") {
    constexpr std::int64_t mb = (1 << 20) / 4;  // floats in a MiB
    memory::empty_cache();
    { const Tensor ten = empty({10 * mb}, f32), fourteen = empty({14 * mb}, f32); }  // both cached
    const auto before = memory::stats();
    {
        const Tensor eight = empty({8 * mb}, f32);  // fits both: takes the 10 MiB block
        CHECK(memory::stats().cached_bytes == before.cached_bytes - (10u << 20));
        CHECK(memory::stats().live_bytes == before.live_bytes + (8u << 20));  // counts the request, not the block
        const Tensor seven = empty({7 * mb}, f32);  // 14 MiB is exactly twice: taken
        CHECK(memory::stats().cached_bytes == before.cached_bytes - (24u << 20));
        CHECK(memory::stats().misses == before.misses);
    }
    CHECK(memory::stats().live_bytes == before.live_bytes);
    memory::empty_cache();
    { const Tensor fourteen = empty({14 * mb}, f32); }
    const std::size_t misses = memory::stats().misses;
    { const Tensor six = empty({6 * mb}, f32); }  // 14 MiB is more than twice 6: a new block
    CHECK(memory::stats().misses == misses + 1);
    memory::empty_cache();
}

TEST_CASE("NYX_NUM_THREADS sets the default thread count") {
    // ctest runs this case once with NYX_NUM_THREADS=1 (threads_from_environment); tests that
    // change the count put it back.
    const char* setting = std::getenv("NYX_NUM_THREADS");
    const int expected = setting ? std::atoi(setting) : static_cast<int>(std::thread::hardware_concurrency());
    CHECK(num_threads() == expected);
}

TEST_CASE("empty tensors work through ops and backward") {
    Tensor x = zeros({0, 3}, f64).requires_grad_();
    Tensor y = (ops::exp(x) * ones({3}, f64)).sum({0});
    CHECK(y.shape() == Shape{3});
    CHECK(values(y) == std::vector<double>{0, 0, 0});
    y.sum().backward();
    CHECK(x.grad().shape() == Shape{0, 3});
    CHECK(x.narrow(1, 1, 2).shape() == Shape{0, 2});
    CHECK(x.reshape({3, 0}).shape() == Shape{3, 0});
    CHECK(x.matmul(ones({3, 2}, f64)).shape() == Shape{0, 2});
}

TEST_CASE("read_file refuses a FIFO, a device and a directory at once, by name; a symbolic link to a file reads") {
    namespace fs = std::filesystem;
    const fs::path folder = scratch_folder("special-files");
    REQUIRE(::mkfifo((folder / "pipe").c_str(), 0600) == 0);
    CHECK_ERROR_CONTAINS(io::read_file(folder / "pipe"), "pipe is a FIFO (named pipe), not a regular file");  // open() blocked for ever
    CHECK_ERROR_CONTAINS(io::load_safetensors(folder / "pipe"), "load_safetensors", "pipe is a FIFO");
    fs::create_symlink("/dev/zero", folder / "zeros");
    CHECK_ERROR_CONTAINS(io::read_file(folder / "zeros"), "zeros is a character device, not a regular file");  // read() never ended
    CHECK_ERROR_CONTAINS(io::read_file(folder), "is a directory, not a regular file");
    CHECK_ERROR_CONTAINS(io::read_file(folder / "missing"), "missing: cannot open: No such file");
    write_bytes(folder / "file", "abc");
    fs::create_symlink(folder / "file", folder / "link");
    CHECK(io::read_file(folder / "link") == std::vector<unsigned char>{'a', 'b', 'c'});
    fs::remove_all(folder);
}

TEST_CASE("read_text_file drops a UTF-8 byte-order mark; repeated_json_key finds a key given twice in one object") {
    namespace fs = std::filesystem;
    const fs::path folder = scratch_folder("text-file");
    write_bytes(folder / "bom.txt", "\xEF\xBB\xBFlabel\ttext\n");
    CHECK(io::read_text_file(folder / "bom.txt") == "label\ttext\n");
    write_bytes(folder / "inside.txt", "a\xEF\xBB\xBF\n");  // only at the start is it a mark
    CHECK(io::read_text_file(folder / "inside.txt") == "a\xEF\xBB\xBF\n");
    fs::remove_all(folder);
    CHECK(io::repeated_json_key(R"({"a": 1, "b": {"c": 2, "c": 3}})") == "c");
    CHECK(io::repeated_json_key(R"({"seed": 0, "steps": 4, "seed": 1})") == "seed");
    CHECK(!io::repeated_json_key(R"({"a": {"a": 1}, "b": [{"b": 2}, {"b": 3}]})"));  // one key in different objects is fine
    CHECK(!io::repeated_json_key(R"({"a": )"));  // invalid JSON: the parse that follows reports it
    CHECK(!io::repeated_json_key(std::string(100000, '[')));  // deep nesting does not recurse
}

TEST_CASE("bad arguments to core functions raise clear errors") {
    CHECK_ERROR_CONTAINS(zeros({2, -1}), "negative size", "[2, -1]");
    CHECK_ERROR_CONTAINS(zeros({std::int64_t{1} << 61}, f64), "empty", "2^63 bytes");
    CHECK_ERROR_CONTAINS(zeros({std::int64_t{1} << 62, 4}), "empty", "2^63 elements");
    CHECK_ERROR_CONTAINS(ones({4}).as_strided({100}, {1}, 0), "as_strided", "[100]", "holds 4");
    CHECK_ERROR_CONTAINS(ones({4}).as_strided({2}, {1}, -1), "as_strided", "offset -1");
    CHECK_ERROR_CONTAINS(ones({4}).as_strided({2}, {-1}, 3), "as_strided", ">= 0");
    CHECK(ones({4}).as_strided({2, 2}, {1, 2}, 0).shape() == Shape{2, 2});  // overlapping reads are fine
    CHECK_ERROR_CONTAINS(tensor({NAN}).to(i64), "i64", "nan");
    CHECK_ERROR_CONTAINS(tensor({1e30}).to(i64), "i64", "does not fit");
    CHECK_ERROR_CONTAINS(tensor({1, 2, 3}, {2, 2}), "tensor", "3 values", "[2, 2]");
    CHECK_ERROR_CONTAINS(arange(0, 1, 0), "arange", "non-zero step");
    CHECK_ERROR_CONTAINS(set_num_threads(0), "set_num_threads", "at least 1");
    CHECK_ERROR_CONTAINS(zeros({2}).size(1), "axis 1", "rank 1");
}

}  // TEST_SUITE
