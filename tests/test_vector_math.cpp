// The CPU's vectorisable float log, sine and cosine (tensor/cpu/vector_math.h) against libm in double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "tensor/cpu/vector_math.h"
#include "tensor/ops.h"

namespace vm = swirl::cpu::SWIRL_CPU_NAMESPACE::vector_math;  // the copy for this translation unit's flags

namespace {
// Float's unit roundoff: a correctly rounded float is within u of the exact value, relatively.
constexpr double kUnit = 0x1.0p-24;
}  // namespace

// The error of a float result relative to the exact value (libm in double, of the float argument), in units of
// float's roundoff: relative everywhere, so that results near a zero of the function are held to the same bound.
double ulps(float got, double exact) { return std::abs(static_cast<double>(got) - exact) / std::abs(exact) / kUnit; }

TEST_CASE("log_positive is within 4 float ulps of log, relatively, from 2^-30 to 2^30 and around its zero at 1") {
    double worst = 0.0;
    float worst_at = 0.0f;
    auto check = [&](float x) {
        if (x == 1.0f) return;  // log 1 = 0: checked exactly below
        const double error = ulps(vm::log_positive(x), std::log(static_cast<double>(x)));
        if (error > worst) worst = error, worst_at = x;
    };
    // Every 97th float from 2^-30 to 2^30: all mantissas and exponents, the values Box-Muller takes among them.
    for (float x = 0x1.0p-30f; x < 0x1.0p30f; x = std::nextafter(x, 2.0f * x) + x * 97.0f * 0x1.0p-24f) check(x);
    // Every float within 2^-8 of 1, where log is near zero.
    for (float x = 1.0f - 0x1.0p-8f; x <= 1.0f + 0x1.0p-8f; x = std::nextafter(x, 2.0f)) check(x);
    INFO("worst error " << worst << " ulps at " << worst_at);
    CHECK(worst < 4);
    CHECK(vm::log_positive(1.0f) == 0.0f);
}

TEST_CASE("sin and cos are within 4 float ulps, relatively, up to kSincosLimit and around each of their zeros") {
    double worst = 0.0;
    float worst_at = 0.0f;
    auto check = [&](float x) {
        float sine, cosine;
        vm::sincos(x, sine, cosine);
        const double exact_sine = std::sin(static_cast<double>(x)), exact_cosine = std::cos(static_cast<double>(x));
        const double error = std::max({ulps(vm::sin(x), exact_sine), ulps(vm::cos(x), exact_cosine),
                                       ulps(sine, exact_sine), ulps(cosine, exact_cosine)});
        if (error > worst) worst = error, worst_at = x;
    };
    for (float x = -vm::kSincosLimit; x <= vm::kSincosLimit; x += 0.0137f + std::abs(x) * 1e-4f)
        if (x != 0.0f) check(x);
    // The 64 floats either side of every multiple of pi/2 within the limit, where sine or cosine is near zero and
    // the argument reduction's error counts most.
    const int64_t quarters = static_cast<int64_t>(vm::kSincosLimit / (std::numbers::pi / 2));
    for (int64_t k = -quarters; k <= quarters; ++k) {
        float x = static_cast<float>(static_cast<double>(k) * std::numbers::pi / 2);
        for (int i = 0; i < 64; ++i) x = std::nextafter(x, -vm::kSincosLimit);
        for (int i = 0; i <= 128; ++i, x = std::nextafter(x, vm::kSincosLimit))
            if (x != 0.0f && std::abs(x) <= vm::kSincosLimit) check(x);
    }
    INFO("worst error " << worst << " ulps at " << worst_at);
    CHECK(worst < 4);
    float sine, cosine;
    vm::sincos(-0.0f, sine, cosine);
    CHECK((sine == 0.0f && std::signbit(sine) && cosine == 1.0f));
}

TEST_CASE("sincos_turns is within 4 float ulps, relatively, up to 3 turns, and exact at quarter turns") {
    double worst = 0.0;
    float worst_at = 0.0f;
    auto check = [&](float turns) {
        float sine, cosine;
        vm::sincos_turns(turns, sine, cosine);
        const double angle = 2.0 * std::numbers::pi * static_cast<double>(turns);
        const double error = std::max(ulps(sine, std::sin(angle)), ulps(cosine, std::cos(angle)));
        if (error > worst) worst = error, worst_at = turns;
    };
    for (float turns = -3.0f; turns <= 3.0f; turns += 0.000731f)
        if (turns * 4.0f != std::nearbyint(turns * 4.0f)) check(turns);
    // The 64 floats either side of each quarter turn but 0 (around 0 they are subnormal: no relative accuracy).
    for (int quarter = -12; quarter <= 12; ++quarter) {
        if (quarter == 0) continue;
        float turns = static_cast<float>(quarter) / 4.0f;
        for (int i = 0; i < 64; ++i) turns = std::nextafter(turns, -4.0f);
        for (int i = 0; i <= 128; ++i, turns = std::nextafter(turns, 4.0f))
            if (turns * 4.0f != std::nearbyint(turns * 4.0f)) check(turns);
    }
    for (float turns = 0x1.0p-100f; turns < 0.01f; turns *= 1.37f) check(turns), check(-turns);  // small angles
    INFO("worst error " << worst << " ulps at " << worst_at << " turns");
    CHECK(worst < 4);
    for (int quarter = -12; quarter <= 12; ++quarter) {
        float sine, cosine;
        vm::sincos_turns(static_cast<float>(quarter) / 4.0f, sine, cosine);
        const int q = ((quarter % 4) + 4) % 4;
        CHECK(std::abs(sine) == (q % 2 == 1 ? 1.0f : 0.0f));
        CHECK(std::abs(cosine) == (q % 2 == 0 ? 1.0f : 0.0f));
        CHECK(sine == (q == 1 ? 1.0f : q == 3 ? -1.0f : sine));
        CHECK(cosine == (q == 0 ? 1.0f : q == 2 ? -1.0f : cosine));
    }
}

TEST_CASE("the float sin and cos ops pass NaN on and take libm for each element beyond the polynomials' range") {
    const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();
    std::vector<double> sines_near;
    for (bool far : {false, true}) {
        // far: one element past kSincosLimit goes through libm; the others' values must not change with it.
        const std::vector<double> values = {0.5, -2.0, nan, far ? 1e6 : 100.0, -0.0};
        const swirl::Tensor x = swirl::Tensor::from_vector(values, {5});
        const std::vector<double> sines = swirl::sin(x).to_vector(), cosines = swirl::cos(x).to_vector();
        for (std::size_t i = 0; i < values.size(); ++i) {
            const float v = static_cast<float>(values[i]);
            if (std::isnan(v)) {
                CHECK(std::isnan(sines[i]));
                CHECK(std::isnan(cosines[i]));
                continue;
            }
            CHECK(std::abs(sines[i] - std::sin(static_cast<double>(v))) < 3 * kUnit);
            CHECK(std::abs(cosines[i] - std::cos(static_cast<double>(v))) < 3 * kUnit);
        }
        CHECK(std::signbit(sines[4]));  // sin(-0) = -0, as libm
        if (far) {
            for (std::size_t i : {0, 1, 4}) CHECK(sines[i] == sines_near[i]);
        }
        sines_near = sines;
    }
    CHECK(std::isnan(swirl::sin(swirl::Tensor::from_vector({inf}, {1})).item()));
}
