// The reverse model p(x_{t-1} | x_t) of the seed: a shared head Linear(2,H) ReLU Linear(H,H) ReLU and one tail
// Linear(H,H) ReLU Linear(H,4) per step; a tail's output becomes the step's mean and log-variance through the
// model's parametrization (diffusion/parametrization.h; the seed's: the two halves as they are).
// Parameter names match the seed's PyTorch state_dict(): network_head.0.weight ... network_tail.39.2.bias.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "diffusion/parametrization.h"
#include "diffusion/schedule.h"
#include "nn/layers.h"

namespace swirl::diffusion {

struct ModelConfig {
    int64_t steps = 40;   // T: one tail per step (the seed builds T tails and uses those of t = 2..T)
    int64_t data_dim = 2;
    int64_t hidden = 64;  // H
    MeanParam mean_param = MeanParam::mean;               // the seed's
    VarianceParam variance_param = VarianceParam::free;   // the seed's
    // The model describes data multiplied by this constant (1: the seed's data; 1 / its standard deviation: the
    // paper's unit-variance data). Samples and likelihoods are reported on the unscaled data.
    double data_scale = 1.0;
};

// How many values (weights and biases) the model of `config` holds: the head's two Linears (d -> H -> H) and the T
// tails' (H -> H -> output_width). What a checkpoint's tensors must add up to before the model is built.
int64_t model_value_count(const ModelConfig& config);

// The plain path's per-step layers, shared by both kernels' models: each group's rows of h through the layer of its
// step, stacked back in order (a single group goes through whole, without slicing).
Variable forward_by_step(const Variable& h, const std::vector<StepGroup>& groups,
                         const std::function<nn::Layer&(int64_t t)>& layer_of);

class ReverseModel : public nn::Module {
public:
    ReverseModel(const ModelConfig& config, Generator& gen, DType dtype = DType::f32, Device device = Device::cpu());

    // xt [B, d] whose rows are grouped by step (groups tile [0, B) in order) -> [B, 2d]: each group's rows go
    // through the head and their own tail, tail(t)(head(xt)). With fusion on (nn::fusion_enabled) all of it is one
    // autograd::mlp; off, the layers run one by one. With one group of step t this is the seed's
    // MLP.forward(xt, t - 1) before its chunk.
    Variable network(const Variable& xt, const std::vector<StepGroup>& groups);
    // The objective in one op (autograd::mlp_gaussian_kl): the mean over rows and dimensions of the KL from
    // q = N(mean_q, std_q^2) to this model's reverse step, given each row's schedule constants;
    // forward, KL and the gradients (the layers'; under a learned schedule x_t's, q's and the constants' too) in
    // one pass over the rows on the CPU. Only with fusion on (nn::fusion_enabled).
    Variable gaussian_kl_objective(const Variable& xt, const std::vector<StepGroup>& groups,
                                   const StepConstants& constants, const Variable& mean_q, const Variable& std_q);
    // The reverse step for grouped rows, given each row's schedule constants.
    ReverseStep forward(const Variable& xt, const std::vector<StepGroup>& groups, const StepConstants& constants);
    // xt [B, d], every row at step t (1-based, 2..T).
    ReverseStep forward(const Variable& xt, int64_t t, const Schedule& schedule);

    const ModelConfig& config() const { return config_; }
    // The head's first weight: a tensor of the dtype and on the device the model trains in, for drawing data
    // there (without collecting every parameter's name, as parameters() does).
    const Tensor& like() const;

    std::shared_ptr<nn::Sequential> network_head;
    std::shared_ptr<nn::ModuleList<nn::Sequential>> network_tail;

private:
    nn::Sequential& tail(int64_t t);
    // The head's layers, then each group's tail, as one stack for autograd::mlp: its layers and row groups.
    struct Stack {
        std::vector<autograd::DenseLayer> layers;
        std::vector<MlpGroup> rows;
    };
    Stack stack(const std::vector<StepGroup>& groups);

    ModelConfig config_;
};

}  // namespace swirl::diffusion
