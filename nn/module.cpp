// Module's parameter tree: registration, dotted names, device moves and state dicts.
#include "nn/module.h"

#include <map>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::nn {

Variable Module::register_parameter(const std::string& name, Tensor value) {
    Variable parameter(std::move(value), /*requires_grad=*/true);
    parameters_.emplace_back(name, parameter);
    return parameter;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Variable>>& out) const {
    for (const auto& [name, parameter] : parameters_) out.emplace_back(prefix + name, parameter);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Variable>> out;
    collect("", out);
    return out;
}

std::vector<Variable> Module::parameters() const {
    std::vector<Variable> out;
    for (auto& [name, parameter] : named_parameters()) out.push_back(parameter);
    return out;
}

void Module::zero_grad() {
    for (Variable& parameter : parameters()) parameter.zero_grad();
}

void Module::to(Device device) {
    for (Variable& parameter : parameters()) {
        parameter.data() = parameter.data().to(device);
        parameter.zero_grad();
    }
}

void Module::to(DType dtype) {
    for (Variable& parameter : parameters()) {
        parameter.data() = parameter.data().to(dtype);
        parameter.zero_grad();
    }
}

NamedTensors Module::state_dict() const {
    NamedTensors state;
    for (const auto& [name, parameter] : named_parameters()) state.emplace_back(name, parameter.data());
    return state;
}

void Module::load_state_dict(const NamedTensors& state) {
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, tensor] : state) by_name[name] = &tensor;
    for (auto& [name, parameter] : named_parameters()) {
        auto found = by_name.find(name);
        SWIRL_CHECK(found != by_name.end(), "load_state_dict: missing parameter '{}' (expected shape {})", name,
                    shape_str(parameter.shape()));
        SWIRL_CHECK(found->second->shape() == parameter.shape(),
                    "load_state_dict: parameter '{}' has shape {} in the state, but the model expects {}", name,
                    shape_str(found->second->shape()), shape_str(parameter.shape()));
        copy_(parameter.data(), *found->second);
        by_name.erase(found);
    }
    SWIRL_CHECK(by_name.empty(), "load_state_dict: unexpected entry '{}' that the model has no parameter for",
                by_name.empty() ? "" : by_name.begin()->first);
}

}  // namespace swirl::nn
