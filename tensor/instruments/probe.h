// What a device can do, measured on the spot (a few milliseconds each), for swirl bench's floor: the float32
// fused multiply-add peak in GFLOP/s and the copy bandwidth in GB/s (bytes read plus bytes written). On the CPU
// they run on `threads` OpenMP threads; on a CUDA device `threads` is not used.
#pragma once

#include <cstddef>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace swirl {

double measure_fma_peak_gflops(Device device, int threads);
double measure_copy_bandwidth_gbs(Device device, int threads);

// The most memory swirl's tensors have held at once on `device`, in bytes (the caching allocators' count).
std::size_t device_memory_peak(Device device);

}  // namespace swirl
