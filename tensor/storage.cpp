// Storage allocation per device: host memory through tensor/host_allocator.h, CUDA memory through the
// backend's caching allocator.
#include "tensor/storage.h"

#include "tensor/error.h"
#include "tensor/host_allocator.h"
#ifdef SWIRL_WITH_CUDA
#include "tensor/cuda/runtime.h"
#endif

namespace swirl {

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
    if (device.is_cpu()) {
        data_ = host_allocate(bytes);  // 64-byte aligned; a zero-byte tensor still gets a valid pointer
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
        host_release(data_, bytes_);
        return;
    }
#ifdef SWIRL_WITH_CUDA
    cuda::release(data_, bytes_, device_.index);
#endif
}

}  // namespace swirl
