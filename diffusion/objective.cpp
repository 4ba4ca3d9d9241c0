// Step drawing, the forward process with its posterior, and the KL objective.
#include "diffusion/objective.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/instruments/profile.h"

namespace swirl::diffusion {

namespace ag = swirl::autograd;

TSampling parse_t_sampling(const std::string& name) {
    if (name == "batch") return TSampling::batch;
    if (name == "sample") return TSampling::sample;
    SWIRL_FAIL("unknown t-sampling '{}': expected batch or sample", name);
}

const char* t_sampling_name(TSampling mode) { return mode == TSampling::batch ? "batch" : "sample"; }

namespace {
// Uniform on 2..steps from one uniform in [0, 1).
int64_t step_from_uniform(double u, int64_t steps) {
    return 2 + std::min<int64_t>(static_cast<int64_t>(u * static_cast<double>(steps - 1)), steps - 2);
}
}  // namespace

std::vector<StepGroup> draw_steps(int64_t batch, int64_t steps, TSampling mode, Generator& gen) {
    SWIRL_CHECK(batch > 0, "draw_steps: batch must be positive, got {}", batch);
    if (mode == TSampling::batch) return {{step_from_uniform(gen.uniform(), steps), 0, batch}};
    // Counting sort of i.i.d. draws: counts[t] rows get step t.
    Tensor uniforms = Tensor::empty({batch}, DType::f64);
    uniform_(uniforms, gen);
    std::vector<int64_t> counts(static_cast<std::size_t>(steps + 1), 0);
    const double* u = uniforms.data<double>();
    for (int64_t i = 0; i < batch; ++i) ++counts[static_cast<std::size_t>(step_from_uniform(u[i], steps))];
    std::vector<StepGroup> groups;
    int64_t begin = 0;
    for (int64_t t = 2; t <= steps; ++t) {
        const int64_t count = counts[static_cast<std::size_t>(t)];
        if (count > 0) groups.push_back({t, begin, begin + count});
        begin += count;
    }
    return groups;
}

namespace {
// The forward process and its posterior's mean, written once: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps and
// mean = c_0 x_0 + c_t x_t. The constants C are doubles (one step for all rows) or [B, 1] columns (a step per row,
// which may carry a learned schedule's gradients).
struct ForwardVariables {
    Variable xt, posterior_mean;
};
template <class C>
ForwardVariables forward_and_posterior(const Variable& x0, const Variable& eps, const C& signal, const C& noise,
                                       const C& posterior_x0, const C& posterior_xt) {
    const Variable xt = signal * x0 + noise * eps;
    return {xt, posterior_x0 * x0 + posterior_xt * xt};
}
}  // namespace

ForwardSample forward_process(const Schedule& schedule, const Tensor& x0, const Tensor& eps, int64_t t) {
    check_same_shape(x0, eps, "forward_process");
    NoGradGuard no_grad;
    const ForwardVariables q = forward_and_posterior(Variable(x0), Variable(eps), schedule.signal_scale(t),
                                                     schedule.noise_scale(t), schedule.posterior_x0_coef(t),
                                                     schedule.posterior_xt_coef(t));
    return {q.xt.data(), q.posterior_mean.data(), schedule.posterior_std(t)};
}

Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, Generator& gen) {
    Tensor eps = Tensor::empty(x0.shape(), x0.dtype(), x0.device());
    normal_(eps, gen);
    return kl_objective(model, schedule, x0, groups, eps);
}

namespace {
// The objective given each row's constants (of a fixed schedule or of a learned one's table).
Variable kl_objective(ReverseModel& model, const StepConstants& constants, const Tensor& x0,
                      const std::vector<StepGroup>& groups, const Tensor& eps) {
    check_same_shape(x0, eps, "kl_objective");
    ForwardVariables q;
    auto column = [&](int64_t c) { return constants.column(c); };
    {
        profile::Scope phase("forward process");
        // Each row's step constants as columns [B, 1]: the forward process and the posterior for all rows at once.
        // With a learned schedule the noise is frozen and x_t moves with the betas (the reparametrized forward
        // process).
        q = forward_and_posterior(Variable(x0), Variable(eps), column(Schedule::kSignal), column(Schedule::kNoise),
                                  column(Schedule::kPosteriorX0), column(Schedule::kPosteriorXt));
    }
    if (nn::fusion_enabled()) {
        // The model, the reverse step and the mean KL as one op, which computes the gradients as it goes (its
        // backward only hands them on).
        profile::Scope phase("model, KL, backward");
        return model.gaussian_kl_objective(q.xt, groups, constants, q.posterior_mean, column(Schedule::kPosteriorStd));
    }
    Variable out;  // model.forward(q.xt, groups, constants), in its two parts
    {
        profile::Scope phase("model forward");
        out = model.network(q.xt, groups);
    }
    profile::Scope phase("reverse step and KL");
    const ModelConfig& config = model.config();
    const ReverseStep p = reverse_step(out, q.xt, constants, config.mean_param, config.variance_param);
    // The mean over rows and dimensions, as the seed's KL.mean().
    return ag::mean(p.kl_from(q.posterior_mean, column(Schedule::kPosteriorStd)));
}
}  // namespace

Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, const Tensor& eps) {
    return kl_objective(model, StepConstants(schedule, groups, x0.dim(0), x0.dtype(), x0.device()), x0, groups, eps);
}

Variable kl_objective(ReverseModel& model, const Variable& table, const Tensor& x0, const std::vector<StepGroup>& groups,
                      const Tensor& eps) {
    return kl_objective(model, StepConstants(table, groups, x0.dim(0)), x0, groups, eps);
}

Variable final_entropy_term(const Variable& table) {
    const int64_t T = table.shape()[0] - 1;
    // H_q(X_T | X_0) / d = 0.5 (1 + log 2 pi) + log sqrt(1 - abar_T), and sqrt(1 - abar_T) is row T's noise scale.
    const Variable noise_T = ag::slice_cols(ag::slice_rows(table, T, T + 1), Schedule::kNoise, Schedule::kNoise + 1);
    const double constant = 0.5 * (1.0 + std::log(2.0 * std::numbers::pi));
    return ag::scale(ag::add_scalar(ag::log(ag::sum(noise_T)), constant), -1.0 / static_cast<double>(T - 1));
}

}  // namespace swirl::diffusion
