// The multiply-add peak of this copy's vectors (kernels.h's FmaChainsKernel): as many independent chains as the
// register tile has accumulators (tensor/cpu/capability.h), each a vector updated by acc = acc * scale + shift, so
// that the loop is as wide as the copy's products and fits its register file.
#include <cstdint>
#include <cstring>

#include "tensor/cpu/capability.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

double fma_chains(int64_t iterations) {
    using V = Vector<float>::type;
    constexpr int kChains = kCapability.tile_rows * kCapability.tile_vectors;
    constexpr int64_t L = kLanes<float>;
    float ramp_lanes[L];
    for (int64_t l = 0; l < L; ++l) ramp_lanes[l] = 1e-3f * static_cast<float>(l);
    V ramp;
    std::memcpy(&ramp, ramp_lanes, sizeof(V));
    // Whole-vector operations only, and unrolled loops over the chains, or the accumulators live on the stack.
    V acc[kChains];
#pragma GCC unroll 32
    for (int c = 0; c < kChains; ++c) acc[c] = ramp + 1e-3f * static_cast<float>(c);
    const float scale = 0.999999f, shift = 1e-7f;
    for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 32
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * scale + shift;
    }
    V total{};
    for (int c = 0; c < kChains; ++c) total += acc[c];
    // The result is stored where the compiler cannot see it unused, so the chains are not removed.
    float total_lanes[L];
    std::memcpy(total_lanes, &total, sizeof(V));
    volatile float sink = 0.0f;
    for (int64_t l = 0; l < L; ++l) sink = sink + total_lanes[l];
    return 2.0 * kChains * static_cast<double>(L) * static_cast<double>(iterations);
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
