// Step drawing, the forward process with its posterior, and the KL objective.
#include "diffusion/objective.h"

#include <cmath>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/ops.h"

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

ForwardSample forward_process(const Schedule& schedule, const Tensor& x0, const Tensor& eps, int64_t t) {
    check_same_shape(x0, eps, "forward_process");
    Tensor xt = add(scale(x0, schedule.signal_scale(t)), scale(eps, schedule.noise_scale(t)));
    Tensor posterior_mean = add(scale(x0, schedule.posterior_x0_coef(t)), scale(xt, schedule.posterior_xt_coef(t)));
    return {xt, posterior_mean, schedule.posterior_std(t)};
}

Variable gaussian_kl(const Tensor& mean_q, double std_q, const Variable& mean_p, const Variable& std_p) {
    Variable mismatch = ag::add_scalar(ag::square(ag::sub(Variable(mean_q), mean_p)), std_q * std_q);
    Variable ratio = ag::div(mismatch, ag::scale(ag::square(std_p), 2.0));
    return ag::add_scalar(ag::add(ag::log(std_p), ratio), -std::log(std_q) - 0.5);
}

Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, Generator& gen) {
    Tensor eps = Tensor::empty(x0.shape(), x0.dtype(), x0.device());
    normal_(eps, gen);
    return kl_objective(model, schedule, x0, groups, eps);
}

Variable kl_objective(ReverseModel& model, const Schedule& schedule, const Tensor& x0,
                      const std::vector<StepGroup>& groups, const Tensor& eps) {
    check_same_shape(x0, eps, "kl_objective");
    // x_t and the posterior for each group's rows, written into whole-batch tensors.
    Tensor xt = Tensor::empty(x0.shape(), x0.dtype(), x0.device());
    std::vector<ForwardSample> samples;
    for (const StepGroup& g : groups) {
        samples.push_back(forward_process(schedule, x0.rows(g.begin, g.end), eps.rows(g.begin, g.end), g.t));
        Tensor block = xt.rows(g.begin, g.end);
        copy_(block, samples.back().xt);
    }
    ReverseStep p = model.forward_grouped(Variable(xt), groups);
    Variable total;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const StepGroup& g = groups[i];
        Variable kl = ag::sum(gaussian_kl(samples[i].posterior_mean, samples[i].posterior_std,
                                          ag::slice_rows(p.mean, g.begin, g.end), ag::slice_rows(p.std, g.begin, g.end)));
        total = total.defined() ? ag::add(total, kl) : kl;
    }
    return ag::scale(total, 1.0 / static_cast<double>(x0.numel()));  // the mean over rows and dimensions
}

}  // namespace swirl::diffusion
