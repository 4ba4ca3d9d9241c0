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
//
// Data parallel (tensor/distributed/): with `shards` S > 1, or under mpirun, the batch's rows are cut into S
// equal shards, each with its own forward and backward; their gradients are added in a fixed pairwise tree, and
// this rank computes shards [rank S/N, (rank + 1) S/N) of the N ranks. The result depends on S, never on N.
// With S = 1 in one process it is the plain step above, one forward and backward of the whole batch.
Tensor training_step(ReverseModel& model, nn::Adam& optimizer, const Schedule& schedule, const LearnedSchedule* learned,
                     int64_t batch, TSampling t_sampling, Generator& gen, int64_t shards = 1);

// Throws unless `shards` is a power of two no larger than the batch that `ranks` (a power of two) divides.
void check_shards(int64_t shards, int64_t batch, int ranks);

// Floating-point operations of one training step per sample (forward and backward through the head and one
// tail; a multiply-add counts as two): about 51 kFLOP for the seed's d = 2, H = 64.
double training_flops_per_sample(const ModelConfig& config);

}  // namespace swirl::diffusion
