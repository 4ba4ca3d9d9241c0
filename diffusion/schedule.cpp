// The sigmoid beta schedule and its derived constants, in float64.
#include "diffusion/schedule.h"

#include <cmath>

#include "tensor/error.h"

namespace swirl::diffusion {

Schedule::Schedule(const ScheduleConfig& config) : config_(config) {
    SWIRL_CHECK(config.steps >= 2, "Schedule: needs at least 2 steps, got {}", config.steps);
    SWIRL_CHECK(0 < config.beta_min && config.beta_min <= config.beta_max && config.beta_max < 1,
                "Schedule: betas must satisfy 0 < beta_min <= beta_max < 1, got {} and {}", config.beta_min,
                config.beta_max);
    double alpha_bar = 1.0;
    for (int64_t i = 0; i < config.steps; ++i) {
        // torch.linspace(start, end, T)[i] = start + i * (end - start) / (T - 1)
        const double x = config.sigmoid_start +
                         static_cast<double>(i) * (config.sigmoid_end - config.sigmoid_start) /
                             static_cast<double>(config.steps - 1);
        const double beta = 1.0 / (1.0 + std::exp(-x)) * (config.beta_max - config.beta_min) + config.beta_min;
        alpha_bar *= 1.0 - beta;
        betas_.push_back(beta);
        alpha_bars_.push_back(alpha_bar);
    }
}

void Schedule::check_step(int64_t t, int64_t first) const {
    SWIRL_CHECK(first <= t && t <= config_.steps, "diffusion step t = {} is out of range [{}, {}]", t, first,
                config_.steps);
}

double Schedule::beta(int64_t t) const {
    check_step(t, 1);
    return betas_[static_cast<std::size_t>(t - 1)];
}

double Schedule::alpha_bar(int64_t t) const {
    check_step(t, 0);
    return t == 0 ? 1.0 : alpha_bars_[static_cast<std::size_t>(t - 1)];
}

double Schedule::signal_scale(int64_t t) const { return std::sqrt(alpha_bar(t)); }
double Schedule::noise_scale(int64_t t) const { return std::sqrt(1.0 - alpha_bar(t)); }

double Schedule::posterior_x0_coef(int64_t t) const {
    check_step(t, 2);
    return std::sqrt(alpha_bar(t - 1)) * beta(t) / (1.0 - alpha_bar(t));
}

double Schedule::posterior_xt_coef(int64_t t) const {
    check_step(t, 2);
    return std::sqrt(alpha(t)) * (1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t));
}

double Schedule::posterior_std(int64_t t) const {
    check_step(t, 2);
    return std::sqrt((1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t)) * beta(t));
}

Tensor Schedule::coefficient_table(DType dtype, Device device) const {
    for (const Tensor& table : tables_)
        if (table.dtype() == dtype && table.device() == device) return table;
    std::vector<double> table(static_cast<std::size_t>((steps() + 1) * kColumns), 0.0);
    for (int64_t t = 2; t <= steps(); ++t) {
        double* row = table.data() + t * kColumns;
        row[kSignal] = signal_scale(t);
        row[kNoise] = noise_scale(t);
        row[kPosteriorX0] = posterior_x0_coef(t);
        row[kPosteriorXt] = posterior_xt_coef(t);
        row[kPosteriorStd] = posterior_std(t);
    }
    for (int64_t t = 0; t < 2; ++t) table[static_cast<std::size_t>(t * kColumns + kPosteriorStd)] = 1.0;
    tables_.push_back(Tensor::from_vector(table, {steps() + 1, kColumns}, dtype, device));
    return tables_.back();
}

}  // namespace swirl::diffusion
