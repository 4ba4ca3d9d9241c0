// The float64 normal from random words, and the host-side uniform draw (Philox itself is inline in generator.h).
#include "tensor/generator.h"

#include <cmath>
#include <numbers>

namespace swirl {

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
