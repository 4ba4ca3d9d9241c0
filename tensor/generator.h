// Generator: a seeded, counter-based random stream (Philox4x32-10) that gives the same numbers on every
// platform and for every thread count: element i of a draw depends only on (seed, offset + i). A draw on a CUDA
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

// The Philox4x32-10 block function (Salmon et al., SC'11): four 32-bit words from a 64-bit counter and key.
std::array<uint32_t, 4> philox4x32_10(uint64_t counter, uint64_t key);

// Converters shared by the CPU kernels: 53 random bits -> [0, 1), and two uniforms -> one standard normal.
double uniform_from_words(uint32_t high, uint32_t low);
double normal_from_words(const std::array<uint32_t, 4>& words);

}  // namespace swirl
