// The paper's lower bound K on the log-likelihood (Sohl-Dickstein et al. 2015, eq. 14):
//   K = - sum_{t=2..T} E[ KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) ] + H_q(X_T | X_0) - H_q(X_1 | X_0) - H_p(X_T)
// with the KL summed over the d data dimensions, and the entropies of Gaussians:
//   H_q(X_T | X_0) = d/2 (1 + log 2 pi) + d/2 log(1 - abar_T),  H_q(X_1 | X_0) = d/2 (1 + log 2 pi) + d/2 log beta_1,
//   H_p(X_T) = d/2 (1 + log 2 pi).
#pragma once

#include <vector>

#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::diffusion {

// The parts of K every diffusion kernel reports (the Gaussian's below, the binomial's in binomial_model.h), per
// held-out item: a point of the swiss roll, a sequence of the heartbeat.
struct BoundParts {
    double K_bits = 0, K_se_bits = 0;         // K's mean over the items, and the standard error of that mean
    double L_null_bits = 0;                   // the null model's log-likelihood
    double K_minus_L_null_bits = 0;           // Table 1 of the paper
    double H_q_T = 0, H_q_1 = 0, H_p_T = 0;   // nats
    std::vector<double> kl_per_step_bits;     // index t (2..T), the mean over items; entries 0 and 1 are 0
    std::vector<double> kl_se_per_step_bits;  // their standard errors
};

// K from the KLs of each held-out item, step by step: K_i = -sum_t KL_i,t + H_q(X_T | X_0) - H_q(X_1 | X_0)
// - H_p(X_T) + shift, then their mean and its standard error. Both kernels' bounds add their steps' KLs here.
class BoundSum {
public:
    BoundSum(int64_t items, int64_t steps);
    // KL_i,t in nats, one value per item (summed over its dimensions), for t = 2..T.
    void add_step(int64_t t, const std::vector<double>& kl_nats);
    // Sets parts' K, K's error and the per-step KLs from the entropy terms already in parts; shift_nats is added to
    // every K_i (the Gaussian's d log data_scale).
    void finish(BoundParts& parts, double shift_nats = 0.0) const;

private:
    std::vector<double> kl_sum_;  // per item, nats
    std::vector<double> step_mean_, step_se_;  // per step, nats
};

// The swiss roll's: K also in nats and for unit-variance data (the paper's Table 1: K = 2.35, K - L_null = 6.45
// bits), with L_null = mean log N(y; 0, I) of the standardised data y = (x - mean) / data_std.
struct BoundReport : BoundParts {
    double K_nats = 0;       // per point, on the data as given
    double data_std = 0;     // one constant for all dimensions: sqrt(mean per-dimension variance)
    double K_unit_bits = 0;  // after scaling the data by 1 / data_std: K + d log(data_std)
};

// Evaluates K on held-out data x0 [n, d] (on the data's own scale: the model's data_scale is applied here, and K
// is reported for the unscaled data, K = K_scaled + d log data_scale), drawing the forward noise from gen (one
// draw [n, d] per step t = 2..T, in that order) ...
BoundReport likelihood_bound(ReverseModel& model, const Schedule& schedule, const Tensor& x0, Generator& gen);
// ... or with the noise given: noise[t - 2] [n, d] for t = 2..T.
BoundReport likelihood_bound(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                             const std::vector<Tensor>& noise);

// The mean of values (at least 2) and the standard error of that mean, sd / sqrt(n): K's error over held-out data.
struct MeanAndError {
    double mean = 0, standard_error = 0;
};
MeanAndError mean_and_error(const std::vector<double>& values);

// The three entropy terms of K, in nats, for d dimensions.
double entropy_q_final(const Schedule& schedule, int64_t d);  // H_q(X_T | X_0)
double entropy_q_first(const Schedule& schedule, int64_t d);  // H_q(X_1 | X_0)
double entropy_p_final(int64_t d);                            // H_p(X_T)

// Energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| between two point sets [n, d] and [m, d] (V-statistics).
double energy_distance(const Tensor& a, const Tensor& b);

}  // namespace swirl::diffusion
