// The seed's reverse MLP with per-step tails.
#include "diffusion/model.h"

#include <numeric>

#include "autograd/functions.h"
#include "diffusion/objective.h"
#include "tensor/error.h"

namespace swirl::diffusion {

namespace ag = swirl::autograd;

namespace {
std::shared_ptr<nn::Sequential> mlp_block(int64_t in, int64_t hidden, int64_t out, bool relu_after, Generator& gen,
                                          DType dtype, Device device) {
    auto block = std::make_shared<nn::Sequential>();
    block->push_back(std::make_shared<nn::Linear>(in, hidden, gen, dtype, device));
    block->push_back(std::make_shared<nn::ReLU>());
    block->push_back(std::make_shared<nn::Linear>(hidden, out, gen, dtype, device));
    if (relu_after) block->push_back(std::make_shared<nn::ReLU>());
    return block;
}
}  // namespace

ReverseModel::ReverseModel(const ModelConfig& config, Generator& gen, DType dtype, Device device) : config_(config) {
    SWIRL_CHECK(config.steps >= 2 && config.data_dim >= 1 && config.hidden >= 1 && config.data_scale > 0,
                "ReverseModel: needs steps >= 2, data_dim >= 1, hidden >= 1, data_scale > 0; got {}, {}, {}, {}",
                config.steps, config.data_dim, config.hidden, config.data_scale);
    network_head = register_module("network_head",
                                   mlp_block(config.data_dim, config.hidden, config.hidden, true, gen, dtype, device));
    network_tail = register_module("network_tail", std::make_shared<nn::ModuleList<nn::Sequential>>());
    for (int64_t t = 0; t < config.steps; ++t)
        network_tail->push_back(mlp_block(config.hidden, config.hidden, output_width(config.data_dim, config.variance_param),
                                           false, gen, dtype, device));
}

int64_t model_value_count(const ModelConfig& config) {
    const int64_t d = config.data_dim, h = config.hidden, out = output_width(d, config.variance_param);
    return (d * h + h) + (h * h + h) + config.steps * ((h * h + h) + (h * out + out));
}

const Tensor& ReverseModel::like() const { return dynamic_cast<nn::Linear&>((*network_head)[0]).weight.data(); }

nn::Sequential& ReverseModel::tail(int64_t t) {
    SWIRL_CHECK(2 <= t && t <= config_.steps, "ReverseModel: step t = {} is out of range [2, {}]", t, config_.steps);
    return (*network_tail)[static_cast<std::size_t>(t - 1)];
}

ReverseStep ReverseModel::forward(const Variable& xt, const std::vector<StepGroup>& groups, const StepConstants& constants) {
    return reverse_step(network(xt, groups), xt, constants, config_.mean_param, config_.variance_param);
}

ReverseStep ReverseModel::forward(const Variable& xt, int64_t t, const Schedule& schedule) {
    const std::vector<StepGroup> groups{{t, 0, xt.data().dim(0)}};
    const Tensor& x = xt.data();
    return forward(xt, groups, StepConstants(schedule, groups, x.dim(0), x.dtype(), x.device()));
}

Variable forward_by_step(const Variable& h, const std::vector<StepGroup>& groups,
                         const std::function<nn::Layer&(int64_t t)>& layer_of) {
    if (groups.size() == 1) return layer_of(groups.front().t).forward(h);
    std::vector<Variable> outputs;
    for (const StepGroup& group : groups)
        outputs.push_back(layer_of(group.t).forward(ag::slice_rows(h, group.begin, group.end)));
    return ag::concat_rows(outputs);
}

Variable ReverseModel::network(const Variable& xt, const std::vector<StepGroup>& groups) {
    SWIRL_CHECK(!groups.empty(), "ReverseModel: no step groups");
    if (!nn::fusion_enabled()) {
        // The plain path, as the seed writes it: tail(t)(head(x_t)), layer by layer, one block of rows per step.
        return forward_by_step(network_head->forward(xt), groups, [&](int64_t t) -> nn::Layer& { return tail(t); });
    }
    const Stack mlp_stack = stack(groups);  // one autograd::mlp for the whole batch
    return ag::mlp(xt, mlp_stack.layers, mlp_stack.rows);
}

ReverseModel::Stack ReverseModel::stack(const std::vector<StepGroup>& groups) {
    Stack stack{network_head->mlp_layers(), {}};
    const std::size_t head_layers = stack.layers.size();
    for (const StepGroup& group : groups) {
        std::vector<std::size_t> path(head_layers);
        std::iota(path.begin(), path.end(), std::size_t{0});
        for (const ag::DenseLayer& layer : tail(group.t).mlp_layers()) {
            path.push_back(stack.layers.size());
            stack.layers.push_back(layer);
        }
        stack.rows.push_back({group.begin, group.end, std::move(path)});
    }
    return stack;
}

Variable ReverseModel::gaussian_kl_objective(const Variable& xt, const std::vector<StepGroup>& groups,
                                             const StepConstants& constants, const Variable& mean_q,
                                             const Variable& std_q) {
    SWIRL_CHECK(nn::fusion_enabled(), "ReverseModel: the one-op objective needs fusion on (nn::set_fusion_enabled)");
    SWIRL_CHECK(!groups.empty(), "ReverseModel: no step groups");
    const Stack mlp_stack = stack(groups);
    return ag::mlp_gaussian_kl(xt, mlp_stack.layers, mlp_stack.rows, mean_q, std_q,
                               gaussian_head(xt, constants, config_.mean_param, config_.variance_param));
}

}  // namespace swirl::diffusion
