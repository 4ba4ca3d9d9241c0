// Generator: a seeded, counter-based random stream (Philox4x32-10) that gives the same numbers for every thread
// count: a draw of n elements reserves the counters [offset, offset + n), and its element i depends only on the
// seed, that first counter and i (tensor/cpu/random.cpp says how), so any rows of a draw can be drawn alone. A draw on a CUDA
// device goes to cuRAND's Philox, seeded and offset from the same (seed, offset): reproducible, but a stream of
// its own, not the CPU's numbers (tensor/cuda/random.cpp).
#pragma once

#include <array>
#include <cstdint>

namespace swirl {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}

    uint64_t seed() const { return seed_; }
    uint64_t offset() const { return offset_; }  // counters used so far; with seed(), the whole state
    void set_state(uint64_t seed, uint64_t offset) {
        seed_ = seed;
        offset_ = offset;
    }
    // Reserves `count` counters and returns the first: a draw of n elements uses [first, first + n).
    uint64_t reserve(uint64_t count) {
        uint64_t first = offset_;
        offset_ += count;
        return first;
    }
    // One draw from [0, 1) on the host (for choices such as the batch's timestep).
    double uniform();

private:
    uint64_t seed_;
    uint64_t offset_ = 0;
};

// The Philox4x32-10 block function (Salmon et al., SC'11): four 32-bit words from a 64-bit counter and key. Inline
// and branch-free, so that a loop over counters vectorises (the CPU's random fills, tensor/cpu/random.cpp).
inline std::array<uint32_t, 4> philox4x32_10(uint64_t counter, uint64_t key) {
    constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
    constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
#pragma GCC unroll 10
    for (int round = 0; round < 10; ++round) {
        const uint64_t product0 = static_cast<uint64_t>(kMul0) * c0, product1 = static_cast<uint64_t>(kMul1) * c2;
        const uint32_t n0 = static_cast<uint32_t>(product1 >> 32) ^ c1 ^ k0, n1 = static_cast<uint32_t>(product1);
        const uint32_t n2 = static_cast<uint32_t>(product0 >> 32) ^ c3 ^ k1, n3 = static_cast<uint32_t>(product0);
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += kWeyl0;
        k1 += kWeyl1;
    }
    return {c0, c1, c2, c3};
}

// 27 + 26 = 53 random bits -> [0, 1): every double in [0, 1) on a 2^-53 grid, exactly representable. Each part is
// converted from a 32-bit integer and the sum is exact (the parts' bits do not overlap): the value of the 53-bit
// integer times 2^-53, in conversions that AVX2 vectorises (it has none from 64-bit integers).
inline double uniform_from_words(uint32_t high, uint32_t low) {
    return static_cast<double>(static_cast<int32_t>(high >> 5)) * 0x1.0p-27 +
           static_cast<double>(static_cast<int32_t>(low >> 6)) * 0x1.0p-53;
}

// Two uniforms -> one standard normal (Box-Muller in double, the cosine only): the float64 normals.
double normal_from_words(const std::array<uint32_t, 4>& words);

}  // namespace swirl
