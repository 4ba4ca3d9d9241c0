// What a device can do, measured on the spot for swirl bench's floor. The CPU's probes are here; the GPU's are
// kernels of their own (tensor/cuda/probe.cu).
#include "tensor/instruments/probe.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/host_allocator.h"
#ifdef SWIRL_WITH_CUDA
#include "tensor/cuda/runtime.h"
#endif

namespace swirl {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The CPU's fused multiply-add peak on `threads` threads, measured with the kernels that run (the copy
// cpu::kernels() chose: its vector width, and as many independent chains as its register tile has accumulators),
// long enough that the loop overhead vanishes. The best of five rounds: on a shared machine a round during which
// another process held a core reads as little as half the peak, and the peak is what the cores can do.
double cpu_fma_peak_gflops([[maybe_unused]] int threads) {  // unused without OpenMP
    constexpr int kRounds = 5;
    constexpr int64_t kIterations = 5'000'000;
    const cpu::Kernels& kernels = cpu::kernels();
    double best = 0.0;
    for (int round = 0; round < kRounds; ++round) {
        double flops = 0.0;
        const auto start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += kernels.fma_chains(kIterations);
        best = std::max(best, flops / seconds_since(start) / 1e9);
    }
    return best;
}

// The host's memory bandwidth on `threads` threads, measured: the best of three parallel copies of 256 MiB,
// counting each byte read and written once (as the GPU's cudaMemcpy probe does).
double cpu_copy_bandwidth_gbs([[maybe_unused]] int threads) {  // unused without OpenMP
    constexpr int64_t kFloats = int64_t{1} << 26;
    std::vector<float> source(kFloats, 1.0f), destination(kFloats, 0.0f);
    double best = 1e30;
    for (int round = 0; round < 4; ++round) {  // the first round warms the pages up and is not counted
        const auto start = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t begin = 0; begin < kFloats; begin += (1 << 16))
            std::memcpy(destination.data() + begin, source.data() + begin, sizeof(float) << 16);
        if (round > 0) best = std::min(best, seconds_since(start));
    }
    if (destination[kFloats / 2] != 1.0f) std::fprintf(stderr, " ");  // keeps the copy observable
    return 2.0 * static_cast<double>(kFloats) * sizeof(float) / best / 1e9;
}

}  // namespace

double measure_fma_peak_gflops(Device device, int threads) {
#ifdef SWIRL_WITH_CUDA
    if (!device.is_cpu()) return cuda::measure_fma_peak_gflops(device.index);
#endif
    (void)device;
    return cpu_fma_peak_gflops(threads);
}

double measure_copy_bandwidth_gbs(Device device, int threads) {
#ifdef SWIRL_WITH_CUDA
    if (!device.is_cpu()) return cuda::measure_copy_bandwidth_gbs(device.index);
#endif
    (void)device;
    return cpu_copy_bandwidth_gbs(threads);
}

std::size_t device_memory_peak(Device device) {
#ifdef SWIRL_WITH_CUDA
    if (!device.is_cpu()) return cuda::memory_stats().peak_in_use;
#endif
    (void)device;
    return host_memory_stats().peak_in_use;
}

}  // namespace swirl
