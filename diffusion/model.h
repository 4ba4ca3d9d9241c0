// The reverse model p(x_{t-1} | x_t) of the seed: a shared head Linear(2,H) ReLU Linear(H,H) ReLU and one tail
// Linear(H,H) ReLU Linear(H,4) per step; a tail's output splits into the mean and the log-variance.
// Parameter names match the seed's PyTorch state_dict(): network_head.0.weight ... network_tail.39.2.bias.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"

namespace swirl::diffusion {

struct ModelConfig {
    int64_t steps = 40;   // T: one tail per step (the seed builds T tails and uses those of t = 2..T)
    int64_t data_dim = 2;
    int64_t hidden = 64;  // H
};

// The reverse step's Gaussian for each row: mean [B, d] and log-variance [B, d], the two halves of a tail's output.
struct ReverseStep {
    Variable mean, log_var;
    // The standard deviation as the seed computes it, sqrt(exp(log-variance)).
    Variable std() const;
};

// A block of rows that share one diffusion step t: rows [begin, end) of the batch.
struct StepGroup {
    int64_t t, begin, end;
};

class ReverseModel : public nn::Module {
public:
    ReverseModel(const ModelConfig& config, Generator& gen, DType dtype = DType::f32, Device device = Device::cpu());

    // xt [B, d], every row at step t (1-based, 2..T): the seed's MLP.forward(xt, t - 1).
    ReverseStep forward(const Variable& xt, int64_t t);
    // xt [B, d] whose rows are grouped by step (groups tile [0, B) in order): each group's rows go through the
    // head and their own tail, all of it one autograd::mlp.
    ReverseStep forward_grouped(const Variable& xt, const std::vector<StepGroup>& groups);

    const ModelConfig& config() const { return config_; }

    std::shared_ptr<nn::Sequential> network_head;
    std::shared_ptr<nn::ModuleList<nn::Sequential>> network_tail;

private:
    ReverseStep split_output(const Variable& out);
    nn::Sequential& tail(int64_t t);

    ModelConfig config_;
};

}  // namespace swirl::diffusion
