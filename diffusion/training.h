// One step of the seed's training loop, shared by `swirl train` and `swirl bench`: fresh swiss-roll data, the
// batch's steps, the KL objective, backward, one Adam update.
#pragma once

#include "diffusion/model.h"
#include "diffusion/objective.h"
#include "nn/adam.h"

namespace swirl::diffusion {

// Returns the step's loss as a one-element tensor on the training device (not read back: no synchronisation).
// The data is the seed's swiss roll times the model's data_scale. The schedule's constants come from `schedule`,
// or from `learned` when it is given: then its logits are among the optimizer's parameters, and the loss also
// carries final_entropy_term, so that the step ascends K in the betas too.
Tensor training_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                     int64_t batch, TSampling t_sampling, Generator& gen);

// Floating-point operations of one training step per sample (forward and backward through the head and one
// tail; a multiply-add counts as two): about 51 kFLOP for the seed's d = 2, H = 64.
double training_flops_per_sample(const ModelConfig& config);

}  // namespace swirl::diffusion
