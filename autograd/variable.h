// Variable: a tensor that remembers how it was computed, so backward() can send gradients to its inputs.
//
//   auto w = Variable(Tensor::randn({3, 2}, gen, DType::f64), /*requires_grad=*/true);
//   auto loss = sum(square(w));   // autograd/functions.h, found by argument-dependent lookup
//   loss.backward();              // w.grad() is now 2 w
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace swirl::autograd {

struct Node;

// The shared state behind a Variable. Data state (data) and gradient state (grad, grad_fn) are kept apart.
struct VariableImpl {
    Tensor data;
    Tensor grad;  // undefined until a backward pass reaches this leaf
    bool requires_grad = false;
    std::shared_ptr<Node> grad_fn;  // the op that produced this variable; null for leaves
};

class Variable {
public:
    Variable() = default;
    explicit Variable(Tensor data, bool requires_grad = false);

    bool defined() const { return impl_ != nullptr; }
    const Tensor& data() const { return impl_->data; }
    Tensor& data() { return impl_->data; }  // for optimisers, which update parameters in place
    const Tensor& grad() const { return impl_->grad; }
    Tensor& grad() { return impl_->grad; }
    bool requires_grad() const { return impl_->requires_grad; }
    bool is_leaf() const { return impl_->grad_fn == nullptr; }
    const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
    const Shape& shape() const { return impl_->data.shape(); }
    Variable detach() const { return Variable(impl_->data, false); }
    void zero_grad() { impl_->grad = Tensor(); }  // as PyTorch's set_to_none: no gradient until the next backward

    // Backpropagates from this one-element variable (seed gradient 1), or from any variable with an explicit
    // seed gradient of its shape. Frees the graph as it goes: a second backward through it throws.
    void backward() const;
    void backward(const Tensor& grad_output) const;

    const std::shared_ptr<VariableImpl>& impl() const { return impl_; }

private:
    // seed_is_one: grad_output is known to be all ones without reading it (backward() made it).
    void backward_from(const Tensor& grad_output, bool seed_is_one) const;

    std::shared_ptr<VariableImpl> impl_;
};

// Where a backward function sends the gradient of each of its node's inputs.
class InputGradients {
public:
    InputGradients(const std::vector<std::shared_ptr<VariableImpl>>& inputs, bool incoming_is_one)
        : inputs_(inputs), incoming_is_one_(incoming_is_one) {}
    // Whether input i wants a gradient: a backward function skips the work for inputs that do not.
    bool needs(std::size_t i) const { return inputs_[i]->requires_grad; }
    // Whether the node's incoming gradient is the seed of backward() (all ones), known without reading it: a
    // backward function may then hand on gradients it already holds unscaled. Reading the gradient to find out
    // would copy it to the host and wait for the device.
    bool incoming_is_one() const { return incoming_is_one_; }
    // Adds dLoss/dInput_i; its shape must be input i's shape.
    void add(std::size_t i, Tensor grad);
    std::vector<std::pair<VariableImpl*, Tensor>>& collected() { return collected_; }

private:
    const std::vector<std::shared_ptr<VariableImpl>>& inputs_;
    bool incoming_is_one_;
    std::vector<std::pair<VariableImpl*, Tensor>> collected_;
};

// One recorded op: its inputs and the closure that maps the output's gradient to theirs.
struct Node {
    using BackwardFn = std::function<void(const Tensor& grad_output, InputGradients& inputs)>;

    std::string name;
    std::vector<std::shared_ptr<VariableImpl>> inputs;
    BackwardFn backward;  // reset after it runs, which frees the tensors it saved
};

// Whether ops record a graph (true unless a NoGradGuard is alive on this thread).
bool grad_mode_enabled();

// Anomaly detection (off by default; slow, since every output is read back): when on, the first op whose
// forward output or whose gradient for an input holds a NaN or an infinity throws swirl::Error naming the op.
void set_detect_anomaly(bool enabled);
bool detect_anomaly_enabled();

// While alive, ops record nothing: for sampling, evaluation and optimiser updates.
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// Whether an op on these inputs records a node: grad mode is on and some input requires a gradient.
bool records_graph(const std::vector<Variable>& inputs);

// The result of a differentiable op: `output` plus, when it records a graph (records_graph), a Node named `name`
// with `backward`. Every function in autograd/functions.cpp ends with this.
Variable make_result(const char* name, Tensor output, std::vector<Variable> inputs, Node::BackwardFn backward);

}  // namespace swirl::autograd

namespace swirl {
// The layers above name a Variable without the namespace; functions on Variables are found by argument-dependent
// lookup (exp(v), mean(v), v + w), so a Variable's functions never collide with the tensor ops of the same name.
using autograd::NoGradGuard;
using autograd::Variable;
}  // namespace swirl
