// Adam's update loop and its checkpointed state.
#include "nn/adam.h"

#include <cmath>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::nn {

Adam::Adam(std::vector<Variable> parameters, AdamOptions options)
    : parameters_(std::move(parameters)), options_(options) {
    SWIRL_CHECK(std::isfinite(options.lr) && options.lr >= 0, "Adam: lr must be a finite number >= 0, got {}", options.lr);
    SWIRL_CHECK(0 <= options.beta1 && options.beta1 < 1 && 0 <= options.beta2 && options.beta2 < 1,
                "Adam: betas must be in [0, 1), got ({}, {})", options.beta1, options.beta2);
    SWIRL_CHECK(options.eps >= 0 && options.weight_decay >= 0, "Adam: eps and weight_decay must be >= 0, got {} and {}",
                options.eps, options.weight_decay);
    for (const Variable& parameter : parameters_) {
        const Tensor& data = parameter.data();
        states_.push_back({Tensor::zeros(data.shape(), data.dtype(), data.device()),
                           Tensor::zeros(data.shape(), data.dtype(), data.device()), 0});
    }
}

void Adam::step() {
    // Every parameter with a gradient in one multi-tensor update (one launch per 16 tensors on a GPU); those
    // without one (a tail no sample of the batch used) are skipped and keep their step count, as in PyTorch.
    std::vector<AdamTarget> targets;
    targets.reserve(parameters_.size());
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        Variable& parameter = parameters_[i];
        if (!parameter.grad().defined()) continue;
        ParameterState& state = states_[i];
        ++state.step;
        targets.push_back({&parameter.data(), &parameter.grad(), &state.exp_avg, &state.exp_avg_sq, state.step});
    }
    adam_update_(targets, options_);
}

void Adam::zero_grad() {
    for (Variable& parameter : parameters_) parameter.zero_grad();
}

NamedTensors Adam::state(const std::string& prefix) const {
    NamedTensors out;
    for (std::size_t i = 0; i < states_.size(); ++i) {
        out.emplace_back(fmt::format("{}{}.exp_avg", prefix, i), states_[i].exp_avg);
        out.emplace_back(fmt::format("{}{}.exp_avg_sq", prefix, i), states_[i].exp_avg_sq);
        out.emplace_back(fmt::format("{}{}.step", prefix, i), Tensor::from_indices({states_[i].step}));
    }
    return out;
}

void Adam::load_state(const SafetensorsContents& file, const std::string& prefix) {
    for (std::size_t i = 0; i < states_.size(); ++i) {
        ParameterState& state = states_[i];
        for (Tensor* moment : {&state.exp_avg, &state.exp_avg_sq}) {
            const std::string name = fmt::format("{}{}.{}", prefix, i, moment == &state.exp_avg ? "exp_avg" : "exp_avg_sq");
            SWIRL_CHECK(file.contains(name), "Adam state: missing '{}'", name);
            const Tensor& stored = file.at(name);
            SWIRL_CHECK(stored.shape() == moment->shape(), "Adam state: '{}' has shape {}, expected {}", name,
                        shape_str(stored.shape()), shape_str(moment->shape()));
            copy_(*moment, stored);
        }
        const std::string step_name = fmt::format("{}{}.step", prefix, i);
        SWIRL_CHECK(file.contains(step_name), "Adam state: missing '{}'", step_name);
        const Tensor& step = file.at(step_name);
        SWIRL_CHECK(step.dtype() == DType::i64 && step.numel() == 1 && step.to_indices()[0] >= 0,
                    "Adam state: '{}' must be one non-negative i64", step_name);
        state.step = step.to_indices()[0];
    }
}

}  // namespace swirl::nn
