// The CPU matrix product as building blocks for other kernels (the fused MLP in tensor/cpu/mlp.cpp): a product
// on the calling thread, over raw pointers, with the bias + ReLU epilogue of Linear.
#pragma once

#include <cstdint>

#include "tensor/cpu/capability.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

// What happens to an output before it is stored: a bias row that starts the sum (nullptr: none; not used when
// accumulating into the output) and a ReLU after, so that Linear (+ ReLU) runs in one pass over its output; or a
// mask, so that a gradient goes back through a ReLU in the same pass as the product that forms it.
template <typename T>
struct Epilogue {
    const T* bias = nullptr;  // [N], indexed by output column
    bool relu = false;
    // [M, N] with row stride mask_row (nullptr: none): the output is kept where the mask is positive, else 0 (the
    // gradient at a ReLU's input, the mask being that ReLU's output).
    const T* mask = nullptr;
    int64_t mask_row = 0;
};

// The mask epilogue as a pass of its own, for the paths without register tiles: out [M, N] set to 0 wherever
// mask [M, N] (row stride mask_row) is not positive.
template <typename T>
inline void apply_mask(T* out, int64_t M, int64_t N, const T* mask, int64_t mask_row) {
    for (int64_t i = 0; i < M; ++i)
#pragma omp simd
        for (int64_t j = 0; j < N; ++j) out[i * N + j] = mask[i * mask_row + j] > T(0) ? out[i * N + j] : T(0);
}

// out [M, N] (+)= A [M, K] @ b [K, N], then the epilogue, on the calling thread (no OpenMP), where
// A[i, k] = a[i * a_row + k * a_col] (so a^T is read in place) and b is row-major. The register-blocked tiles when
// N is a multiple of one vector (16 floats, 8 doubles), the reference loop otherwise (the mask then applied after).
// Defined for float and double.
template <typename T>
void gemm_serial(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t K, int64_t N,
                 bool accumulate, const Epilogue<T>& epilogue = {});

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
