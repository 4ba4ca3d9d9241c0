// Device names, parsing and discovery, and the device-wide switches.
#include "tensor/device.h"

#include "tensor/error.h"
#ifdef SWIRL_WITH_CUDA
#include "tensor/cuda/runtime.h"
#endif

#if defined(__SSE__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

namespace swirl {

std::string device_name(Device device) {
    return device.is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", device.index);
}

bool set_flush_denormal(bool enabled) {
#if defined(__SSE__)
    _MM_SET_FLUSH_ZERO_MODE(enabled ? _MM_FLUSH_ZERO_ON : _MM_FLUSH_ZERO_OFF);
    _MM_SET_DENORMALS_ZERO_MODE(enabled ? _MM_DENORMALS_ZERO_ON : _MM_DENORMALS_ZERO_OFF);
    return true;
#else
    (void)enabled;
    return false;
#endif
}

#ifndef SWIRL_WITH_CUDA
int cuda_device_count() { return 0; }
#endif

void set_cuda_allow_tf32(bool allow) {
#ifdef SWIRL_WITH_CUDA
    cuda::set_allow_tf32(allow);
#else
    (void)allow;
#endif
}

void synchronize(Device device) {
#ifdef SWIRL_WITH_CUDA
    if (device.is_cuda()) cuda::synchronize(device.index);
#else
    (void)device;
#endif
}

void check_device_available(Device device) {
    if (device.is_cpu()) return;
#ifndef SWIRL_WITH_CUDA
    SWIRL_FAIL("cannot use {}: this swirl was built without CUDA (configure with -DSWIRL_CUDA=ON)", device_name(device));
#else
    const int count = cuda_device_count();
    SWIRL_CHECK(count > 0, "no CUDA device available: the CUDA driver reports none on this machine (use --device cpu)");
    SWIRL_CHECK(device.index < count, "no CUDA device {}: this machine has {} (cuda:0..cuda:{})", device_name(device),
                count, count - 1);
#endif
}

Device parse_device(const std::string& text) {
    if (text == "cpu") return Device::cpu();
    if (text == "cuda") return Device::cuda(0);
    if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
        text.find_first_not_of("0123456789", 5) == std::string::npos)
        return Device::cuda(std::stoi(text.substr(5)));
    SWIRL_FAIL("unknown device '{}': expected cpu, cuda or cuda:N", text);
}

}  // namespace swirl
