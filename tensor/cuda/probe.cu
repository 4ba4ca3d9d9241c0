// What a GPU can do, measured on the spot for swirl bench's floor: the float32 fused multiply-add peak and the
// device-to-device copy bandwidth. Both are timed with CUDA events around a warm second run.
#include <cstdint>

#include "tensor/cuda/backend.h"
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

// Times body() (which enqueues work on the default stream) with CUDA events, after one untimed run.
template <typename Body>
double time_ms(Body body) {
    body();
    cudaEvent_t start = nullptr, stop = nullptr;
    SWIRL_CUDA_CHECK(cudaEventCreate(&start));
    SWIRL_CUDA_CHECK(cudaEventCreate(&stop));
    SWIRL_CUDA_CHECK(cudaEventRecord(start));
    body();
    SWIRL_CUDA_CHECK(cudaEventRecord(stop));
    SWIRL_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    SWIRL_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    SWIRL_CUDA_CHECK(cudaEventDestroy(start));
    SWIRL_CUDA_CHECK(cudaEventDestroy(stop));
    return static_cast<double>(ms);
}

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
    float* sink = nullptr;  // straight from the driver: probes are not tensors and stay out of memory_stats()
    SWIRL_CUDA_CHECK(cudaMalloc(&sink, sizeof(float)));
    const double ms = time_ms([&] {
        fma_kernel<<<blocks, kBlock>>>(sink, kIterations, 0.999999f, 1e-7f);
        SWIRL_CUDA_CHECK_LAUNCH();
    });
    SWIRL_CUDA_CHECK(cudaFree(sink));
    const double flops = 2.0 * kChains * static_cast<double>(kIterations) * blocks * kBlock;
    return flops / (ms * 1e-3) / 1e9;
}

double measure_copy_bandwidth_gbs(int device) {
    use_device(device);
    constexpr std::size_t kBytes = std::size_t{1} << 30;
    void *source = nullptr, *destination = nullptr;
    SWIRL_CUDA_CHECK(cudaMalloc(&source, kBytes));
    SWIRL_CUDA_CHECK(cudaMalloc(&destination, kBytes));
    SWIRL_CUDA_CHECK(cudaMemset(source, 0, kBytes));
    const double ms =
        time_ms([&] { SWIRL_CUDA_CHECK(cudaMemcpyAsync(destination, source, kBytes, cudaMemcpyDeviceToDevice)); });
    SWIRL_CUDA_CHECK(cudaFree(source));
    SWIRL_CUDA_CHECK(cudaFree(destination));
    return 2.0 * static_cast<double>(kBytes) / (ms * 1e-3) / 1e9;  // each byte read once and written once
}

}  // namespace swirl::cuda
