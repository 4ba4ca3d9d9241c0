// Float log, sine and cosine written so that a loop over them vectorises (libm's sinf and logf are calls the
// compiler cannot put in a vector loop): the CPU's float sin and cos ops and the Box-Muller normals of the random
// fills. Their selects become blends under -fno-trapping-math (cmake/SwirlCompileOptions.cmake), without which
// AVX2 keeps such a loop scalar. Straight-line code on one element: a range reduction by bit tricks or Cody-Waite,
// then a short Taylor polynomial, within 4 float ulps of the exact value relatively, near the functions' zeros too
// (tests/test_vector_math.cpp holds them to libm's double results).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "tensor/cpu/capability.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE::vector_math {

// log(x) for a positive, normal float. x = m 2^e with m in [sqrt(1/2), sqrt(2)), read off the bits; then
// log(m) = 2 atanh(s) with s = (m - 1) / (m + 1), |s| <= 0.172, whose odd series to s^9 leaves 3e-10. Within 4
// ulps relatively; the worst, 3.5, lies just above 1, where s's rounding is most of log's value.
inline float log_positive(float x) {
    const int32_t bits = std::bit_cast<int32_t>(x);
    const int32_t exponent = (bits - 0x3f3504f3) >> 23;  // 0x3f3504f3 is sqrt(1/2): m's lowest value
    const float m = std::bit_cast<float>(bits - exponent * (int32_t{1} << 23));
    const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    const float series = 1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9))));
    return static_cast<float>(exponent) * std::numbers::ln2_v<float> + 2.0f * s * series;
}

// sin and cos of a in [-pi/4, pi/4]: Taylor polynomials to a^9 and a^10 (remainders below 2e-9).
inline void sincos_reduced(float a, float& sine, float& cosine) {
    const float a2 = a * a;
    sine = a * (1.0f + a2 * (-1.0f / 6 + a2 * (1.0f / 120 + a2 * (-1.0f / 5040 + a2 * (1.0f / 362880)))));
    cosine = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24 + a2 * (-1.0f / 720 + a2 * (1.0f / 40320 + a2 * (-1.0f / 3628800)))));
}

// sin and cos of r + quadrant pi/2, from those of r: the quadrant's rotation, without branches.
inline void turn_by_quadrant(int32_t quadrant, float& sine, float& cosine) {
    const float s = sine, c = cosine;
    const bool odd = (quadrant & 1) != 0;
    sine = odd ? c : s;
    cosine = odd ? s : c;
    if ((quadrant & 2) != 0) sine = -sine;              // quadrants 2 and 3
    if (((quadrant + 1) & 2) != 0) cosine = -cosine;    // quadrants 1 and 2
}

// sin and cos of 2 pi `turns` for |turns| < 2^20: a quarter turn is exact in float, so the reduction is exact too.
inline void sincos_turns(float turns, float& sine, float& cosine) {
    const float quarters = std::nearbyint(4.0f * turns);
    const float rest = turns - 0.25f * quarters;  // in [-1/8, 1/8], exact
    sincos_reduced(rest * (2.0f * std::numbers::pi_v<float>), sine, cosine);
    turn_by_quadrant(static_cast<int32_t>(quarters), sine, cosine);
}

// The largest |x| for which sincos below is accurate; beyond it callers use libm.
inline constexpr float kSincosLimit = 8192.0f;

// sin and cos of a finite x, |x| <= kSincosLimit (callers send anything else to libm), within 4 float ulps of the
// exact value relatively, also near their zeros. Cody-Waite reduction by pi/2 in four parts: the first three hold
// 8, 11 and 11 bits, so with at most 13 bits of quarters their products are exact in float, and the fourth is the
// rest of pi/2 (three parts leave x - quarters pi/2 wrong by up to 2e-10, a thousand ulps of a sine near zero).
inline void sincos(float x, float& sine, float& cosine) {
    constexpr float part1 = 1.5703125f;                  // 201 / 2^7
    constexpr float part2 = 2029.0f / 4194304.0f;        // 2029 / 2^22
    constexpr float part3 = 1297.0f / 17179869184.0f;    // 1297 / 2^34
    // pi/2 = the double nearest it + 6.123233995736766e-17; the differences before the sum are exact in double.
    constexpr float part4 = static_cast<float>(
        ((std::numbers::pi / 2 - 1.5703125) - 2029.0 / 4194304.0 - 1297.0 / 17179869184.0) + 6.123233995736766e-17);
    const float quarters = std::nearbyint(x * static_cast<float>(2.0 / std::numbers::pi));
    // No reduction in the first quadrant: x itself, which keeps sin(-0) = -0.
    const float rest =
        quarters == 0.0f ? x : (((x - quarters * part1) - quarters * part2) - quarters * part3) - quarters * part4;
    sincos_reduced(rest, sine, cosine);
    turn_by_quadrant(static_cast<int32_t>(quarters), sine, cosine);
}

// One of the two, by value: a loop calling these keeps no per-lane variable in memory.
inline float sin(float x) {
    float sine, cosine;
    sincos(x, sine, cosine);
    return sine;
}
inline float cos(float x) {
    float sine, cosine;
    sincos(x, sine, cosine);
    return cosine;
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE::vector_math
SWIRL_CPU_TARGET_END
