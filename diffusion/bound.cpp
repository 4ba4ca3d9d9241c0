// The log-likelihood bound K, its entropy terms, and the energy distance used by `swirl eval`.
#include "diffusion/bound.h"

#include <cmath>
#include <numbers>

#include "autograd/functions.h"
#include "diffusion/objective.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

namespace {
const double kGaussianEntropyPerDim = 0.5 * (1.0 + std::log(2.0 * std::numbers::pi));
}

MeanAndError mean_and_error(const std::vector<double>& values) {
    SWIRL_CHECK(values.size() >= 2, "mean_and_error: needs at least 2 values, got {}", values.size());
    const auto n = static_cast<double>(values.size());
    double mean = 0.0;
    for (double v : values) mean += v;
    mean /= n;
    double square_sum = 0.0;
    for (double v : values) square_sum += (v - mean) * (v - mean);
    return {mean, std::sqrt(square_sum / (n - 1.0) / n)};
}

BoundSum::BoundSum(int64_t items, int64_t steps)
    : kl_sum_(static_cast<std::size_t>(items), 0.0), step_mean_(static_cast<std::size_t>(steps + 1), 0.0),
      step_se_(static_cast<std::size_t>(steps + 1), 0.0) {
    SWIRL_CHECK(items >= 2 && steps >= 2, "BoundSum: needs at least 2 items and 2 steps, got {} and {}", items, steps);
}

void BoundSum::add_step(int64_t t, const std::vector<double>& kl_nats) {
    SWIRL_CHECK(t >= 2 && t < static_cast<int64_t>(step_mean_.size()) && kl_nats.size() == kl_sum_.size(),
                "BoundSum: step {} with {} values, expected 2..{} with {}", t, kl_nats.size(), step_mean_.size() - 1,
                kl_sum_.size());
    for (std::size_t i = 0; i < kl_nats.size(); ++i) kl_sum_[i] += kl_nats[i];
    const MeanAndError step = mean_and_error(kl_nats);
    step_mean_[static_cast<std::size_t>(t)] = step.mean;
    step_se_[static_cast<std::size_t>(t)] = step.standard_error;
}

void BoundSum::finish(BoundParts& parts, double shift_nats) const {
    const double bits = 1.0 / std::log(2.0);
    // K_i = constant - (item i's KL sum): the mean moves with the constant, the error is the KL sums'.
    const MeanAndError kl = mean_and_error(kl_sum_);
    parts.K_bits = (-kl.mean + parts.H_q_T - parts.H_q_1 - parts.H_p_T + shift_nats) * bits;
    parts.K_se_bits = kl.standard_error * bits;
    parts.kl_per_step_bits.resize(step_mean_.size());
    parts.kl_se_per_step_bits.resize(step_se_.size());
    for (std::size_t t = 0; t < step_mean_.size(); ++t) {
        parts.kl_per_step_bits[t] = step_mean_[t] * bits;
        parts.kl_se_per_step_bits[t] = step_se_[t] * bits;
    }
}

double entropy_q_final(const Schedule& schedule, int64_t d) {
    return static_cast<double>(d) * (kGaussianEntropyPerDim + 0.5 * std::log(1.0 - schedule.alpha_bar(schedule.steps())));
}

double entropy_q_first(const Schedule& schedule, int64_t d) {
    return static_cast<double>(d) * (kGaussianEntropyPerDim + 0.5 * std::log(schedule.beta(1)));
}

double entropy_p_final(int64_t d) { return static_cast<double>(d) * kGaussianEntropyPerDim; }

BoundReport likelihood_bound(ReverseModel& model, const Schedule& schedule, const Tensor& x0, Generator& gen) {
    std::vector<Tensor> noise;
    for (int64_t t = 2; t <= schedule.steps(); ++t) {
        noise.push_back(Tensor::empty(x0.shape(), x0.dtype(), x0.device()));
        normal_(noise.back(), gen);
    }
    return likelihood_bound(model, schedule, x0, noise);
}

BoundReport likelihood_bound(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                             const std::vector<Tensor>& noise) {
    SWIRL_CHECK(x0.rank() == 2 && x0.dim(0) > 1, "likelihood_bound: expected data [n > 1, d], got {}",
                shape_str(x0.shape()));
    SWIRL_CHECK(schedule.steps() == model.config().steps && static_cast<int64_t>(noise.size()) == schedule.steps() - 1,
                "likelihood_bound: the model has {} steps, the schedule {}, and there are {} noise draws for t = 2..T",
                model.config().steps, schedule.steps(), noise.size());
    NoGradGuard no_grad;
    const int64_t n = x0.dim(0), d = x0.dim(1);
    const double ln2 = std::log(2.0), data_scale = model.config().data_scale;
    const Tensor x0_scaled = data_scale == 1.0 ? x0 : scale(x0, data_scale);
    BoundReport report;
    BoundSum bound(n, schedule.steps());
    for (int64_t t = 2; t <= schedule.steps(); ++t) {
        ForwardSample q = forward_process(schedule, x0_scaled, noise[static_cast<std::size_t>(t - 2)], t);
        ReverseStep p = model.forward(Variable(q.xt), t, schedule);
        // Each point's KL, summed over its dimensions.
        const Variable std_q(Tensor::full({}, q.posterior_std, x0.dtype(), x0.device()));
        bound.add_step(t, sum(p.kl_from(Variable(q.posterior_mean), std_q).data().to(DType::f64), 1).to_vector());
    }
    report.H_q_T = entropy_q_final(schedule, d);
    report.H_q_1 = entropy_q_first(schedule, d);
    report.H_p_T = entropy_p_final(d);
    // On the scaled data, then for the data itself: p_x(x) = p_scaled(s x) s^d.
    bound.finish(report, static_cast<double>(d) * std::log(data_scale));
    report.K_nats = report.K_bits * ln2;

    // Standardise with one constant for all dimensions (the paper's unit-variance convention).
    const Tensor data = x0.to(DType::f64).to(Device::cpu());
    const Tensor mean = scale(sum(data, 0), 1.0 / static_cast<double>(n));  // [1, d]
    const Tensor centred = sub(data, mean);
    const double variance = sum(square(centred)).item() / static_cast<double>(n * d);
    report.data_std = std::sqrt(variance);
    report.K_unit_bits = (report.K_nats + static_cast<double>(d) * std::log(report.data_std)) / ln2;
    // mean log N(y; 0, I) = -d/2 log(2 pi) - mean |y|^2 / 2, and the standardised data has mean |y|^2 = d.
    report.L_null_bits = -0.5 * static_cast<double>(d) * (std::log(2.0 * std::numbers::pi) + 1.0) / ln2;
    report.K_minus_L_null_bits = report.K_unit_bits - report.L_null_bits;
    return report;
}

double energy_distance(const Tensor& a, const Tensor& b) {
    check_matrix(a, "energy_distance", "a");
    check_matrix(b, "energy_distance", "b");
    SWIRL_CHECK(a.dim(1) == b.dim(1), "energy_distance: dimensions differ, {} vs {}", shape_str(a.shape()),
                shape_str(b.shape()));
    const std::vector<double> x = a.to_vector(), y = b.to_vector();
    const int64_t d = a.dim(1);
    auto mean_distance = [d](const std::vector<double>& p, const std::vector<double>& q) {
        const int64_t np = static_cast<int64_t>(p.size()) / d, nq = static_cast<int64_t>(q.size()) / d;
        double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
        for (int64_t i = 0; i < np; ++i) {
            double row = 0.0;
            for (int64_t j = 0; j < nq; ++j) {
                double s = 0.0;
                for (int64_t k = 0; k < d; ++k) {
                    const double diff = p[i * d + k] - q[j * d + k];
                    s += diff * diff;
                }
                row += std::sqrt(s);
            }
            total += row;
        }
        return total / static_cast<double>(np * nq);
    };
    return 2.0 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y);
}

}  // namespace swirl::diffusion
