#include "tensor.hpp"

#include <cmath>

#include "allocator.hpp"
#include "kernels.hpp"

namespace nyx {

// Even an empty tensor gets a (minimal) block, so that its data pointer is never null.
Storage::Storage(std::size_t nbytes) : data_(memory::allocate(std::max<std::size_t>(nbytes, 1))), nbytes_(nbytes) {}

Storage::~Storage() { memory::release(data_, std::max<std::size_t>(nbytes_, 1)); }

std::int64_t Tensor::size(std::int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }

bool Tensor::is_contiguous() const {
    std::int64_t expected = 1;
    for (auto i = dim(); i-- > 0;) {
        if (shape()[i] == 1) continue;
        if (shape()[i] == 0) return true;
        if (strides()[i] != expected) return false;
        expected *= shape()[i];
    }
    return true;
}

bool Tensor::shares_storage(const Tensor& other) const {
    return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::raw_data() const {
    const TensorImpl& t = checked();
    return static_cast<char*>(t.storage->data()) + t.offset * static_cast<std::int64_t>(element_size(t.dtype));
}

std::vector<double> Tensor::to_vector() const {
    Tensor flat = empty(shape(), f64);
    kernels::copy(flat, *this);
    return {flat.data<double>(), flat.data<double>() + flat.numel()};
}

Tensor Tensor::as_strided(Shape shape, Shape strides, std::int64_t offset) const {
    const TensorImpl& t = checked();
    NYX_CHECK(shape.size() == strides.size(), "as_strided: shape ", nyx::to_string(shape), " and strides ",
              nyx::to_string(strides), " differ in rank");
    const std::int64_t capacity = static_cast<std::int64_t>(t.storage->nbytes() / element_size(t.dtype));
    std::int64_t last = offset;  // the largest element offset the view reaches
    bool empty_view = false;
    for (std::size_t a = 0; a < shape.size(); ++a) {
        NYX_CHECK(shape[a] >= 0 && strides[a] >= 0, "as_strided: sizes and strides must be >= 0, got shape ",
                  nyx::to_string(shape), " and strides ", nyx::to_string(strides));
        empty_view = empty_view || shape[a] == 0;
        if (shape[a] > 0) last += (shape[a] - 1) * strides[a];
    }
    NYX_CHECK(offset >= 0 && (empty_view || last < capacity), "as_strided: a view with shape ", nyx::to_string(shape),
              ", strides ", nyx::to_string(strides), " and offset ", offset, " reaches element ", last,
              " of a storage that holds ", capacity);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = t.storage;
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = t.dtype;
    return Tensor(std::move(impl));
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) { return out << tensor.to_string(); }

// --- factories ---------------------------------------------------------------------------------

Tensor empty(Shape shape, DType dtype) {
    const std::int64_t count = checked_numel(shape, element_size(dtype), "empty");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(count) * element_size(dtype));
    impl->strides = contiguous_strides(shape);
    impl->shape = std::move(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

Tensor full(Shape shape, double value, DType dtype) {
    Tensor t = empty(std::move(shape), dtype);
    kernels::fill(t, value);
    return t;
}

Tensor zeros(Shape shape, DType dtype) { return full(std::move(shape), 0.0, dtype); }
Tensor ones(Shape shape, DType dtype) { return full(std::move(shape), 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double end, DType dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
    NYX_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
              "arange: start ", start, ", end ", end, " and step ", step, " must be finite, with a non-zero step");
    const double count = std::max(0.0, std::ceil((end - start) / step));
    NYX_CHECK(count < 0x1p62, "arange: [", start, ", ", end, ") in steps of ", step, " has too many elements");
    const auto n = static_cast<std::int64_t>(count);
    Tensor t = empty({n}, dtype);
    dispatch(dtype, [&]<class T>() {
        for (std::int64_t i = 0; i < n; ++i) t.data<T>()[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
    return t;
}

Tensor eye(std::int64_t n, DType dtype) {
    NYX_CHECK(n >= 0 && n <= (std::int64_t{1} << 31), "eye: n = ", n, " must be in [0, 2^31]");
    Tensor t = zeros({n, n}, dtype);
    kernels::fill(t.as_strided({n}, {n + 1}, 0), 1.0);
    return t;
}

Tensor tensor(const std::vector<double>& values, DType dtype) {
    return tensor(values, {static_cast<std::int64_t>(values.size())}, dtype);
}

Tensor tensor(const std::vector<double>& values, Shape shape, DType dtype) {
    NYX_CHECK(numel(shape) == static_cast<std::int64_t>(values.size()), "tensor: ", values.size(),
              " values do not fill shape ", to_string(shape), " (", numel(shape), " elements)");
    Tensor out = empty(std::move(shape), dtype);
    kernels::copy(out, from_vector(values, out.shape()));
    return out;
}

}  // namespace nyx
