// The noise schedule of the 2015 model: betas = sigmoid(linspace(-18, 10, T)) * (3e-1 - 1e-5) + 1e-5, and the
// constants of the forward process and its posterior derived from it. Computed in float64 on the host; t is
// 1-based throughout, as in the paper and the seed (t = 1..T).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace swirl::diffusion {

struct ScheduleConfig {
    int64_t steps = 40;                             // T
    double sigmoid_start = -18.0, sigmoid_end = 10.0;  // the linspace fed to the sigmoid
    double beta_min = 1e-5, beta_max = 3e-1;
};

class Schedule {
public:
    explicit Schedule(const ScheduleConfig& config = {});

    int64_t steps() const { return config_.steps; }
    const ScheduleConfig& config() const { return config_; }
    // 1-based: beta(1) .. beta(T).
    double beta(int64_t t) const;
    double alpha(int64_t t) const { return 1.0 - beta(t); }
    double alpha_bar(int64_t t) const;  // prod_{s=1..t} alpha(s); alpha_bar(0) = 1

    // x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
    double signal_scale(int64_t t) const;  // sqrt(alpha_bar_t)
    double noise_scale(int64_t t) const;   // sqrt(1 - alpha_bar_t)
    // q(x_{t-1} | x_t, x_0) = N(x0_coef x_0 + xt_coef x_t, posterior_std^2 I), for t = 2..T.
    double posterior_x0_coef(int64_t t) const;  // sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)
    double posterior_xt_coef(int64_t t) const;  // sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
    double posterior_std(int64_t t) const;      // sqrt((1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t)

    // The five per-step constants above as a table [T + 1, 5] (row t; row 0 and 1 unused but finite), in the
    // working dtype and device, for picking one row per sample. Made once per dtype and device and kept (a GPU
    // receives it once, not every training step): read it, never write into it. Not thread-safe, like the rest
    // of a model's state.
    Tensor coefficient_table(DType dtype, Device device) const;
    enum Column : int64_t { kSignal = 0, kNoise, kPosteriorX0, kPosteriorXt, kPosteriorStd, kColumns };

private:
    void check_step(int64_t t, int64_t first) const;

    ScheduleConfig config_;
    std::vector<double> betas_, alpha_bars_;  // index t - 1
    mutable std::vector<Tensor> tables_;      // coefficient_table's, one per dtype and device asked for
};

}  // namespace swirl::diffusion
