// Module: a tree of named parameters and sub-modules, with PyTorch's dotted parameter names
// ("network_tail.17.0.weight"), so swirl state dicts and PyTorch state_dict()s share their keys.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "tensor/io/safetensors.h"

namespace swirl::nn {

class Module {
public:
    virtual ~Module() = default;

    // Every parameter of this module and its descendants, in registration order, with dotted names.
    std::vector<std::pair<std::string, Variable>> named_parameters() const;
    std::vector<Variable> parameters() const;
    void zero_grad();

    // Moves or converts every parameter in place (gradients are dropped).
    void to(Device device);
    void to(DType dtype);

    // The parameters' tensors under their dotted names (shared, not copied).
    NamedTensors state_dict() const;
    // Copies `state` into the parameters. Every parameter must be present with its exact shape; throws
    // swirl::Error naming the first missing, unexpected or mis-shaped entry.
    void load_state_dict(const NamedTensors& state);

protected:
    Variable register_parameter(const std::string& name, Tensor value);
    template <typename M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        children_.emplace_back(name, module);
        return module;
    }

private:
    void collect(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const;

    std::vector<std::pair<std::string, Variable>> parameters_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A module with one input and one output: what Sequential chains.
class Layer : public Module {
public:
    virtual Variable forward(const Variable& input) = 0;
    Variable operator()(const Variable& input) { return forward(input); }
};

}  // namespace swirl::nn
