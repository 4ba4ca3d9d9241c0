// Element types: what a Tensor's bytes hold (its device is tensor/device.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace swirl {

// f32 and f64 hold data; i64 holds row indices (gather/scatter) and nothing else.
enum class DType { f32, f64, i64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "f64", "i64"
bool is_floating(DType dtype);

}  // namespace swirl
