// The layers the diffusion models are made of: Linear, ReLU, Sigmoid, Sequential, ModuleList.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/functions.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace swirl::nn {

// The fused path (on by default): a stack of Linear (+ ReLU) layers runs as one autograd::mlp, and the diffusion
// model's head and per-step tails as one mlp for the whole batch. Off, every layer runs its own forward,
// autograd::linear then autograd::relu, op by op: the plain path a learner can step through (`swirl train
// --no-fuse`). Both give the same result to rounding (tests/test_nn.cpp, tests/test_diffusion.cpp).
void set_fusion_enabled(bool enabled);
bool fusion_enabled();

// y [M, out] = x [M, in] @ weight [out, in]^T + bias [out]; initialised as torch.nn.Linear:
// weight and bias uniform in +-1/sqrt(in).
class Linear : public Layer {
public:
    Linear(int64_t in_features, int64_t out_features, Generator& gen, DType dtype = DType::f32,
           Device device = Device::cpu());
    Variable forward(const Variable& x) override;

    Variable weight, bias;
    int64_t in_features, out_features;
};

class ReLU : public Layer {
public:
    Variable forward(const Variable& x) override;
};

// 1 / (1 + exp(-x)), elementwise: the binomial model's hidden layers. A stack with it runs layer by layer.
class Sigmoid : public Layer {
public:
    Variable forward(const Variable& x) override;
};

// tanh(x) = 2 sigmoid(2 x) - 1, elementwise: the sigmoid centred on 0 (the binomial model's default hidden
// layers). A stack with it runs layer by layer.
class Tanh : public Layer {
public:
    Variable forward(const Variable& x) override;
};

// Layers applied in order, registered as "0", "1", ... as in torch.nn.Sequential. With fusion on, a stack of
// Linear layers, each optionally followed by a ReLU, runs as one autograd::mlp (same result; on the CPU every
// activation stays in the cache); anything else, or fusion off, runs layer by layer.
class Sequential : public Layer {
public:
    Sequential() = default;
    explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
    // From layers by value, as torch.nn.Sequential(...): nn::Sequential{nn::Linear(2, 64, gen), nn::ReLU()}.
    // Use braces: a braced list is evaluated left to right, so the layers draw their initial weights from `gen`
    // in the order they are written (a call's arguments are evaluated in an unspecified order).
    template <typename... Layers>
        requires(sizeof...(Layers) > 0 && (std::derived_from<std::remove_cvref_t<Layers>, Layer> && ...))
    explicit Sequential(Layers&&... layers) {
        (push_back(std::make_shared<std::remove_cvref_t<Layers>>(std::forward<Layers>(layers))), ...);
    }
    void push_back(std::shared_ptr<Layer> layer);
    Variable forward(const Variable& x) override;
    std::size_t size() const { return layers_.size(); }
    Layer& operator[](std::size_t i) { return *layers_.at(i); }
    // The layers as an autograd::mlp stack, or empty if they are not only Linear layers each optionally followed
    // by one ReLU.
    std::vector<autograd::DenseLayer> mlp_layers() const;

private:
    std::vector<std::shared_ptr<Layer>> layers_;
};

// A list of modules registered as "0", "1", ..., as torch.nn.ModuleList: indexed, not called.
template <typename M>
class ModuleList : public Module {
public:
    void push_back(std::shared_ptr<M> module) {
        register_module(std::to_string(modules_.size()), module);
        modules_.push_back(std::move(module));
    }
    std::size_t size() const { return modules_.size(); }
    M& operator[](std::size_t i) { return *modules_.at(i); }

private:
    std::vector<std::shared_ptr<M>> modules_;
};

}  // namespace swirl::nn
