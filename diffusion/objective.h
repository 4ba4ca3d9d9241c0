// The training objective of the seed: the Gaussian KL between the forward posterior q(x_{t-1} | x_t, x_0) and
// the reverse step p(x_{t-1} | x_t), averaged over the batch and the data dimensions.
#pragma once

#include <string>
#include <vector>

#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::diffusion {

// How the batch's steps are drawn, uniformly from 2..T:
//   batch  - one t for the whole batch (the seed): one head learns per step;
//   sample - one t per sample, rows grouped by t: every head learns every step; same objective in expectation.
enum class TSampling { batch, sample };
TSampling parse_t_sampling(const std::string& name);  // "batch" or "sample"; throws otherwise
const char* t_sampling_name(TSampling mode);

// Draws the steps of a batch of `batch` rows as groups of consecutive rows (one group in batch mode, groups in
// ascending t in sample mode: since the rows are i.i.d., sorting the steps pairs them with data just as well).
std::vector<StepGroup> draw_steps(int64_t batch, int64_t steps, TSampling mode, Generator& gen);

// The forward process at step t for rows x0 [n, d] and noise eps [n, d]:
// x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, and the posterior q(x_{t-1} | x_t, x0) = N(posterior_mean, std^2).
struct ForwardSample {
    Tensor xt, posterior_mean;
    double posterior_std;
};
ForwardSample forward_process(const Schedule& schedule, const Tensor& x0, const Tensor& eps, int64_t t);

// The seed's get_loss for a batch x0 [B, d] whose steps are `groups`, with the forward noise eps [B, d], the
// schedule's constants from `table` [T + 1, kColumns] in x0's dtype and device ...
Variable kl_objective(ReverseModel& model, const Variable& table, const Tensor& x0, const std::vector<StepGroup>& groups,
                      const Tensor& eps);
// ... or from a fixed schedule ...
Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, const Tensor& eps);
// ... with the noise drawn from gen.
Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, Generator& gen);

// -H_q(X_T | X_0) / ((T - 1) d) from a table [T + 1, kColumns]: the part of -K outside the KL terms that the
// schedule moves, scaled like kl_objective (a mean over steps and dimensions), so that kl_objective plus this
// is -K / ((T - 1) d) up to a constant. A learned schedule descends on the sum.
Variable final_entropy_term(const Variable& table);

}  // namespace swirl::diffusion
