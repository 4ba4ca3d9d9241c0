// The training step and its FLOP count.
#include "diffusion/training.h"

#include "diffusion/swiss_roll.h"

namespace swirl::diffusion {

Tensor training_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, int64_t batch,
                     TSampling t_sampling, Generator& gen) {
    const Tensor& like = model.parameters().front().data();
    const Tensor x0 = sample_swiss_roll(batch, gen, 0.0, like.dtype(), like.device());
    const std::vector<StepGroup> groups = draw_steps(batch, model.config().steps, t_sampling, gen);
    Variable loss = kl_objective(model, schedule, x0, groups, gen);
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
