// Tensor: a contiguous, row-major view of a Storage, with a dtype, a device and a shape.
//
//   swirl::Generator gen(0);
//   auto x = swirl::Tensor::randn({4, 2}, gen);            // [4, 2] f32 on the CPU
//   auto w = swirl::Tensor::from_vector({1, 2, 3, 4}, {2, 2});
//   auto y = swirl::matmul(x, w, false, true);             // x @ w^T, [4, 2]  (tensor/ops.h)
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/storage.h"

namespace swirl {

class Generator;
using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "[64, 2]"
int64_t shape_numel(const Shape& shape);

class Tensor {
public:
    Tensor() = default;  // undefined: no storage; defined() is false

    // Factories. Contents of empty() are undefined; the others are filled.
    static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
    // values has shape_numel(shape) elements, row-major.
    static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::f32,
                              Device device = Device::cpu());
    static Tensor from_indices(const std::vector<int64_t>& indices, Device device = Device::cpu());  // [n] i64
    static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = Device::cpu());       // 0..n-1
    static Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32, Device device = Device::cpu());

    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
    int64_t dim(int64_t axis) const;  // negative axes count from the end
    int64_t numel() const { return shape_numel(shape_); }
    std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
    DType dtype() const { return dtype_; }
    Device device() const;

    // Raw element pointer; data<T>() checks that T matches the dtype.
    void* raw_data();
    const void* raw_data() const;
    template <typename T> T* data();
    template <typename T> const T* data() const;

    Tensor to(DType dtype) const;    // a copy in another dtype (or *this if already that dtype)
    Tensor to(Device device) const;  // a copy on another device (or *this if already there)
    Tensor clone() const;            // a deep copy, same dtype and device
    Tensor reshape(const Shape& shape) const;         // a view with the same element count
    Tensor rows(int64_t begin, int64_t end) const;    // a view of rows [begin, end) of the leading axis

    // Host-side element access, for tests and small reads (copies from the device when needed).
    double item() const;  // the single element of a one-element tensor
    double at(int64_t i) const;
    double at(int64_t i, int64_t j) const;
    std::vector<double> to_vector() const;
    std::vector<int64_t> to_indices() const;  // i64 tensors only

    bool same_storage(const Tensor& other) const { return storage_ == other.storage_ && offset_ == other.offset_; }
    // True when no other Tensor (or view) shares this one's storage: writing into it can surprise nobody.
    bool sole_owner() const { return storage_ != nullptr && storage_.use_count() == 1; }

private:
    std::shared_ptr<Storage> storage_;
    int64_t offset_ = 0;  // in elements, for rows() views
    Shape shape_;
    DType dtype_ = DType::f32;
};

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

void check_dtype(const Tensor& t, DType expected, const char* what);

template <typename T> T* Tensor::data() {
    check_dtype(*this, dtype_of<T>(), "data<T>()");
    return static_cast<T*>(raw_data());
}
template <typename T> const T* Tensor::data() const {
    check_dtype(*this, dtype_of<T>(), "data<T>()");
    return static_cast<const T*>(raw_data());
}

}  // namespace swirl
