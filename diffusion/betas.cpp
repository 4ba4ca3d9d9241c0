// The betas and their running products.
#include "diffusion/betas.h"

#include <utility>

#include "tensor/error.h"

namespace swirl::diffusion {

ForwardBetas::ForwardBetas(std::vector<double> betas) : betas_(std::move(betas)) {
    double alpha_bar = 1.0;
    for (double beta : betas_) {
        alpha_bar *= 1.0 - beta;
        alpha_bars_.push_back(alpha_bar);
    }
}

void ForwardBetas::check_step(int64_t t, int64_t first) const {
    SWIRL_CHECK(first <= t && t <= steps(), "diffusion step t = {} is out of range [{}, {}]", t, first, steps());
}

double ForwardBetas::beta(int64_t t) const {
    check_step(t, 1);
    return betas_[static_cast<std::size_t>(t - 1)];
}

double ForwardBetas::alpha_bar(int64_t t) const {
    check_step(t, 0);
    return t == 0 ? 1.0 : alpha_bars_[static_cast<std::size_t>(t - 1)];
}

}  // namespace swirl::diffusion
