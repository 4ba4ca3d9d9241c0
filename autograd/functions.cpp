// Gradient rules of the primitive functions. Each builds its output with a tensor op, then attaches a closure
// that maps the output's gradient to its inputs' gradients (micrograd's idea, on tensors).
#include "autograd/functions.h"

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::autograd {

Variable add(const Variable& a, const Variable& b) {
    const Shape a_shape = a.shape(), b_shape = b.shape();
    return make_result("add", swirl::add(a.data(), b.data()), {a, b},
                       [a_shape, b_shape](const Tensor& grad, InputGradients& in) {
                           if (in.needs(0)) in.add(0, sum_to(grad, a_shape));
                           if (in.needs(1)) in.add(1, sum_to(grad, b_shape));
                       });
}

Variable sub(const Variable& a, const Variable& b) {
    const Shape a_shape = a.shape(), b_shape = b.shape();
    return make_result("sub", swirl::sub(a.data(), b.data()), {a, b},
                       [a_shape, b_shape](const Tensor& grad, InputGradients& in) {
                           if (in.needs(0)) in.add(0, sum_to(grad, a_shape));
                           if (in.needs(1)) in.add(1, sum_to(swirl::neg(grad), b_shape));
                       });
}

Variable mul(const Variable& a, const Variable& b) {
    const Tensor a_data = a.data(), b_data = b.data();
    return make_result("mul", swirl::mul(a_data, b_data), {a, b}, [a_data, b_data](const Tensor& grad, InputGradients& in) {
        if (in.needs(0)) in.add(0, sum_to(swirl::mul(grad, b_data), a_data.shape()));
        if (in.needs(1)) in.add(1, sum_to(swirl::mul(grad, a_data), b_data.shape()));
    });
}

Variable div(const Variable& a, const Variable& b) {
    const Shape a_shape = a.shape();
    const Tensor b_data = b.data();
    Tensor out = swirl::div(a.data(), b_data);
    return make_result("div", out, {a, b}, [a_shape, b_data, out](const Tensor& grad, InputGradients& in) {
        // d(a/b)/da = 1/b;  d(a/b)/db = -(a/b)/b
        if (in.needs(0)) in.add(0, sum_to(swirl::div(grad, b_data), a_shape));
        if (in.needs(1)) in.add(1, sum_to(swirl::neg(swirl::mul(grad, swirl::div(out, b_data))), b_data.shape()));
    });
}

Variable scale(const Variable& x, double factor) {
    return make_result("scale", swirl::scale(x.data(), factor), {x}, [factor](const Tensor& grad, InputGradients& in) {
        in.add(0, swirl::scale(grad, factor));
    });
}

Variable add_scalar(const Variable& x, double value) {
    return make_result("add_scalar", swirl::add_scalar(x.data(), value), {x},
                       [](const Tensor& grad, InputGradients& in) { in.add(0, grad); });
}

Variable neg(const Variable& x) {
    return make_result("neg", swirl::neg(x.data()), {x},
                       [](const Tensor& grad, InputGradients& in) { in.add(0, swirl::neg(grad)); });
}

Variable exp(const Variable& x) {
    Tensor out = swirl::exp(x.data());
    return make_result("exp", out, {x}, [out](const Tensor& grad, InputGradients& in) { in.add(0, swirl::mul(grad, out)); });
}

Variable log(const Variable& x) {
    const Tensor x_data = x.data();
    return make_result("log", swirl::log(x_data), {x},
                       [x_data](const Tensor& grad, InputGradients& in) { in.add(0, swirl::div(grad, x_data)); });
}

Variable sqrt(const Variable& x) {
    Tensor out = swirl::sqrt(x.data());
    return make_result("sqrt", out, {x}, [out](const Tensor& grad, InputGradients& in) {
        in.add(0, swirl::scale(swirl::div(grad, out), 0.5));  // d sqrt(x) = 1 / (2 sqrt(x))
    });
}

Variable square(const Variable& x) {
    const Tensor x_data = x.data();
    return make_result("square", swirl::square(x_data), {x}, [x_data](const Tensor& grad, InputGradients& in) {
        in.add(0, swirl::scale(swirl::mul(grad, x_data), 2.0));
    });
}

Variable relu(const Variable& x) {
    Tensor out = swirl::relu(x.data());
    return make_result("relu", out, {x},
                       [out](const Tensor& grad, InputGradients& in) { in.add(0, relu_backward(grad, out)); });
}

Variable sigmoid(const Variable& x) {
    Tensor out = swirl::sigmoid(x.data());
    return make_result("sigmoid", out, {x}, [out](const Tensor& grad, InputGradients& in) {
        // d sigmoid(x) = s (1 - s)
        in.add(0, swirl::mul(grad, swirl::mul(out, swirl::add_scalar(swirl::neg(out), 1.0))));
    });
}

Variable tanh(const Variable& x) { return add_scalar(scale(sigmoid(scale(x, 2.0)), 2.0), -1.0); }

Variable sin(const Variable& x) {
    const Tensor x_data = x.data();
    return make_result("sin", swirl::sin(x_data), {x},
                       [x_data](const Tensor& grad, InputGradients& in) { in.add(0, swirl::mul(grad, swirl::cos(x_data))); });
}

Variable cos(const Variable& x) {
    const Tensor x_data = x.data();
    return make_result("cos", swirl::cos(x_data), {x}, [x_data](const Tensor& grad, InputGradients& in) {
        in.add(0, swirl::neg(swirl::mul(grad, swirl::sin(x_data))));
    });
}

Variable matmul(const Variable& a, const Variable& b) {
    const Tensor a_data = a.data(), b_data = b.data();
    return make_result("matmul", swirl::matmul(a_data, b_data), {a, b},
                       [a_data, b_data](const Tensor& grad, InputGradients& in) {
                           if (in.needs(0)) in.add(0, swirl::matmul(grad, b_data, false, true));  // [M,N] @ [K,N]^T
                           if (in.needs(1)) in.add(1, swirl::matmul(a_data, grad, true, false));  // [M,K]^T @ [M,N]
                       });
}

namespace {

// The backward of out = x @ weight^T + bias, given dLoss/dout [M, N].
void linear_backward(const Tensor& grad, const Tensor& x, const Tensor& weight, InputGradients& in) {
    if (in.needs(0)) in.add(0, swirl::matmul(grad, weight));               // [M,N] @ [N,K] -> [M,K]
    if (in.needs(1)) in.add(1, swirl::matmul(grad, x, true, false));       // [M,N]^T @ [M,K] -> [N,K]
    if (in.needs(2)) in.add(2, swirl::sum(grad, 0).reshape({grad.dim(1)}));  // [N]
}

Variable linear_primitive(const char* name, const Variable& x, const Variable& weight, const Variable& bias,
                          bool fuse_relu) {
    const Tensor x_data = x.data(), weight_data = weight.data();
    Tensor out = swirl::linear(x_data, weight_data, bias.data(), fuse_relu);
    return make_result(name, out, {x, weight, bias},
                       [x_data, weight_data, out, fuse_relu](const Tensor& grad, InputGradients& in) {
                           linear_backward(fuse_relu ? relu_backward(grad, out) : grad, x_data, weight_data, in);
                       });
}

}  // namespace

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
    return linear_primitive("linear", x, weight, bias, false);
}

Variable linear_relu(const Variable& x, const Variable& weight, const Variable& bias) {
    return linear_primitive("linear_relu", x, weight, bias, true);
}

Variable mlp(const Variable& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups) {
    std::vector<swirl::DenseLayer> dense;
    std::vector<Variable> inputs{x};
    for (const DenseLayer& layer : layers) {
        dense.push_back({layer.weight.data(), layer.bias.data(), layer.relu});
        inputs.push_back(layer.weight);
        inputs.push_back(layer.bias);
    }
    const Tensor x_data = x.data();
    // Inputs: x, then weight and bias of each layer. Kept: x, and whatever the forward saves for its backward (on
    // the CPU the activations of a small enough batch); nothing when no graph is recorded (sampling, evaluation).
    auto saved = std::make_shared<MlpSaved>();
    Tensor out = swirl::mlp(x_data, dense, groups, records_graph(inputs) ? saved.get() : nullptr);
    // The inputs move on to the node: x and two handles a layer (up to 165 for the seed's model).
    return make_result("mlp", std::move(out), std::move(inputs),
                       [x_data, dense, groups, saved](const Tensor& grad, InputGradients& in) {
                           MlpGradients grads = mlp_backward(grad, x_data, dense, groups, in.needs(0), saved.get());
                           if (in.needs(0)) in.add(0, grads.x);
                           for (std::size_t l = 0; l < dense.size(); ++l) {
                               if (in.needs(1 + 2 * l) && grads.weights[l].defined()) in.add(1 + 2 * l, grads.weights[l]);
                               if (in.needs(2 + 2 * l) && grads.biases[l].defined()) in.add(2 + 2 * l, grads.biases[l]);
                           }
                       });
}

Variable mlp_gaussian_kl(const Variable& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                         const Variable& mean_q, const Variable& std_q, const GaussianHead& head) {
    std::vector<swirl::DenseLayer> dense;
    std::vector<Variable> inputs;  // each layer's weight and bias, then the per-row inputs that are defined
    for (const DenseLayer& layer : layers) {
        dense.push_back({layer.weight.data(), layer.bias.data(), layer.relu});
        inputs.push_back(layer.weight);
        inputs.push_back(layer.bias);
    }
    const std::vector<Variable> rows{x, mean_q, std_q, head.xt, head.eps_xt, head.eps_coef, head.low, head.high};
    std::vector<std::size_t> row_input(rows.size(), 0);  // where rows[k] is among the inputs (0: undefined)
    std::vector<Variable> defined_rows;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (!rows[k].defined()) continue;
        row_input[k] = inputs.size();
        inputs.push_back(rows[k]);
        defined_rows.push_back(rows[k]);
    }
    auto data = [](const Variable& v) { return v.defined() ? v.data() : Tensor(); };
    const swirl::GaussianHead data_head{data(head.xt), data(head.eps_xt), data(head.eps_coef), data(head.low),
                                        data(head.high), head.rotated};
    if (!records_graph(inputs))
        return Variable(swirl::mlp_gaussian_kl(x.data(), dense, groups, mean_q.data(), std_q.data(), data_head));
    auto grads = std::make_shared<MlpGradients>();
    // The per-row inputs' gradients only when one of them needs one (a learned schedule).
    auto row_grads = records_graph(defined_rows) ? std::make_shared<GaussianKlInputGradients>() : nullptr;
    Tensor loss = swirl::mlp_gaussian_kl(x.data(), dense, groups, mean_q.data(), std_q.data(), data_head, grads.get(),
                                         row_grads.get());
    return make_result("mlp_gaussian_kl", std::move(loss), std::move(inputs),
                       [grads, row_grads, row_input](const Tensor& grad, InputGradients& in) {
                           // The gradients of the loss itself, computed by the forward, times grad: on grad's
                           // device, as a broadcast product (reading it to the host would stall a GPU every
                           // step), or not at all when grad is backward()'s seed of one. A node's backward runs
                           // once: its tensors move on, so that the leaves take them without a copy.
                           auto hand_on = [&](std::size_t i, Tensor& g) {
                               if (in.needs(i) && g.defined())
                                   in.add(i, in.incoming_is_one() ? std::move(g) : swirl::mul(g, grad));
                           };
                           for (std::size_t l = 0; l < grads->weights.size(); ++l) {
                               hand_on(2 * l, grads->weights[l]);
                               hand_on(2 * l + 1, grads->biases[l]);
                           }
                           if (row_grads == nullptr) return;
                           Tensor* parts[] = {&row_grads->x,        &row_grads->mean_q, &row_grads->std_q,
                                              &row_grads->xt,       &row_grads->eps_xt, &row_grads->eps_coef,
                                              &row_grads->low,      &row_grads->high};
                           for (std::size_t k = 0; k < row_input.size(); ++k)
                               if (row_input[k] != 0) hand_on(row_input[k], *parts[k]);
                       });
}

Variable gaussian_kl(const Variable& mean_q, const Variable& std_q, const Variable& mean_p, const Variable& log_var_p) {
    const Tensor mean_q_data = mean_q.data(), std_q_data = std_q.data(), mean_p_data = mean_p.data(),
                 log_var_data = log_var_p.data();
    return make_result("gaussian_kl", swirl::gaussian_kl(mean_q_data, std_q_data, mean_p_data, log_var_data),
                       {mean_q, std_q, mean_p, log_var_p},
                       [mean_q_data, std_q_data, mean_p_data, log_var_data](const Tensor& grad, InputGradients& in) {
                           Tensor grad_mean, grad_log_var;
                           gaussian_kl_backward(grad_mean, grad_log_var, grad, mean_q_data, std_q_data, mean_p_data,
                                                log_var_data);
                           // The KL depends on mean_q - mean_p only: mean_q's gradient is mean_p's, negated.
                           if (in.needs(0)) in.add(0, sum_to(swirl::neg(grad_mean), mean_q_data.shape()));
                           if (in.needs(1)) {
                               // d kl / d std_q = std_q / var_p - 1 / std_q
                               const Tensor per_element = swirl::sub(swirl::mul(std_q_data, swirl::exp(swirl::neg(log_var_data))),
                                                                     swirl::div(Tensor::full({}, 1.0, std_q_data.dtype(), std_q_data.device()), std_q_data));
                               in.add(1, sum_to(swirl::mul(grad, per_element), std_q_data.shape()));
                           }
                           if (in.needs(2)) in.add(2, grad_mean);
                           if (in.needs(3)) in.add(3, grad_log_var);
                       });
}

Variable rotate(const Variable& v, const Variable& angle, bool back) {
    const Tensor& v_data = v.data();
    const Tensor& angle_data = angle.data();
    SWIRL_CHECK(v_data.rank() == 2 && v_data.dim(1) == 2 && angle_data.rank() == 2 && angle_data.dim(1) == 1 &&
                    angle_data.dim(0) == v_data.dim(0),
                "rotate: expected v [B, 2] and angle [B, 1], got {} and {}", shape_str(v_data.shape()),
                shape_str(angle_data.shape()));
    const double sign = back ? -1.0 : 1.0;
    const Tensor c = swirl::cos(angle_data), s = swirl::scale(swirl::sin(angle_data), sign);
    const Tensor x = swirl::slice_cols(v_data, 0, 1), y = swirl::slice_cols(v_data, 1, 2);
    const Tensor first = swirl::sub(swirl::mul(c, x), swirl::mul(s, y)), second = swirl::add(swirl::mul(s, x), swirl::mul(c, y));
    return make_result("rotate", swirl::concat_cols({first, second}), {v, angle},
                       [c, s, first, second, sign](const Tensor& grad, InputGradients& in) {
                           const Tensor g0 = swirl::slice_cols(grad, 0, 1), g1 = swirl::slice_cols(grad, 1, 2);
                           // v's gradient is grad turned the other way; the angle's, d out / d theta = sign (-second, first).
                           if (in.needs(0))
                               in.add(0, swirl::concat_cols({swirl::add(swirl::mul(c, g0), swirl::mul(s, g1)),
                                                             swirl::sub(swirl::mul(c, g1), swirl::mul(s, g0))}));
                           if (in.needs(1))
                               in.add(1, swirl::scale(swirl::sub(swirl::mul(g1, first), swirl::mul(g0, second)), sign));
                       });
}

Variable bernoulli_kl(const Variable& rate_q, const Variable& rate_p) {
    const Variable not_q = 1.0 - rate_q, not_p = 1.0 - rate_p;
    return rate_q * (log(rate_q) - log(rate_p)) + not_q * (log(not_q) - log(not_p));
}

Variable sum(const Variable& x) {
    const Shape shape = x.shape();
    return make_result("sum", swirl::sum(x.data()), {x},
                       [shape](const Tensor& grad, InputGradients& in) { in.add(0, expand(grad, shape)); });
}

Variable sum(const Variable& x, int64_t axis) {
    const Shape shape = x.shape();
    return make_result("sum_axis", swirl::sum(x.data(), axis), {x},
                       [shape](const Tensor& grad, InputGradients& in) { in.add(0, expand(grad, shape)); });
}

Variable mean(const Variable& x) {
    SWIRL_CHECK(x.data().numel() > 0, "mean: the tensor {} is empty", shape_str(x.shape()));
    return scale(sum(x), 1.0 / static_cast<double>(x.data().numel()));
}

Variable mean(const Variable& x, int64_t axis) {
    const int64_t count = x.data().dim(axis);
    SWIRL_CHECK(count > 0, "mean: axis {} of {} is empty", axis, shape_str(x.shape()));
    return scale(sum(x, axis), 1.0 / static_cast<double>(count));
}

Variable slice_cols(const Variable& x, int64_t begin, int64_t end) {
    const Tensor x_data = x.data();
    return make_result("slice_cols", swirl::slice_cols(x_data, begin, end), {x},
                       [x_data, begin](const Tensor& grad, InputGradients& in) {
                           // Zeros, with the gradient in the slice's columns.
                           Tensor grad_x = Tensor::zeros(x_data.shape(), grad.dtype(), grad.device());
                           set_cols_(grad_x, begin, grad);
                           in.add(0, grad_x);
                       });
}

std::vector<Variable> chunk(const Variable& x, int64_t chunks) {
    SWIRL_CHECK(x.data().rank() == 2 && chunks > 0 && x.data().dim(1) % chunks == 0,
                "chunk: cannot split {} into {} equal column blocks", shape_str(x.shape()), chunks);
    const int64_t width = x.data().dim(1) / chunks;
    std::vector<Variable> parts;
    for (int64_t c = 0; c < chunks; ++c) parts.push_back(slice_cols(x, c * width, (c + 1) * width));
    return parts;
}

Variable concat(const std::vector<Variable>& parts) {
    std::vector<Tensor> data;
    std::vector<int64_t> widths;
    for (const Variable& part : parts) {
        data.push_back(part.data());
        widths.push_back(part.data().rank() == 2 ? part.data().dim(1) : 0);
    }
    return make_result("concat", concat_cols(data), parts, [widths](const Tensor& grad, InputGradients& in) {
        int64_t at = 0;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            if (in.needs(i)) in.add(i, swirl::slice_cols(grad, at, at + widths[i]));
            at += widths[i];
        }
    });
}

Variable slice_rows(const Variable& x, int64_t begin, int64_t end) {
    const Shape shape = x.shape();
    return make_result("slice_rows", x.data().rows(begin, end), {x}, [shape, begin, end](const Tensor& grad, InputGradients& in) {
        Tensor grad_x = Tensor::zeros(shape, grad.dtype(), grad.device());
        Tensor block = grad_x.rows(begin, end);
        copy_(block, grad);
        in.add(0, grad_x);
    });
}

Variable concat_rows(const std::vector<Variable>& parts) {
    std::vector<Tensor> data;
    std::vector<int64_t> heights;
    for (const Variable& part : parts) {
        data.push_back(part.data());
        heights.push_back(part.data().rank() >= 1 ? part.data().dim(0) : 0);
    }
    return make_result("concat_rows", swirl::concat_rows(data), parts, [heights](const Tensor& grad, InputGradients& in) {
        int64_t at = 0;
        for (std::size_t i = 0; i < heights.size(); ++i) {
            if (in.needs(i)) in.add(i, grad.rows(at, at + heights[i]));
            at += heights[i];
        }
    });
}

Variable index_select(const Variable& x, const Tensor& index) {
    const Shape shape = x.shape();
    return make_result("index_select", index_select_rows(x.data(), index), {x},
                       [shape, index](const Tensor& grad, InputGradients& in) {
                           Tensor grad_x = Tensor::zeros(shape, grad.dtype(), grad.device());
                           index_add_rows_(grad_x, index, grad);
                           in.add(0, grad_x);
                       });
}

Variable to(const Variable& x, DType dtype, Device device) {
    const DType x_dtype = x.data().dtype();
    const Device x_device = x.data().device();
    return make_result("to", x.data().to(dtype).to(device), {x}, [x_dtype, x_device](const Tensor& grad, InputGradients& in) {
        in.add(0, grad.to(x_dtype).to(x_device));
    });
}

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& x) { return neg(x); }
Variable operator+(const Variable& x, double value) { return add_scalar(x, value); }
Variable operator+(double value, const Variable& x) { return add_scalar(x, value); }
Variable operator-(const Variable& x, double value) { return add_scalar(x, -value); }
Variable operator-(double value, const Variable& x) { return add_scalar(neg(x), value); }
Variable operator*(const Variable& x, double factor) { return scale(x, factor); }
Variable operator*(double factor, const Variable& x) { return scale(x, factor); }
Variable operator/(const Variable& x, double divisor) { return scale(x, 1.0 / divisor); }

}  // namespace swirl::autograd
