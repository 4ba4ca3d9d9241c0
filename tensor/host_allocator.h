// Host memory for CPU tensors: a caching allocator. A training step allocates the same large buffers every
// step; handing freed blocks back to the next request of the same size avoids the page faults (and the kernel's
// zeroing of fresh pages) that returning them to the OS would cost on every step.
#pragma once

#include <cstddef>

namespace swirl {

// The size classes of the caching allocators (host and CUDA): from `smallest` up, bytes round up to a quarter of
// their power of two (at most 25% more), so sizes that vary a little from step to step (the per-sample timestep
// mode's per-group tensors) share a class and find a cached block; below `smallest`, to a multiple of `granule`.
std::size_t size_class(std::size_t bytes, std::size_t smallest, std::size_t granule);

// Throws swirl::Error ("out of host memory: ...") when the system has not got the memory, after returning the
// cache to it and trying once more.
void* host_allocate(std::size_t bytes);
void host_release(void* pointer, std::size_t bytes);

struct HostMemoryStats {
    std::size_t in_use = 0, peak_in_use = 0, cached = 0;  // bytes, as rounded by the allocator
};
HostMemoryStats host_memory_stats();
void host_reset_peak();  // peak_in_use = in_use, to measure a phase (e.g. one training step)

}  // namespace swirl
