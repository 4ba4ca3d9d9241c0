// What the CUDA kernel files share (included by .cu files only: it has device code): the dtype switch, typed
// pointers, and the split of a flat element index into row and column.
#pragma once

#include "tensor/cuda/handles.h"
#include "tensor/tensor.h"

namespace swirl::cuda {

// Runs body(T{}) for the tensor's floating type.
template <typename Body>
void floating(DType dtype, Body body) {
    if (dtype == DType::f32) body(float{});
    else body(double{});
}

template <typename T> T* ptr(Tensor& t) { return static_cast<T*>(t.raw_data()); }
template <typename T> const T* ptr(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }

// k = row * cols + col, split: in 32-bit arithmetic whenever k fits (a 64-bit division is a long subroutine on
// the GPU, as slow as the memory traffic of a large elementwise kernel; a 32-bit one is a few instructions).
struct RowCol {
    long long row, col;
};
__device__ inline RowCol split_index(long long k, long long cols) {
    if (k <= 0xFFFFFFFFLL && cols <= 0xFFFFFFFFLL) {
        const unsigned q = static_cast<unsigned>(k) / static_cast<unsigned>(cols);
        return {q, static_cast<long long>(static_cast<unsigned>(k) - q * static_cast<unsigned>(cols))};
    }
    return {k / cols, k % cols};
}

}  // namespace swirl::cuda
