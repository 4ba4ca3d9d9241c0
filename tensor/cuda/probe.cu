// What a GPU can do, measured on the spot for swirl bench's floor: the float32 fused multiply-add peak and the
// device-to-device copy bandwidth. Both are timed with CUDA events around a warm second run.
#include <cstdint>

#include "tensor/cuda/runtime.h"
#include "tensor/cuda/check.h"

namespace swirl::cuda {

namespace {

constexpr int kChains = 8;  // independent FMA chains per thread: enough to hide the FMA latency

// Every thread runs kChains independent chains x = x * a + b for `iterations` rounds; the sum is stored only if it
// equals an impossible value, which keeps the loop observable without a store per thread.
__global__ void fma_kernel(float* sink, long long iterations, float a, float b) {
    float x[kChains];
    for (int c = 0; c < kChains; ++c) x[c] = 1e-3f * static_cast<float>(threadIdx.x + c);
    for (long long i = 0; i < iterations; ++i)
#pragma unroll
        for (int c = 0; c < kChains; ++c) x[c] = fmaf(x[c], a, b);
    float sum = 0.0f;
    for (int c = 0; c < kChains; ++c) sum += x[c];
    if (sum == 12345.678f) sink[0] = sum;
}

// Two CUDA events, destroyed however the timing ends.
struct EventPair {
    cudaEvent_t start = nullptr, stop = nullptr;
    EventPair() {
        SWIRL_CUDA_CHECK(cudaEventCreate(&start));
        SWIRL_CUDA_CHECK(cudaEventCreate(&stop));
    }
    ~EventPair() {
        if (start != nullptr) cudaEventDestroy(start);
        if (stop != nullptr) cudaEventDestroy(stop);
    }
    EventPair(const EventPair&) = delete;
    EventPair& operator=(const EventPair&) = delete;
};

// Times body() (which enqueues work on the default stream) with CUDA events, after one untimed run.
template <typename Body>
double time_ms(Body body) {
    body();
    EventPair events;
    SWIRL_CUDA_CHECK(cudaEventRecord(events.start));
    body();
    SWIRL_CUDA_CHECK(cudaEventRecord(events.stop));
    SWIRL_CUDA_CHECK(cudaEventSynchronize(events.stop));
    float ms = 0.0f;
    SWIRL_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start, events.stop));
    return static_cast<double>(ms);
}

// Device memory straight from the driver (probes are not tensors and stay out of memory_stats()), freed however
// the probe ends; if the caching allocator holds the memory, its cache goes back to the driver first.
struct DeviceBuffer {
    void* data = nullptr;
    explicit DeviceBuffer(std::size_t bytes) {
        if (cudaMalloc(&data, bytes) != cudaSuccess) {
            cudaGetLastError();
            empty_cache();
            SWIRL_CUDA_CHECK(cudaMalloc(&data, bytes));
        }
    }
    ~DeviceBuffer() {
        if (data != nullptr) cudaFree(data);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

}  // namespace

double measure_fma_peak_gflops(int device) {
    use_device(device);
    int multiprocessors = 0, threads_per_multiprocessor = 0;
    SWIRL_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
    SWIRL_CUDA_CHECK(
        cudaDeviceGetAttribute(&threads_per_multiprocessor, cudaDevAttrMaxThreadsPerMultiProcessor, device));
    constexpr int kBlock = 256;
    constexpr long long kIterations = 1 << 15;
    const int blocks = multiprocessors * (threads_per_multiprocessor / kBlock);
    DeviceBuffer sink(sizeof(float));
    const double ms = time_ms([&] {
        fma_kernel<<<blocks, kBlock>>>(static_cast<float*>(sink.data), kIterations, 0.999999f, 1e-7f);
        SWIRL_CUDA_CHECK_LAUNCH();
    });
    const double flops = 2.0 * kChains * static_cast<double>(kIterations) * blocks * kBlock;
    return flops / (ms * 1e-3) / 1e9;
}

double measure_copy_bandwidth_gbs(int device) {
    use_device(device);
    constexpr std::size_t kBytes = std::size_t{1} << 30;
    DeviceBuffer source(kBytes), destination(kBytes);
    SWIRL_CUDA_CHECK(cudaMemset(source.data, 0, kBytes));
    const double ms = time_ms(
        [&] { SWIRL_CUDA_CHECK(cudaMemcpyAsync(destination.data, source.data, kBytes, cudaMemcpyDeviceToDevice)); });
    return 2.0 * static_cast<double>(kBytes) / (ms * 1e-3) / 1e9;  // each byte read once and written once
}

}  // namespace swirl::cuda
