#pragma once
// Tensor: an N-d, row-major view (shape, strides, offset, dtype) over shared, 64-byte-aligned storage.
// Copying a Tensor copies a handle; two handles to one TensorImpl are the same tensor (as in libtorch).
//
// The member functions come in three groups:
//   - data and metadata (this file, core/tensor.cpp): shape, strides, data<T>(), at<T>(), item<T>(), printing;
//   - differentiable ops (declared here, defined in ops/tensor_methods.cpp): views, arithmetic, reductions;
//     each records itself on the tape when an input requires grad;
//   - autograd (declared here, defined in autograd/): requires_grad_(), grad(), backward(), detach().
// core's own kernels never call the second and third groups.
#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "dtype.hpp"
#include "error.hpp"
#include "shape.hpp"

namespace nyx {

namespace autograd {
struct Record;
}
class Tensor;
struct TensorImpl;
struct ValuesIndices;
class TensorIndex;

// An integer that names an axis or an index: any integral type but bool.
template <class I>
concept Axis = std::integral<I> && !std::same_as<I, bool>;

// Removes the hook it was returned for when it goes out of scope, or at remove(); keep it as long
// as the hook should run. Movable, not copyable.
class [[nodiscard]] HookHandle {
  public:
    HookHandle() = default;
    HookHandle(std::weak_ptr<TensorImpl> tensor, std::uint64_t id) : tensor_(std::move(tensor)), id_(id) {}
    ~HookHandle() { remove(); }
    HookHandle(HookHandle&& other) noexcept : tensor_(std::move(other.tensor_)), id_(std::exchange(other.id_, 0)) {}
    HookHandle& operator=(HookHandle&& other) noexcept;
    HookHandle(const HookHandle&) = delete;
    HookHandle& operator=(const HookHandle&) = delete;
    void remove();

  private:
    std::weak_ptr<TensorImpl> tensor_;
    std::uint64_t id_ = 0;
};

// A block from the caching allocator; freed when the last tensor viewing it goes away.
class Storage {
  public:
    explicit Storage(std::size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    void* data() const { return data_; }
    std::size_t nbytes() const { return nbytes_; }

    // Counts in-place writes through the Tensor methods (fill_, copy_, add_, ...), so that backward()
    // can tell when a tensor it saved has been changed since (see autograd::Saved).
    std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
    void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

  private:
    void* data_ = nullptr;
    std::size_t nbytes_ = 0;
    std::atomic<std::uint64_t> version_{0};
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Shape strides;  // in elements
    std::int64_t offset = 0;  // in elements
    DType dtype = DType::f32;

    // Autograd metadata (see autograd/README.md). A leaf that requires grad has no grad_fn and
    // accumulates into `grad`; a result of a recorded op points at its record.
    bool requires_grad = false;
    std::shared_ptr<TensorImpl> grad;
    std::shared_ptr<autograd::Record> grad_fn;
    int output_index = 0;
    // A leaf's hooks, by id: each runs once per backward() that reaches the leaf, when its grad
    // holds all of that backward's contributions (Tensor::register_post_accumulate_grad_hook).
    std::vector<std::pair<std::uint64_t, std::function<void(const Tensor&)>>> post_accumulate_grad_hooks;
};

class Tensor {
  public:
    Tensor() = default;  // an undefined tensor: defined() is false
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    // Assigning to a named tensor rebinds the handle, as in libtorch; assigning to a temporary
    // view writes into it, also as in libtorch: x[0] = y and x.index({...}) = 1.0 copy in place
    // (ops/tensor_methods.cpp; not recorded, like the other in-place methods).
    Tensor(const Tensor&) = default;
    Tensor(Tensor&&) noexcept = default;
    Tensor& operator=(const Tensor&) & = default;
    Tensor& operator=(Tensor&&) & noexcept = default;
    Tensor& operator=(const Tensor& source) &&;
    Tensor& operator=(double value) &&;
    ~Tensor() = default;

    // --- data and metadata ---------------------------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return checked().shape; }
    const Shape& strides() const { return checked().strides; }
    std::int64_t offset() const { return checked().offset; }
    DType dtype() const { return checked().dtype; }
    std::int64_t dim() const { return static_cast<std::int64_t>(shape().size()); }
    std::int64_t numel() const { return nyx::numel(shape()); }
    std::int64_t size(std::int64_t axis) const;  // negative axes count from the end
    bool is_contiguous() const;
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
    bool shares_storage(const Tensor& other) const;

    // Pointer to the first element (storage + offset); T must match the dtype.
    template <class T> T* data() const;
    void* raw_data() const;

    // Element access for tests and teaching: t.at<float>({i, j}), t.item<double>() for one element.
    template <class T> T& at(std::initializer_list<std::int64_t> index) const;
    template <class T> T item() const;
    std::vector<double> to_vector() const;  // all elements in row-major order, as double

    std::string to_string() const;  // PyTorch's style: tensor([[1., 2.], ...], shape=[2, 3], dtype=f32)

    // A view of the same storage with other metadata, checked to stay inside the storage. Not
    // recorded on the tape: ops/ builds the differentiable views on it.
    Tensor as_strided(Shape shape, Shape strides, std::int64_t offset) const;

    const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

    // --- differentiable ops (ops/tensor_methods.cpp; see ops/ops.hpp for their documentation) ----
    // Each forwards to the nyx::ops function of the same name: x.softmax(-1) is ops::softmax(x, -1).
    // Axes may be negative; a reduction takes one axis (x.sum(1)) or several (x.sum({0, 2})).
    // Views and indexing
    Tensor view(Shape shape) const;
    Tensor reshape(Shape shape) const;
    Tensor flatten(std::int64_t start_axis = 0, std::int64_t end_axis = -1) const;
    Tensor transpose(std::int64_t axis0, std::int64_t axis1) const;
    Tensor t() const;  // the transpose of a matrix (rank 0 and 1: the tensor itself), as torch's t()
    Tensor permute(Shape axes) const;
    Tensor narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const;
    Tensor slice(std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
    Tensor select(std::int64_t axis, std::int64_t index) const;
    Tensor operator[](std::int64_t index) const;  // select(0, index): x[i] as in Python
    // Python's and libtorch's indexing on views, without copies: x.index({0, Slice(1, None), None,
    // Ellipsis}) is x[0, 1:, None, ...]. See nyx::indexing below.
    Tensor index(std::initializer_list<TensorIndex> indices) const;
    Tensor expand(Shape shape) const;
    Tensor squeeze() const;
    Tensor squeeze(std::int64_t axis) const;
    Tensor unsqueeze(std::int64_t axis) const;
    std::vector<Tensor> split(std::int64_t size, std::int64_t axis = 0) const;
    std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t axis = 0) const;
    Tensor index_select(std::int64_t axis, const Tensor& index) const;
    Tensor gather(std::int64_t axis, const Tensor& index) const;
    Tensor contiguous() const;
    Tensor clone() const;
    Tensor to(DType dtype) const;
    // Reductions
    Tensor sum() const;
    Tensor sum(const Shape& axes, bool keepdim = false) const;
    Tensor mean() const;
    Tensor mean(const Shape& axes, bool keepdim = false) const;
    Tensor amax(const Shape& axes = {}, bool keepdim = false) const;
    Tensor amin(const Shape& axes = {}, bool keepdim = false) const;
    Tensor max() const;  // the largest element, as torch's max(); amax() by another name
    Tensor min() const;
    ValuesIndices max(std::int64_t axis, bool keepdim = false) const;  // values and their indices
    ValuesIndices min(std::int64_t axis, bool keepdim = false) const;
    Tensor argmax() const;  // the index of the largest element in row-major order, as torch's argmax()
    Tensor argmin() const;
    Tensor argmax(std::int64_t axis, bool keepdim = false) const;
    Tensor argmin(std::int64_t axis, bool keepdim = false) const;
    Tensor var(const Shape& axes = {}, double correction = 1, bool keepdim = false) const;
    Tensor logsumexp(const Shape& axes, bool keepdim = false) const;
    // One axis as an integer: x.sum(1). (A template, so that x.sum({}) still means every axis; bool
    // is not an axis, so that x.var(false) does not silently mean axis 0.)
    template <Axis I> Tensor sum(I axis, bool keepdim = false) const { return sum(Shape{static_cast<std::int64_t>(axis)}, keepdim); }
    template <Axis I> Tensor mean(I axis, bool keepdim = false) const { return mean(Shape{static_cast<std::int64_t>(axis)}, keepdim); }
    template <Axis I> Tensor amax(I axis, bool keepdim = false) const { return amax(Shape{static_cast<std::int64_t>(axis)}, keepdim); }
    template <Axis I> Tensor amin(I axis, bool keepdim = false) const { return amin(Shape{static_cast<std::int64_t>(axis)}, keepdim); }
    template <Axis I> Tensor logsumexp(I axis, bool keepdim = false) const {
        return logsumexp(Shape{static_cast<std::int64_t>(axis)}, keepdim);
    }
    template <Axis I> Tensor var(I axis, double correction = 1, bool keepdim = false) const {
        return var(Shape{static_cast<std::int64_t>(axis)}, correction, keepdim);
    }
    // Elementwise and neural-network functions
    Tensor matmul(const Tensor& other) const;
    Tensor neg() const;
    Tensor abs() const;
    Tensor exp() const;
    Tensor log() const;
    Tensor sqrt() const;
    Tensor rsqrt() const;
    Tensor pow(double exponent) const;
    Tensor erf() const;
    Tensor sigmoid() const;
    Tensor relu() const;
    Tensor tanh() const;
    Tensor clamp(double low, double high) const;
    Tensor maximum(const Tensor& other) const;
    Tensor minimum(const Tensor& other) const;
    Tensor softmax(std::int64_t axis) const;
    Tensor log_softmax(std::int64_t axis) const;
    Tensor masked_fill(const Tensor& mask, double value) const;
    Tensor where(const Tensor& condition, const Tensor& other) const;  // this where condition, else other

    // --- in place, never recorded (ops/tensor_methods.cpp) -------------------------------------
    // Refused on a tensor that requires grad while recording is on: wrap updates in NoGradGuard.
    Tensor& zero_();
    Tensor& fill_(double value);
    Tensor& copy_(const Tensor& source);                        // source broadcasts to this shape
    Tensor& add_(const Tensor& other, double alpha = 1.0);      // this += alpha * other
    Tensor& mul_(double factor);
    // x += y is x.copy_(x + y), and so on, as libtorch's in-place operators (y broadcasts to x's
    // shape and has its dtype). Not recorded: a right-hand side that requires grad while recording
    // is refused (write x = x + y to keep its gradient).
    Tensor& operator+=(const Tensor& other);
    Tensor& operator-=(const Tensor& other);
    Tensor& operator*=(const Tensor& other);
    Tensor& operator/=(const Tensor& other);
    Tensor& operator+=(double other);
    Tensor& operator-=(double other);
    Tensor& operator*=(double other);
    Tensor& operator/=(double other);

    // --- autograd (autograd/tensor_autograd.cpp) --------------------------------------
    bool requires_grad() const;
    Tensor& requires_grad_(bool on = true);  // floating leaves only
    bool is_leaf() const;                          // no grad_fn: made by the user, not by a recorded op
    Tensor grad() const;                           // undefined until a backward() reaches this leaf
    void set_grad(const Tensor& grad) const;       // an undefined tensor clears it
    std::string grad_fn_name() const;              // the recording op's name, or "" for a leaf
    Tensor detach() const;                         // same storage, no history, requires_grad false
    // Backpropagates from this tensor into the leaves' grad(). Without `gradient` the tensor must
    // have one element. retain_graph keeps the records for another backward (it defaults to
    // create_graph); create_graph records the backward itself, so that the gradients it leaves can
    // be differentiated again (autograd/grad.hpp has the functional form, autograd::grad).
    void backward(const Tensor& gradient = {}, std::optional<bool> retain_graph = std::nullopt, bool create_graph = false) const;
    // Runs `hook(leaf)` once in every backward() that reaches this leaf, as soon as its grad holds
    // all of that backward's contributions, while the rest of the backward pass goes on (as
    // PyTorch's register_post_accumulate_grad_hook; data-parallel training starts sending
    // gradients from it). Leaves that require grad only. The hook runs until the handle goes.
    HookHandle register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const;

  private:
    const TensorImpl& checked() const {
        NYX_CHECK(impl_, "use of an undefined tensor (default-constructed, or a grad() that no backward() has written)");
        return *impl_;
    }
    std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// The largest (or smallest) entries along an axis and where they are: Tensor::max(axis), ops::max.
struct ValuesIndices {
    Tensor values;
    Tensor indices;  // i64
};

// Tensor::index's pieces, as libtorch's torch::indexing: `using namespace nyx::indexing;`.
namespace indexing {
struct NoneType {};
struct EllipsisType {};
inline constexpr NoneType None;          // a new axis of size 1 (Python's None)
inline constexpr EllipsisType Ellipsis;  // as many whole axes as the other indices leave (Python's ...)
// start:end:step with Python's rules: missing ends (None) mean the whole axis, negative ends count
// from the end, ends past the axis are clamped; step > 0.
struct Slice {
    Slice(std::optional<std::int64_t> start = std::nullopt, std::optional<std::int64_t> end = std::nullopt, std::int64_t step = 1)
        : start(start), end(end), step(step) {}
    Slice(std::optional<std::int64_t> start, NoneType, std::int64_t step = 1) : Slice(start, std::nullopt, step) {}
    Slice(NoneType, std::optional<std::int64_t> end = std::nullopt, std::int64_t step = 1) : Slice(std::nullopt, end, step) {}
    Slice(NoneType, NoneType, std::int64_t step = 1) : Slice(std::nullopt, std::nullopt, step) {}
    std::optional<std::int64_t> start, end;
    std::int64_t step;
};
}  // namespace indexing

// One entry of Tensor::index: an integer (selects, dropping the axis), a Slice, None or Ellipsis.
class TensorIndex {
  public:
    template <Axis I> TensorIndex(I index) : value_(static_cast<std::int64_t>(index)) {}  // NOLINT: implicit on purpose
    TensorIndex(indexing::Slice slice) : value_(slice) {}                                           // NOLINT
    TensorIndex(indexing::NoneType none) : value_(none) {}                                          // NOLINT
    TensorIndex(indexing::EllipsisType ellipsis) : value_(ellipsis) {}                              // NOLINT
    const std::variant<std::int64_t, indexing::Slice, indexing::NoneType, indexing::EllipsisType>& value() const { return value_; }

  private:
    std::variant<std::int64_t, indexing::Slice, indexing::NoneType, indexing::EllipsisType> value_;
};

// --- factories -------------------------------------------------------------------------------
Tensor empty(Shape shape, DType dtype = f32);  // uninitialised, contiguous
Tensor zeros(Shape shape, DType dtype = f32);
Tensor ones(Shape shape, DType dtype = f32);
Tensor full(Shape shape, double value, DType dtype = f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(double end, DType dtype = f32);                                 // 0, 1, ..., < end
Tensor arange(double start, double end, double step = 1.0, DType dtype = f32);
Tensor eye(std::int64_t n, DType dtype = f32);
Tensor scalar(double value, DType dtype = f32);  // rank 0
// From values in row-major order: tensor({1, 2, 3}) is 1-D; tensor({1, 2, 3, 4}, {2, 2}) has a shape.
Tensor tensor(const std::vector<double>& values, DType dtype = f32);
Tensor tensor(const std::vector<double>& values, Shape shape, DType dtype = f32);
template <class T> Tensor from_vector(const std::vector<T>& values, Shape shape);  // dtype from T

// ---------------------------------------------------------------------------------------------
template <class T>
T* Tensor::data() const {
    NYX_CHECK(dtype() == dtype_of<T>(), "data<", name(dtype_of<T>()), ">(): the tensor is ", name(dtype()));
    return static_cast<T*>(raw_data());
}

template <class T>
T& Tensor::at(std::initializer_list<std::int64_t> index) const {
    NYX_CHECK(static_cast<std::int64_t>(index.size()) == dim(), "at: got ", index.size(),
              " indices for a tensor of shape ", nyx::to_string(shape()));
    std::int64_t position = 0, axis = 0;
    for (std::int64_t i : index) {
        NYX_CHECK(i >= -size(axis) && i < size(axis), "at: index ", i, " is out of range for axis ", axis,
                  " of a tensor of shape ", nyx::to_string(shape()));
        position += (i < 0 ? i + size(axis) : i) * strides()[axis];
        ++axis;
    }
    return data<T>()[position];
}

template <class T>
T Tensor::item() const {
    NYX_CHECK(numel() == 1, "item: the tensor has ", numel(), " elements (shape ", nyx::to_string(shape()),
              "); item() needs exactly one");
    T value{};
    dispatch_with_bf16(dtype(), [&]<class S>() { value = static_cast<T>(*static_cast<S*>(raw_data())); });
    return value;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape) {
    NYX_CHECK(nyx::numel(shape) == static_cast<std::int64_t>(values.size()), "from_vector: ", values.size(),
              " values do not fill shape ", nyx::to_string(shape));
    Tensor t = empty(std::move(shape), dtype_of<T>());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
}

}  // namespace nyx
