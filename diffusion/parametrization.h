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
//   full    - d = 2 only: a full covariance R(theta) diag(exp(log_var)) R(theta)^T, its two variances bounded as
//             above and its axes turned by an angle theta, a third column c of the output [B, 2d + 1] = (a, b, c).
//             Near the data the true reverse step is narrow across the curve and wide along it, in every
//             direction the curve takes; a diagonal covariance can only lie along the x and y axes.
#pragma once

#include <string>

#include "autograd/variable.h"
#include "autograd/functions.h"
#include "diffusion/schedule.h"

namespace swirl::diffusion {

enum class MeanParam { mean, eps };
enum class VarianceParam { free, bounded, full };
MeanParam parse_mean_param(const std::string& name);              // "mean" or "eps"; throws otherwise
VarianceParam parse_variance_param(const std::string& name);      // "free", "bounded" or "full"; throws otherwise
const char* mean_param_name(MeanParam param);
const char* variance_param_name(VarianceParam param);
// The width of a tail's output for data of d dimensions: 2d, or 2d + 1 with the full covariance's angle. Throws
// for the full covariance unless d = 2.
int64_t output_width(int64_t d, VarianceParam variance_param);

// The reverse step's Gaussian for each row: mean [B, d], and the log-variances [B, d] along its axes, which are
// the coordinate axes unless angle [B, 1] (the full covariance) turns them.
struct ReverseStep {
    Variable mean, log_var, angle;
    // The standard deviation along each axis as the seed computes it, sqrt(exp(log-variance)).
    Variable std() const;
    // KL(N(mean_q, std_q^2 I) || this) per row and axis [B, d] (summed over axes: the KL of each row), for an
    // isotropic q as the forward posterior is: mean_q [B, d], std_q [B, 1] or a scalar.
    Variable kl_from(const Variable& mean_q, const Variable& std_q) const;
    // A draw mean + R (std * eps) for standard normal eps [B, d].
    Tensor draw(const Tensor& eps) const;
};

// out [B, output_width(d)] (a tail's output), xt [B, d], and each row's schedule constants (diffusion/schedule.h)
// -> the reverse step. Differentiable in all three.
ReverseStep reverse_step(const Variable& out, const Variable& xt, const StepConstants& constants, MeanParam mean_param,
                         VarianceParam variance_param);

// The same reading of a tail's output for the one-pass objective (autograd::GaussianHead): from xt [B, d] and the
// rows' constants (which carry a learned schedule's gradients).
autograd::GaussianHead gaussian_head(const Variable& xt, const StepConstants& constants, MeanParam mean_param,
                                     VarianceParam variance_param);

}  // namespace swirl::diffusion
