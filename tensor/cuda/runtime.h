// The CUDA runtime pieces the kernels share: the caching allocator, one cuBLAS handle and one cuRAND generator
// per device (created lazily), and device discovery that treats any driver error as "no device".
#pragma once

#include <cstddef>
#include <cstdint>

namespace swirl::cuda {

// Memory from a caching allocator: freed blocks are kept per rounded size and reused, so a training step that
// allocates the same shapes every step calls cudaMalloc only during its first step.
void* allocate(std::size_t bytes, int device);
void release(void* pointer, std::size_t bytes, int device);
// Returns every cached block to the driver (also done automatically when cudaMalloc runs out of memory).
void empty_cache();

struct MemoryStats {
    std::size_t in_use = 0, cached = 0, peak_in_use = 0;
    int64_t driver_allocations = 0;  // cudaMalloc calls so far: stops growing once the cache is warm
};
MemoryStats memory_stats();

// Makes `device` the calling thread's current device, where kernels launch and cuBLAS/cuRAND work: every op
// calls it before its CUDA kernel (tensor/ops.cpp), so tensors on cuda:1 are never worked on from device 0.
void use_device(int device);
// Waits until every kernel and copy queued on `device` has finished (cudaDeviceSynchronize).
void synchronize(int device);

// Measured on `device`, for swirl bench's floor: the float32 fused multiply-add peak in GFLOP/s, and the
// device-to-device copy bandwidth in GB/s (bytes read plus bytes written). Each takes a few milliseconds.
double measure_fma_peak_gflops(int device);
double measure_copy_bandwidth_gbs(int device);

// TF32 tensor-core math for float32 matmuls: off by default (bitwise closer to the CPU); on is faster.
void set_allow_tf32(bool allow);

}  // namespace swirl::cuda
