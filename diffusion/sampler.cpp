// Ancestral sampling through the reverse model.
#include "diffusion/sampler.h"

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

std::vector<Tensor> sample_trajectory(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen) {
    SWIRL_CHECK(n > 0, "sample: n must be positive, got {}", n);
    NoGradGuard no_grad;
    const ModelConfig& config = model.config();
    const Tensor& like = model.like();
    std::vector<Tensor> trajectory(static_cast<std::size_t>(config.steps + 1));
    Tensor x = Tensor::empty({n, config.data_dim}, like.dtype(), like.device());
    normal_(x, gen);
    trajectory[static_cast<std::size_t>(config.steps)] = x;
    SWIRL_CHECK(schedule.steps() == config.steps, "sample: the schedule has {} steps, the model {}", schedule.steps(),
                config.steps);
    for (int64_t t = config.steps; t >= 2; --t) {
        ReverseStep p = model.forward(Variable(x), t, schedule);
        Tensor eps = Tensor::empty(x.shape(), x.dtype(), x.device());
        normal_(eps, gen);
        x = p.draw(eps);
        trajectory[static_cast<std::size_t>(t - 1)] = x;
    }
    trajectory[0] = trajectory[1];
    if (config.data_scale != 1.0)
        for (Tensor& points : trajectory) points = scale(points, 1.0 / config.data_scale);
    return trajectory;
}

}  // namespace swirl::diffusion
