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

TEST_CASE("log_positive is within 3 float ulps of log from 2^-30 to 2^30") {
    double worst = 0.0;
    float worst_at = 0.0f;
    // Every 97th float from 2^-30 to 2^30: all mantissas and exponents, the values Box-Muller takes among them.
    for (float x = 0x1.0p-30f; x < 0x1.0p30f; x = std::nextafter(x, 2.0f * x) + x * 97.0f * 0x1.0p-24f) {
        const double exact = std::log(static_cast<double>(x));
        const double error = std::abs(vm::log_positive(x) - exact) / std::max(std::abs(exact), 1.0);
        if (error > worst) worst = error, worst_at = x;
    }
    INFO("worst relative error " << worst << " at " << worst_at);
    CHECK(worst < 3 * kUnit);
    CHECK(vm::log_positive(1.0f) == 0.0f);
}

TEST_CASE("sincos and sincos_turns are within 3 float ulps of sin and cos up to their limits") {
    double worst = 0.0;
    float worst_at = 0.0f;
    for (float x = -vm::kSincosLimit; x <= vm::kSincosLimit; x += 0.0137f + std::abs(x) * 1e-4f) {
        float sine, cosine;
        vm::sincos(x, sine, cosine);
        // Absolute error against the double result of the float argument, in units of float's roundoff.
        const double error = std::max(std::abs(sine - std::sin(static_cast<double>(x))),
                                      std::abs(cosine - std::cos(static_cast<double>(x))));
        if (error > worst) worst = error, worst_at = x;
        CHECK(vm::sin(x) == sine);
        CHECK(vm::cos(x) == cosine);
    }
    INFO("worst absolute error " << worst << " at " << worst_at);
    CHECK(worst < 3 * kUnit);

    double worst_turns = 0.0;
    for (float turns = -3.0f; turns <= 3.0f; turns += 0.000731f) {
        float sine, cosine;
        vm::sincos_turns(turns, sine, cosine);
        const double angle = 2.0 * std::numbers::pi * static_cast<double>(turns);
        worst_turns = std::max({worst_turns, std::abs(sine - std::sin(angle)), std::abs(cosine - std::cos(angle))});
    }
    INFO("sincos_turns: worst absolute error " << worst_turns);
    CHECK(worst_turns < 3 * kUnit);
    float sine, cosine;
    vm::sincos_turns(0.25f, sine, cosine);  // a quarter turn exactly
    CHECK(sine == 1.0f);
    CHECK(cosine == 0.0f);
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
