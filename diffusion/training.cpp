// The training step and its FLOP count.
#include "diffusion/training.h"

#include "autograd/functions.h"
#include "diffusion/swiss_roll.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

Tensor training_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                     int64_t batch, TSampling t_sampling, Generator& gen) {
    const Tensor& like = model.parameters().front().data();
    Tensor x0 = sample_swiss_roll(batch, gen, 0.0, like.dtype(), like.device());
    if (model.config().data_scale != 1.0) x0 = scale(x0, model.config().data_scale);
    const std::vector<StepGroup> groups = draw_steps(batch, model.config().steps, t_sampling, gen);
    Tensor eps = Tensor::empty(x0.shape(), x0.dtype(), x0.device());
    normal_(eps, gen);
    Variable loss;
    if (learned == nullptr) {
        loss = kl_objective(model, schedule, x0, groups, eps);
    } else {
        const Variable table = learned->coefficient_table();  // float64 on the CPU
        loss = autograd::add(kl_objective(model, autograd::to(table, x0.dtype(), x0.device()), x0, groups, eps),
                             autograd::to(final_entropy_term(table), x0.dtype(), x0.device()));
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    return loss.data();
}

double training_flops_per_sample(const ModelConfig& config) {
    const double d = static_cast<double>(config.data_dim), h = static_cast<double>(config.hidden);
    // Multiply-adds of the four layers d->H, H->H (head), H->H, H->2d (one tail).
    const double forward = d * h + h * h + h * h + h * 2 * d;
    // Backward: weight gradients of all four layers, input gradients of all but the first (x needs none).
    const double backward = forward + (h * h + h * h + h * 2 * d);
    return 2.0 * (forward + backward);
}

}  // namespace swirl::diffusion
