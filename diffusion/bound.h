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

struct BoundReport {
    double K_nats = 0, K_bits = 0;          // per point, on the data as given
    double K_se_bits = 0;                    // the standard error of K_bits's mean over the held-out points
    double data_std = 0;                     // one constant for all dimensions: sqrt(mean per-dimension variance)
    double K_unit_bits = 0;                  // after scaling the data by 1 / data_std: K + d log(data_std)
    double L_null_bits = 0;                  // mean log N(y; 0, I) of the standardised data y = (x - mean) / data_std
    double K_minus_L_null_bits = 0;          // Table 1 of the paper: K = 2.35, K - L_null = 6.45 bits
    double H_q_T = 0, H_q_1 = 0, H_p_T = 0;  // nats
    std::vector<double> kl_per_step_bits;    // index t (2..T); entries 0 and 1 are 0
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
