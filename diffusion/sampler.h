// The seed's ancestral sampler: x_T ~ N(0, I), then x_{t-1} = mean + std * eps through the heads for
// t = T..2; step t = 1 is left as the identity. Runs under NoGradGuard.
#pragma once

#include <vector>

#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::diffusion {

// The whole trajectory, indexed by t: trajectory[T] = x_T, ..., trajectory[1] = the final samples, and
// trajectory[0] = trajectory[1] (the identity step), as the seed's reversed list. Each is [n, d], on the data's
// own scale (divided by the model's data_scale).
std::vector<Tensor> sample_trajectory(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen);

}  // namespace swirl::diffusion
