// How a tail's output [B, 2d] = (a, b) becomes the reverse step's Gaussian p(x_{t-1} | x_t) = N(mean, exp(log_var)).
//
// The mean (--param):
//   mean - the seed: mean = a.
//   eps  - a predicts the forward noise (Ho et al. 2020): mean = (x_t - beta_t / sqrt(1 - abar_t) a) / sqrt(alpha_t),
//          which is the posterior mean with x_0 estimated as (x_t - sqrt(1 - abar_t) a) / sqrt(abar_t).
// The variance (--variance):
//   free    - the seed: log_var = b.
//   bounded - between the posterior's variance and beta_t, the two ends the true reverse variance lies between
//             (data concentrated at a point, and unit-variance data), on a log scale through a sigmoid (the
//             paper's appendix D bounds its covariance with a sigmoid; Nichol & Dhariwal 2021 interpolate the two
//             ends): log_var = log posterior_var + sigmoid(b) (log beta_t - log posterior_var).
#pragma once

#include <string>

#include "autograd/variable.h"

namespace swirl::diffusion {

enum class MeanParam { mean, eps };
enum class VarianceParam { free, bounded };
MeanParam parse_mean_param(const std::string& name);              // "mean" or "eps"; throws otherwise
VarianceParam parse_variance_param(const std::string& name);      // "free" or "bounded"; throws otherwise
const char* mean_param_name(MeanParam param);
const char* variance_param_name(VarianceParam param);

// The reverse step's Gaussian for each row: mean [B, d] and log-variance [B, d].
struct ReverseStep {
    Variable mean, log_var;
    // The standard deviation as the seed computes it, sqrt(exp(log-variance)).
    Variable std() const;
};

// out [B, 2d] (a tail's output), xt [B, d], and each row's schedule constants [B, Schedule::kColumns]
// (diffusion/schedule.h) -> the reverse step. Differentiable in all three.
ReverseStep reverse_step(const Variable& out, const Variable& xt, const Variable& coefficients, MeanParam mean_param,
                         VarianceParam variance_param);

}  // namespace swirl::diffusion
