// Philox4x32-10 and the conversions from random words to uniform and normal numbers.
#include "tensor/generator.h"

#include <cmath>
#include <numbers>

namespace swirl {

namespace {
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    uint64_t product = static_cast<uint64_t>(a) * b;
    hi = static_cast<uint32_t>(product >> 32);
    lo = static_cast<uint32_t>(product);
}
}  // namespace

std::array<uint32_t, 4> philox4x32_10(uint64_t counter, uint64_t key) {
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
    for (int round = 0; round < 10; ++round) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(kMul0, c0, hi0, lo0);
        mulhilo(kMul1, c2, hi1, lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += kWeyl0;
        k1 += kWeyl1;
    }
    return {c0, c1, c2, c3};
}

double uniform_from_words(uint32_t high, uint32_t low) {
    // 27 + 26 = 53 bits: every double in [0, 1) on a 2^-53 grid, exactly representable.
    uint64_t bits = (static_cast<uint64_t>(high >> 5) << 26) | (low >> 6);
    return static_cast<double>(bits) * 0x1.0p-53;
}

double normal_from_words(const std::array<uint32_t, 4>& words) {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    double radius_uniform = 1.0 - uniform_from_words(words[0], words[1]);
    double angle_uniform = uniform_from_words(words[2], words[3]);
    return std::sqrt(-2.0 * std::log(radius_uniform)) * std::cos(2.0 * std::numbers::pi * angle_uniform);
}

double Generator::uniform() {
    auto words = philox4x32_10(reserve(1), seed_);
    return uniform_from_words(words[0], words[1]);
}

}  // namespace swirl
