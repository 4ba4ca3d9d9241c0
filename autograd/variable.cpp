// Variable, grad mode, and the backward engine: a depth-first topological sort, then nodes in reverse order.
#include "autograd/variable.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::autograd {

namespace {
thread_local bool grad_mode = true;
bool detect_anomaly = false;

void check_finite(const Tensor& t, const std::string& what) {
    if (!is_floating(t.dtype())) return;
    const int64_t bad = first_non_finite(t);
    SWIRL_CHECK(bad < 0, "detect-anomaly: {} {} is not finite ({} at element {})", what, shape_str(t.shape()),
                t.reshape({t.numel()}).rows(bad, bad + 1).item(), bad);
}
}  // namespace

void set_detect_anomaly(bool enabled) { detect_anomaly = enabled; }
bool detect_anomaly_enabled() { return detect_anomaly; }

bool grad_mode_enabled() { return grad_mode; }
NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
    SWIRL_CHECK(data.defined(), "Variable: the tensor is undefined");
    SWIRL_CHECK(!requires_grad || is_floating(data.dtype()), "Variable: only f32 and f64 tensors can require a gradient, got {} {}",
                dtype_name(data.dtype()), shape_str(data.shape()));
    impl_->data = std::move(data);
    impl_->requires_grad = requires_grad;
}

void InputGradients::add(std::size_t i, Tensor grad) {
    if (!needs(i)) return;
    const Tensor& input = inputs_[i]->data;
    SWIRL_CHECK(grad.shape() == input.shape(), "backward: gradient {} does not match its input {} (a bug in an op)",
                shape_str(grad.shape()), shape_str(input.shape()));
    collected_.emplace_back(inputs_[i].get(), std::move(grad));
}

bool records_graph(const std::vector<Variable>& inputs) {
    if (!grad_mode_enabled()) return false;
    for (const Variable& input : inputs)
        if (input.requires_grad()) return true;
    return false;
}

Variable make_result(const char* name, Tensor output, std::vector<Variable> inputs, Node::BackwardFn backward) {
    if (detect_anomaly) check_finite(output, fmt::format("the output of '{}' (forward)", name));
    if (!records_graph(inputs)) return Variable(std::move(output), false);

    auto node = std::make_shared<Node>();
    node->name = name;
    node->inputs.reserve(inputs.size());
    for (const Variable& input : inputs) node->inputs.push_back(input.impl());
    node->backward = std::move(backward);
    Variable result(std::move(output), true);
    result.impl()->grad_fn = std::move(node);
    return result;
}

void Variable::backward() const {
    SWIRL_CHECK(defined() && data().numel() == 1,
                "backward: without a seed gradient the output must have one element, got {}; pass a gradient",
                defined() ? shape_str(shape()) : "undefined");
    backward_from(Tensor::ones(shape(), data().dtype(), data().device()), true);
}

void Variable::backward(const Tensor& grad_output) const { backward_from(grad_output, false); }

namespace {

// Variables reachable from root, each after every variable that consumes it (depth-first, iterative).
std::vector<VariableImpl*> topological_order(VariableImpl* root) {
    std::vector<VariableImpl*> order;
    std::unordered_set<VariableImpl*> visited;
    std::vector<std::pair<VariableImpl*, std::size_t>> stack{{root, 0}};
    visited.insert(root);
    while (!stack.empty()) {
        auto& [impl, next_input] = stack.back();
        const Node* node = impl->grad_fn.get();
        if (node != nullptr && next_input < node->inputs.size()) {
            VariableImpl* input = node->inputs[next_input++].get();
            if (input->requires_grad && visited.insert(input).second) stack.emplace_back(input, 0);
            continue;
        }
        order.push_back(impl);  // post-order: all inputs are already in `order`
        stack.pop_back();
    }
    return order;  // inputs before consumers; backward walks it from the back
}

}  // namespace

void Variable::backward_from(const Tensor& grad_output, bool seed_is_one) const {
    SWIRL_CHECK(defined() && requires_grad(),
                "backward: this variable does not require a gradient (no input requires one, or it was computed "
                "under NoGradGuard)");
    SWIRL_CHECK(grad_output.shape() == shape(), "backward: seed gradient {} does not match the output {}",
                shape_str(grad_output.shape()), shape_str(shape()));

    std::unordered_map<VariableImpl*, Tensor> pending;  // gradients of non-leaf variables not yet propagated
    pending[impl_.get()] = grad_output;
    auto accumulate = [&](VariableImpl* target, Tensor grad) {
        if (target->grad_fn == nullptr) {
            // A leaf keeps its gradient across backward calls and adds later ones into it, so it needs a tensor
            // nobody else holds: the incoming one when it is the last reference (as PyTorch's AccumulateGrad
            // steals it), else a copy.
            if (target->grad.defined())
                add_(target->grad, grad);
            else
                target->grad = grad.sole_owner() ? std::move(grad) : grad.clone();
            return;
        }
        auto [it, inserted] = pending.try_emplace(target, grad);
        if (!inserted) it->second = add(it->second, grad);
    };

    if (is_leaf()) {
        accumulate(impl_.get(), grad_output);
        return;
    }
    const std::vector<VariableImpl*> order = topological_order(impl_.get());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        VariableImpl* impl = *it;
        Node* node = impl->grad_fn.get();
        auto grad = pending.find(impl);
        if (node == nullptr || grad == pending.end()) continue;
        SWIRL_CHECK(node->backward != nullptr,
                    "backward: the graph through '{}' was already freed by an earlier backward(); run the forward "
                    "pass again",
                    node->name);
        InputGradients inputs(node->inputs, seed_is_one && impl == impl_.get());
        node->backward(grad->second, inputs);
        node->backward = nullptr;  // frees what the op saved for backward
        if (detect_anomaly)
            for (const auto& [target, input_grad] : inputs.collected())
                check_finite(input_grad, fmt::format("the gradient that '{}' sends back to an input (backward)", node->name));
        pending.erase(grad);
        for (auto& [target, input_grad] : inputs.collected()) accumulate(target, std::move(input_grad));
    }
}

}  // namespace swirl::autograd
