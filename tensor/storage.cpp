// Storage allocation per device. CUDA storage goes through the backend's caching allocator.
#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/error.h"
#ifdef SWIRL_WITH_CUDA
#include "tensor/cuda/backend.h"
#endif

namespace swirl {

namespace {
constexpr std::size_t kCpuAlignment = 64;
}

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
    if (device.is_cpu()) {
        // aligned_alloc wants a multiple of the alignment; a zero-byte tensor still gets a valid pointer.
        std::size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
        data_ = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
        if (data_ == nullptr) throw std::bad_alloc();
        return;
    }
#ifdef SWIRL_WITH_CUDA
    data_ = cuda::allocate(bytes, device.index);
#else
    SWIRL_FAIL("cannot allocate on {}: this swirl was built without CUDA (configure with -DSWIRL_CUDA=ON)",
               device_name(device));
#endif
}

Storage::~Storage() {
    if (device_.is_cpu()) {
        std::free(data_);
        return;
    }
#ifdef SWIRL_WITH_CUDA
    cuda::release(data_, bytes_, device_.index);
#endif
}

}  // namespace swirl
