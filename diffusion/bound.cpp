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
    report.kl_per_step_bits.assign(static_cast<std::size_t>(schedule.steps() + 1), 0.0);
    double kl_total = 0.0;
    std::vector<double> kl_per_point(static_cast<std::size_t>(n), 0.0);  // summed over the steps
    for (int64_t t = 2; t <= schedule.steps(); ++t) {
        ForwardSample q = forward_process(schedule, x0_scaled, noise[static_cast<std::size_t>(t - 2)], t);
        ReverseStep p = model.forward(Variable(q.xt), t, schedule);
        // KL summed over dimensions, averaged over points: sum of all elements / n.
        const Variable std_q(Tensor::full({}, q.posterior_std, x0.dtype(), x0.device()));
        const Tensor kl_points = sum(p.kl_from(Variable(q.posterior_mean), std_q).data().to(DType::f64), 1);
        const double kl = sum(kl_points).item() / static_cast<double>(n);
        const std::vector<double> values = kl_points.to_vector();
        for (std::size_t i = 0; i < values.size(); ++i) kl_per_point[i] += values[i];
        report.kl_per_step_bits[static_cast<std::size_t>(t)] = kl / ln2;
        kl_total += kl;
    }
    // K is a mean over points of -(their KL sum) plus constants: its error is their sum's.
    report.K_se_bits = mean_and_error(kl_per_point).standard_error / ln2;
    report.H_q_T = entropy_q_final(schedule, d);
    report.H_q_1 = entropy_q_first(schedule, d);
    report.H_p_T = entropy_p_final(d);
    // On the scaled data, then for the data itself: p_x(x) = p_scaled(s x) s^d.
    report.K_nats = -kl_total + report.H_q_T - report.H_q_1 - report.H_p_T + static_cast<double>(d) * std::log(data_scale);
    report.K_bits = report.K_nats / ln2;

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
