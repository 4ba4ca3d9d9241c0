// Random fills on the CPU from Philox counters (tensor/generator.h), in loops that vectorise. A draw reserves one
// counter per element; element e of a draw whose first counter is c is:
//   uniform, any dtype:  low + (high - low) u, u from the 53 bits of block c + e;
//   normal, float64:     Box-Muller on block c + e in double (libm's log and cos);
//   normal, float32:     block c + e / 4 holds two Box-Muller pairs of 23- and 24-bit uniforms, in float: e % 4 picks
//                        r0 cos, r0 sin, r1 cos, r1 sin (four normals for one block, and no libm call).
// A value depends on (seed, c, e) only, never on the threads or on which part of the draw is filled, so a rank of a
// data-parallel run can fill just its rows (first_element: the draw's index of x's first element).
#include <algorithm>
#include <type_traits>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/vector_math.h"
#include "tensor/generator.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

namespace {

// 24 random bits -> a float in [0, 1); 23 bits and half a step -> one in (0, 1), for a logarithm (both exact: a
// 24-bit integer plus a half needs 25 bits, so the open one keeps 23).
inline float unit_float(uint32_t word) { return static_cast<float>(word >> 8) * 0x1.0p-24f; }
inline float open_unit_float(uint32_t word) { return (static_cast<float>(word >> 9) + 0.5f) * 0x1.0p-23f; }

constexpr int64_t kBlocksPerChunk = 16;  // a vector of Philox blocks: 64 float normals

// One Box-Muller pair from two random words: r cos, r sin, with r = sqrt(-2 log u1) and the angle u2 turns.
inline void box_muller(uint32_t radius_word, uint32_t angle_word, float& first, float& second) {
    const float radius = std::sqrt(-2.0f * vector_math::log_positive(open_unit_float(radius_word)));
    float sine, cosine;
    vector_math::sincos_turns(unit_float(angle_word), sine, cosine);
    first = radius * cosine;
    second = radius * sine;
}

// The 64 float normals of blocks [first_block, first_block + 16), normal e at z[e % 4][e / 4]: one vector of blocks.
void float_normal_chunk(float (&z)[4][kBlocksPerChunk], uint64_t seed, uint64_t first_block) {
#pragma GCC ivdep
    for (int64_t j = 0; j < kBlocksPerChunk; ++j) {
        const std::array<uint32_t, 4> words = philox4x32_10(first_block + static_cast<uint64_t>(j), seed);
        box_muller(words[0], words[1], z[0][j], z[1][j]);
        box_muller(words[2], words[3], z[2][j], z[3][j]);
    }
}

void float_normals(float* p, int64_t n, uint64_t seed, uint64_t first_counter, uint64_t first_element, float mean,
                   float stddev) {
    const uint64_t first_block = first_element / 4, last_block = (first_element + static_cast<uint64_t>(n) - 1) / 4;
    const int64_t chunks = static_cast<int64_t>((last_block - first_block) / kBlocksPerChunk + 1);
#pragma omp parallel for schedule(static) if (n >= kParallelCostlyElements)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const uint64_t block = first_block + static_cast<uint64_t>(chunk * kBlocksPerChunk);
        float z[4][kBlocksPerChunk];
        float_normal_chunk(z, seed, first_counter + block);
        // The chunk's elements that x holds: draw elements [4 block, 4 block + 64) within x's.
        const uint64_t begin = std::max(4 * block, first_element);
        const uint64_t end = std::min(4 * block + 4 * kBlocksPerChunk, first_element + static_cast<uint64_t>(n));
        for (uint64_t e = begin; e < end; ++e) {
            const uint64_t at = e - 4 * block;
            p[e - first_element] = mean + stddev * z[at % 4][at / 4];
        }
    }
}

}  // namespace

void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high) {
    dispatch_floating(x.dtype(), "uniform", [&](auto zero) {
        using T = decltype(zero);
        T* p = x.data<T>();
        const int64_t n = x.numel();
        const uint64_t counter = first_counter + first_element, key = seed;
#pragma omp parallel for schedule(static) if (n >= kParallelCostlyElements)
        for (int64_t i = 0; i < n; ++i) {
            const std::array<uint32_t, 4> words = philox4x32_10(counter + static_cast<uint64_t>(i), key);
            p[i] = static_cast<T>(low + (high - low) * uniform_from_words(words[0], words[1]));
        }
    });
}

void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev) {
    const int64_t n = x.numel();
    if (n == 0) return;
    dispatch_floating(x.dtype(), "normal", [&](auto zero) {
        using T = decltype(zero);
        T* p = x.data<T>();
        if constexpr (std::is_same_v<T, float>) {
            float_normals(p, n, seed, first_counter, first_element, static_cast<float>(mean), static_cast<float>(stddev));
        } else {
            const uint64_t counter = first_counter + first_element;
#pragma omp parallel for schedule(static) if (n >= kParallelCostlyElements)
            for (int64_t i = 0; i < n; ++i)
                p[i] = mean + stddev * normal_from_words(philox4x32_10(counter + static_cast<uint64_t>(i), seed));
        }
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
