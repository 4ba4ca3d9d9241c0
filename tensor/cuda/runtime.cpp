// The CUDA runtime side of the backend: error reporting, device discovery, the caching allocator, and the
// per-device cuBLAS and cuRAND handles.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/cuda/runtime.h"
#include "tensor/cuda/handles.h"
#include "tensor/cuda/libraries.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/host_allocator.h"
#include "tensor/error.h"

namespace swirl {

int cuda_device_count() {
    // On a machine without a driver cudaGetDeviceCount returns an error, not 0: any error means no device.
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error so later calls do not report it
        return 0;
    }
    return count;
}

namespace cuda {

void fail_cuda(const char* file, int line, const char* call, cudaError_t code) {
    detail::throw_error(file, line, fmt::format("CUDA error {} ({}) in {}", cudaGetErrorName(code), cudaGetErrorString(code), call));
}
void fail_cublas(const char* file, int line, const char* call, cublasStatus_t code) {
    detail::throw_error(file, line, fmt::format("cuBLAS error {} ({}) in {}", cublas().status_name(code),
                                                cublas().status_string(code), call));
}
void fail_curand(const char* file, int line, const char* call, curandStatus_t code) {
    detail::throw_error(file, line, fmt::format("cuRAND error {} in {}", static_cast<int>(code), call));
}
#ifdef SWIRL_WITH_NCCL
void fail_nccl(const char* file, int line, const char* call, ncclResult_t code) {
    // ncclGetLastError ignores its communicator (NCCL's src/init.cc: "comm is currently unused and can be set to
    // NULL"): the message is the library's latest, from this call or an earlier asynchronous one.
    const char* last = nccl().last_error(nullptr);
    detail::throw_error(file, line, fmt::format("NCCL error {} ({}) in {}: {}", static_cast<int>(code),
                                                nccl().error_string(code), call,
                                                last != nullptr && *last != '\0' ? last : "no message from NCCL"));
}
#endif

namespace {

// Sizes are rounded to the host allocator's classes (quarter powers of two from 512 bytes), so that blocks of
// nearly equal size share a free list: the per-sample mode's per-group tensors change size every step.
std::size_t rounded_size(std::size_t bytes) {
    constexpr std::size_t kSmallest = 512;
    return size_class(bytes, kSmallest, kSmallest);
}

struct Allocator {
    std::mutex mutex;
    std::map<std::pair<int, std::size_t>, std::vector<void*>> free_blocks;  // (device, rounded size) -> blocks
    MemoryStats stats;

    // Frees every cached block, each on its own device, and restores the caller's current device: an
    // out-of-memory retry (or the message's free-memory figure) must land on the device that asked, which with one
    // rank per GPU is not device 0.
    void release_cached() {
        int current = 0;
        SWIRL_CUDA_CHECK(cudaGetDevice(&current));
        for (auto& [key, blocks] : free_blocks) {
            for (void* block : blocks) {
                SWIRL_CUDA_CHECK(cudaSetDevice(key.first));
                SWIRL_CUDA_CHECK(cudaFree(block));
                stats.cached -= key.second;
            }
        }
        free_blocks.clear();
        SWIRL_CUDA_CHECK(cudaSetDevice(current));
    }
};

Allocator& allocator() {
    static Allocator* instance = new Allocator;  // never destroyed: blocks may be freed during static destruction
    return *instance;
}

void check_device(int device) {
    const int count = cuda_device_count();
    SWIRL_CHECK(count > 0, "no CUDA device available: the CUDA driver reports none on this machine");
    SWIRL_CHECK(0 <= device && device < count, "no CUDA device cuda:{}: this machine has {}", device, count);
}

// One line that says how much was asked for, how much swirl's tensors hold, and what the device has left.
[[noreturn]] void fail_out_of_memory(int device, std::size_t size, std::size_t in_use) {
    constexpr double kMiB = 1 << 20;
    std::size_t free_bytes = 0, total_bytes = 0;
    std::string device_memory = "the device's free memory could not be read";
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
        device_memory = fmt::format("the device has {:.1f} of {:.1f} MiB free", static_cast<double>(free_bytes) / kMiB,
                                    static_cast<double>(total_bytes) / kMiB);
    else
        cudaGetLastError();
    SWIRL_FAIL("CUDA out of memory on cuda:{}: cannot allocate {:.1f} MiB; swirl's tensors hold {:.1f} MiB and {} "
               "(a smaller batch needs less)",
               device, static_cast<double>(size) / kMiB, static_cast<double>(in_use) / kMiB, device_memory);
}

}  // namespace

void* allocate(std::size_t bytes, int device) {
    Allocator& a = allocator();
    const std::size_t size = rounded_size(bytes);
    std::lock_guard<std::mutex> lock(a.mutex);
    auto& blocks = a.free_blocks[{device, size}];
    void* pointer = nullptr;
    if (!blocks.empty()) {
        pointer = blocks.back();
        blocks.pop_back();
        a.stats.cached -= size;
    } else {
        check_device(device);
        SWIRL_CUDA_CHECK(cudaSetDevice(device));
        if (cudaMalloc(&pointer, size) != cudaSuccess) {
            cudaGetLastError();
            a.release_cached();  // out of memory: give the cache back and try once more
            const cudaError_t retry = cudaMalloc(&pointer, size);
            if (retry == cudaErrorMemoryAllocation) {
                cudaGetLastError();
                fail_out_of_memory(device, size, a.stats.in_use);
            }
            SWIRL_CUDA_CHECK(retry);
        }
        ++a.stats.driver_allocations;
    }
    a.stats.in_use += size;
    a.stats.peak_in_use = std::max(a.stats.peak_in_use, a.stats.in_use);
    return pointer;
}

void release(void* pointer, std::size_t bytes, int device) {
    if (pointer == nullptr) return;
    Allocator& a = allocator();
    const std::size_t size = rounded_size(bytes);
    std::lock_guard<std::mutex> lock(a.mutex);
    a.free_blocks[{device, size}].push_back(pointer);
    a.stats.in_use -= size;
    a.stats.cached += size;
}

void empty_cache() {
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mutex);
    a.release_cached();
}

MemoryStats memory_stats() {
    Allocator& a = allocator();
    std::lock_guard<std::mutex> lock(a.mutex);
    return a.stats;
}

namespace {
struct Handles {
    std::mutex mutex;
    std::map<int, cublasHandle_t> cublas;
    std::map<int, curandGenerator_t> curand;
    bool allow_tf32 = false;
};
Handles& handles() {
    static Handles* instance = new Handles;
    return *instance;
}
}  // namespace

cublasHandle_t cublas_handle(int device) {
    Handles& h = handles();
    std::lock_guard<std::mutex> lock(h.mutex);
    auto found = h.cublas.find(device);
    if (found != h.cublas.end()) return found->second;
    SWIRL_CUDA_CHECK(cudaSetDevice(device));
    cublasHandle_t handle = nullptr;
    SWIRL_CUBLAS_CHECK(cublas().create(&handle));
    SWIRL_CUBLAS_CHECK(cublas().set_math_mode(handle, h.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    h.cublas[device] = handle;
    return handle;
}

curandGenerator_t curand_generator(int device) {
    Handles& h = handles();
    std::lock_guard<std::mutex> lock(h.mutex);
    auto found = h.curand.find(device);
    if (found != h.curand.end()) return found->second;
    SWIRL_CUDA_CHECK(cudaSetDevice(device));
    curandGenerator_t generator = nullptr;
    SWIRL_CURAND_CHECK(curand().create_generator(&generator, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    h.curand[device] = generator;
    return generator;
}

void use_device(int device) { SWIRL_CUDA_CHECK(cudaSetDevice(device)); }

void synchronize(int device) {
    use_device(device);
    SWIRL_CUDA_CHECK(cudaDeviceSynchronize());
}

void set_allow_tf32(bool allow) {
    Handles& h = handles();
    std::lock_guard<std::mutex> lock(h.mutex);
    h.allow_tf32 = allow;
    for (auto& [device, handle] : h.cublas)
        SWIRL_CUBLAS_CHECK(cublas().set_math_mode(handle, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

}  // namespace cuda
}  // namespace swirl
