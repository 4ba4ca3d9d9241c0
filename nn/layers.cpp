// Linear, ReLU, Sigmoid, Tanh and Sequential.
#include "nn/layers.h"

#include <atomic>
#include <cmath>
#include <numeric>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::nn {

namespace {
std::atomic<bool> fusion{true};
}  // namespace

void set_fusion_enabled(bool enabled) { fusion.store(enabled); }
bool fusion_enabled() { return fusion.load(); }

Linear::Linear(int64_t in, int64_t out, Generator& gen, DType dtype, Device device)
    : in_features(in), out_features(out) {
    SWIRL_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in={} out={}", in, out);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Tensor w = Tensor::empty({out, in}, dtype, device);
    Tensor b = Tensor::empty({out}, dtype, device);
    uniform_(w, gen, -bound, bound);
    uniform_(b, gen, -bound, bound);
    weight = register_parameter("weight", w);
    bias = register_parameter("bias", b);
}

Variable Linear::forward(const Variable& x) { return autograd::linear(x, weight, bias); }

Variable ReLU::forward(const Variable& x) { return autograd::relu(x); }

Variable Sigmoid::forward(const Variable& x) { return autograd::sigmoid(x); }

Variable Tanh::forward(const Variable& x) { return autograd::tanh(x); }

Sequential::Sequential(std::vector<std::shared_ptr<Layer>> layers) {
    for (auto& layer : layers) push_back(std::move(layer));
}

void Sequential::push_back(std::shared_ptr<Layer> layer) {
    register_module(std::to_string(layers_.size()), layer);
    layers_.push_back(std::move(layer));
}

std::vector<autograd::DenseLayer> Sequential::mlp_layers() const {
    std::vector<autograd::DenseLayer> layers;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        auto* linear = dynamic_cast<Linear*>(layers_[i].get());
        const bool relu_next = i + 1 < layers_.size() && dynamic_cast<ReLU*>(layers_[i + 1].get()) != nullptr;
        if (linear == nullptr) return {};  // a ReLU not after a Linear, or another kind of layer
        layers.push_back({linear->weight, linear->bias, relu_next});
        if (relu_next) ++i;
    }
    return layers;
}

Variable Sequential::forward(const Variable& x) {
    const std::vector<autograd::DenseLayer> layers = fusion_enabled() ? mlp_layers() : std::vector<autograd::DenseLayer>{};
    if (!layers.empty() && x.data().rank() == 2) {
        std::vector<std::size_t> path(layers.size());
        std::iota(path.begin(), path.end(), std::size_t{0});
        return autograd::mlp(x, layers, {{0, x.data().dim(0), path}});
    }
    Variable h = x;
    for (auto& layer : layers_) h = layer->forward(h);
    return h;
}

}  // namespace swirl::nn
