// Library handles shared by the CUDA kernels: one per device, created on first use, kept for the process.
#pragma once

#include "tensor/cuda/check.h"

namespace swirl::cuda {

cublasHandle_t cublas_handle(int device);
curandGenerator_t curand_generator(int device);
// Threads per block and a grid that covers n elements with a grid-stride loop (capped, so huge n still launch).
constexpr int kThreads = 256;
inline unsigned grid_for(long long n) {
    long long blocks = (n + kThreads - 1) / kThreads;
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

}  // namespace swirl::cuda
