// Swiss-roll data with tensor ops only, so it is drawn where training runs (no host round trip on a GPU).
#include "diffusion/swiss_roll.h"

#include <numbers>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

Tensor sample_swiss_roll(int64_t n, Generator& gen, double noise, DType dtype, Device device) {
    SWIRL_CHECK(n > 0, "sample_swiss_roll: n must be positive, got {}", n);
    SWIRL_CHECK(noise >= 0, "sample_swiss_roll: noise must be >= 0, got {}", noise);
    const double pi = std::numbers::pi;
    Tensor u = Tensor::empty({n, 1}, dtype, device);
    uniform_(u, gen);
    Tensor t = add_scalar(scale(u, 3.0 * pi), 1.5 * pi);  // 1.5 pi (1 + 2u)
    Tensor first = mul(t, sin(t));                        // sklearn's z
    Tensor second = neg(mul(t, cos(t)));                  // -(sklearn's x)
    if (noise > 0) {
        Tensor jitter = Tensor::empty({n, 2}, dtype, device);
        normal_(jitter, gen, 0.0, noise);
        return scale(add(concat_cols({first, second}), jitter), 0.1);
    }
    return scale(concat_cols({first, second}), 0.1);
}

}  // namespace swirl::diffusion
