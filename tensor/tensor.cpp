// Tensor construction, conversion and host-side element access.
#include "tensor/tensor.h"

#include "tensor/error.h"
#include "tensor/generator.h"
#include "tensor/ops.h"

namespace swirl {

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

void check_dtype(const Tensor& t, DType expected, const char* what) {
    SWIRL_CHECK(t.defined(), "{}: the tensor is undefined", what);
    SWIRL_CHECK(t.dtype() == expected, "{}: expected {}, the tensor {} is {}", what, dtype_name(expected),
                shape_str(t.shape()), dtype_name(t.dtype()));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t d : shape) SWIRL_CHECK(d >= 0, "Tensor::empty: negative dimension in shape {}", shape_str(shape));
    Tensor t;
    t.shape_ = shape;
    t.dtype_ = dtype;
    t.storage_ = std::make_shared<Storage>(static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype), device);
    return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    fill_(t, value);
    return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
    SWIRL_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
                "Tensor::from_vector: {} values do not fill shape {} ({} elements)", values.size(), shape_str(shape),
                shape_numel(shape));
    Tensor host = empty(shape, DType::f64);
    std::copy(values.begin(), values.end(), host.data<double>());
    return host.to(dtype).to(device);
}

Tensor Tensor::from_indices(const std::vector<int64_t>& indices, Device device) {
    Tensor host = empty({static_cast<int64_t>(indices.size())}, DType::i64);
    std::copy(indices.begin(), indices.end(), host.data<int64_t>());
    return host.to(device);
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
    std::vector<double> values(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<double>(i);
    return from_vector(values, {n}, dtype, device);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    uniform_(t, gen);
    return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    normal_(t, gen);
    return t;
}

int64_t Tensor::dim(int64_t axis) const {
    const int64_t r = rank();
    SWIRL_CHECK(-r <= axis && axis < r, "dim: axis {} is out of range for shape {}", axis, shape_str(shape_));
    return shape_[static_cast<std::size_t>(axis < 0 ? axis + r : axis)];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

void* Tensor::raw_data() {
    SWIRL_CHECK(defined(), "raw_data: the tensor is undefined");
    return static_cast<char*>(storage_->data()) + static_cast<std::size_t>(offset_) * dtype_size(dtype_);
}

const void* Tensor::raw_data() const {
    SWIRL_CHECK(defined(), "raw_data: the tensor is undefined");
    return static_cast<const char*>(storage_->data()) + static_cast<std::size_t>(offset_) * dtype_size(dtype_);
}

Tensor Tensor::to(DType dtype) const {
    if (dtype == dtype_) return *this;
    Tensor out = empty(shape_, dtype, device());
    copy_(out, *this);
    return out;
}

Tensor Tensor::to(Device device) const {
    if (device == this->device()) return *this;
    Tensor out = empty(shape_, dtype_, device);
    copy_(out, *this);
    return out;
}

Tensor Tensor::clone() const {
    Tensor out = empty(shape_, dtype_, device());
    copy_(out, *this);
    return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
    SWIRL_CHECK(shape_numel(shape) == numel(), "reshape: cannot view {} as {}", shape_str(shape_), shape_str(shape));
    Tensor view = *this;
    view.shape_ = shape;
    return view;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
    SWIRL_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
                "rows: [{}, {}) is out of range for {}", begin, end, shape_str(shape_));
    Tensor view = *this;
    view.shape_[0] = end - begin;
    view.offset_ += begin * (numel() / std::max<int64_t>(shape_[0], 1));
    return view;
}

double Tensor::item() const {
    SWIRL_CHECK(numel() == 1, "item: expected one element, the tensor has shape {}", shape_str(shape_));
    return to_vector()[0];
}

double Tensor::at(int64_t i) const {
    SWIRL_CHECK(0 <= i && i < numel(), "at: index {} is out of range for {}", i, shape_str(shape_));
    return reshape({numel()}).rows(i, i + 1).item();
}

double Tensor::at(int64_t i, int64_t j) const {
    SWIRL_CHECK(rank() == 2 && 0 <= i && i < shape_[0] && 0 <= j && j < shape_[1],
                "at: index ({}, {}) is out of range for {}", i, j, shape_str(shape_));
    return at(i * shape_[1] + j);
}

std::vector<double> Tensor::to_vector() const {
    detail::count_host_read();
    Tensor host = to(Device::cpu()).to(DType::f64);
    const double* p = host.data<double>();
    return std::vector<double>(p, p + numel());
}

std::vector<int64_t> Tensor::to_indices() const {
    check_dtype(*this, DType::i64, "to_indices");
    detail::count_host_read();
    Tensor host = to(Device::cpu());
    const int64_t* p = host.data<int64_t>();
    return std::vector<int64_t>(p, p + numel());
}

}  // namespace swirl
