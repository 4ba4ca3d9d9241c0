// Swiss-roll data with tensor ops only, so it is drawn where training runs (no host round trip on a GPU).
#include "diffusion/swiss_roll.h"

#include <cmath>
#include <numbers>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

Tensor sample_swiss_roll(int64_t n, Generator& gen, double noise, DType dtype, Device device) {
    return sample_swiss_roll_rows(n, 0, n, gen, noise, dtype, device);
}

Tensor sample_swiss_roll_rows(int64_t n, int64_t first_row, int64_t rows, Generator& gen, double noise, DType dtype,
                              Device device) {
    SWIRL_CHECK(n > 0, "sample_swiss_roll: n must be positive, got {}", n);
    SWIRL_CHECK(noise >= 0, "sample_swiss_roll: noise must be >= 0, got {}", noise);
    const double pi = std::numbers::pi;
    Tensor t = Tensor::empty({rows, 1}, dtype, device);
    uniform_rows_(t, gen, n, first_row, 1.5 * pi, 4.5 * pi);  // 1.5 pi (1 + 2u), u uniform in [0, 1)
    Tensor first = mul(t, sin(t));                        // sklearn's z
    Tensor second = neg(mul(t, cos(t)));                  // -(sklearn's x)
    if (noise > 0) {
        Tensor jitter = Tensor::empty({rows, 2}, dtype, device);
        normal_rows_(jitter, gen, n, first_row, 0.0, noise);
        return scale(add(concat_cols({first, second}), jitter), 0.1);
    }
    return scale(concat_cols({first, second}), 0.1);
}

double swiss_roll_std() {
    // t ~ U[a, b], a = 1.5 pi, b = 4.5 pi; the points are (t sin t, -t cos t) / 10. With the antiderivatives
    // of t sin t (sin t - t cos t) and t cos t (cos t + t sin t): E[t sin t], E[t cos t], and E[t^2].
    const double a = 1.5 * std::numbers::pi, b = 4.5 * std::numbers::pi, width = b - a;
    auto between = [&](auto f) { return (f(b) - f(a)) / width; };
    const double mean_first = between([](double t) { return std::sin(t) - t * std::cos(t); });
    const double mean_second = -between([](double t) { return std::cos(t) + t * std::sin(t); });
    const double mean_square = between([](double t) { return t * t * t / 3.0; });
    const double variance_sum = (mean_square - mean_first * mean_first - mean_second * mean_second) / 100.0;
    return std::sqrt(variance_sum / 2.0);
}

double parse_data_scale(const std::string& name) {
    if (name == "seed") return 1.0;
    if (name == "unit") return 1.0 / swiss_roll_std();
    SWIRL_FAIL("unknown data scale '{}': expected seed or unit", name);
}

}  // namespace swirl::diffusion
