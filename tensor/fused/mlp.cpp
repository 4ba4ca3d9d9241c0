// The fused MLP op: its checks, the dispatch (the CPU kernel or the composition), and the composition itself.
#include "tensor/fused/mlp.h"

#include <algorithm>

#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl {

namespace {

// Checks the layers and groups against x [M, K]; returns N, the width of the output.
int64_t check_mlp(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                  const char* op) {
    check_floating(x, op);
    check_matrix(x, op, "x");
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const DenseLayer& layer = layers[l];
        check_matrix(layer.weight, op, "weight");
        check_same_dtype(x, layer.weight, op);
        check_same_device(x, layer.weight, op);
        check_same_dtype(x, layer.bias, op);
        check_same_device(x, layer.bias, op);
        SWIRL_CHECK(layer.bias.rank() == 1 && layer.bias.dim(0) == layer.weight.dim(0),
                    "{}: layer {} has bias {} for weight {} (expected [{}])", op, l, shape_str(layer.bias.shape()),
                    shape_str(layer.weight.shape()), layer.weight.dim(0));
    }
    SWIRL_CHECK(!groups.empty(), "{}: no row groups (expected at least one, covering the {} rows of x)", op, x.dim(0));
    int64_t next_row = 0, out_width = -1;
    for (const MlpGroup& group : groups) {
        SWIRL_CHECK(group.begin == next_row && group.begin <= group.end && !group.path.empty(),
                    "{}: groups must tile the rows in order, each with a non-empty path; got rows [{}, {}) after row {}",
                    op, group.begin, group.end, next_row);
        next_row = group.end;
        int64_t width = x.dim(1);
        for (std::size_t k = 0; k < group.path.size(); ++k) {
            const std::size_t l = group.path[k];
            SWIRL_CHECK(l < layers.size(), "{}: path names layer {} of {}", op, l, layers.size());
            SWIRL_CHECK(std::count(group.path.begin(), group.path.end(), l) == 1,
                        "{}: layer {} appears twice in the path of rows [{}, {})", op, l, group.begin, group.end);
            SWIRL_CHECK(layers[l].weight.dim(1) == width, "{}: layer {} takes {} inputs but receives {} (weight {})", op,
                        l, layers[l].weight.dim(1), width, shape_str(layers[l].weight.shape()));
            width = layers[l].weight.dim(0);
        }
        SWIRL_CHECK(out_width < 0 || width == out_width, "{}: paths end with {} and {} outputs (expected one width)", op,
                    out_width, width);
        out_width = width;
    }
    SWIRL_CHECK(next_row == x.dim(0), "{}: the groups cover {} of the {} rows of x", op, next_row, x.dim(0));
    return out_width;
}

// check_mlp, and grad_out [M, N] in x's dtype and on its device.
void check_mlp_backward(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                        const std::vector<MlpGroup>& groups) {
    const int64_t out_width = check_mlp(x, layers, groups, "mlp_backward");
    check_same_dtype(x, grad_out, "mlp_backward");
    check_same_device(x, grad_out, "mlp_backward");
    SWIRL_CHECK(grad_out.shape() == Shape({x.dim(0), out_width}), "mlp_backward: grad_out {} does not fit [{}, {}]",
                shape_str(grad_out.shape()), x.dim(0), out_width);
}

// used[l]: whether some rows go through layer l (an empty group uses nothing). One walk over the paths: with one
// t per sample, 40 groups and 82 layers, asking layer by layer would cost some 6 µs a step.
std::vector<char> used_layers(std::size_t layer_count, const std::vector<MlpGroup>& groups) {
    std::vector<char> used(layer_count, 0);
    for (const MlpGroup& g : groups)
        if (g.begin < g.end)
            for (const std::size_t l : g.path) used[l] = 1;
    return used;
}

// Undefined gradients for the layers no group uses, empty ones (to be written) for the rest.
MlpGradients empty_gradients(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<char>& used,
                             bool need_x) {
    MlpGradients grads;
    if (need_x) grads.x = Tensor::empty(x.shape(), x.dtype(), x.device());
    grads.weights.resize(layers.size());
    grads.biases.resize(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l)
        if (used[l]) {
            grads.weights[l] = Tensor::empty(layers[l].weight.shape(), x.dtype(), x.device());
            grads.biases[l] = Tensor::empty(layers[l].bias.shape(), x.dtype(), x.device());
        }
    return grads;
}

// The bytes of the layers some group uses, weights and biases.
int64_t parameter_bytes(const std::vector<DenseLayer>& layers, const std::vector<char>& used) {
    int64_t bytes = 0;
    for (std::size_t l = 0; l < layers.size(); ++l)
        if (used[l]) bytes += static_cast<int64_t>(layers[l].weight.nbytes() + layers[l].bias.nbytes());
    return bytes;
}

}  // namespace

Tensor mlp(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
           MlpSaved* saved) {
    if (!x.device().is_cpu()) return mlp_composed(x, layers, groups, saved);  // which checks the same
    if (saved != nullptr) *saved = {};  // nothing from an earlier forward may stay
    const int64_t out_width = check_mlp(x, layers, groups, "mlp");
    Tensor out = Tensor::empty({x.dim(0), out_width}, x.dtype(), x.device());
    detail::count_kernel(static_cast<int64_t>(x.nbytes() + out.nbytes()) +
                         parameter_bytes(layers, used_layers(layers.size(), groups)));
    cpu::kernels().mlp_forward(out, x, layers, groups, saved != nullptr ? &saved->kept : nullptr);
    return out;
}

MlpGradients mlp_backward(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                          const std::vector<MlpGroup>& groups, bool need_x, const MlpSaved* saved) {
    if (!x.device().is_cpu()) return mlp_backward_composed(grad_out, x, layers, groups, need_x, saved);  // same checks
    check_mlp_backward(grad_out, x, layers, groups);
    const std::vector<char> used = used_layers(layers.size(), groups);
    MlpGradients grads = empty_gradients(x, layers, used, need_x);
    // Reads grad_out, x and the parameters, writes the parameters' gradients (and x's).
    detail::count_kernel(static_cast<int64_t>(grad_out.nbytes() + x.nbytes() + (need_x ? x.nbytes() : 0)) +
                         2 * parameter_bytes(layers, used));
    cpu::kernels().mlp_backward(grads, grad_out, x, layers, groups, saved != nullptr ? saved->kept : Tensor());
    return grads;
}

namespace {

// The objective's checks against x [M, K] (mean_q [M, d], std_q [M, 1] or [M, d], the head's tensors, the
// stack's output [M, 2d (+ 1 rotated)]); returns std_q as [M, d].
Tensor check_mlp_gaussian_kl(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                             const Tensor& mean_q, const Tensor& std_q, const GaussianHead& head) {
    const char* op = "mlp_gaussian_kl";
    const int64_t out_width = check_mlp(x, layers, groups, op);
    SWIRL_CHECK(x.dim(0) > 0, "{}: x has no rows (the mean over rows needs one)", op);
    const int64_t rows = x.dim(0), d = mean_q.rank() == 2 ? mean_q.dim(1) : 0;
    const int64_t width = 2 * d + (head.rotated ? 1 : 0);
    SWIRL_CHECK(mean_q.rank() == 2 && mean_q.dim(0) == rows && d > 0 && out_width == width,
                "{}: expected mean_q [{}, d] for a stack with {} outputs ({} here), got {}", op, rows,
                head.rotated ? "2d + 1" : "2d", out_width, shape_str(mean_q.shape()));
    SWIRL_CHECK(!head.rotated || d == 2, "{}: a rotated head is for d = 2, got d = {}", op, d);
    SWIRL_CHECK(!head.rotated || (std_q.rank() == 2 && std_q.dim(1) == 1),
                "{}: a rotated head takes an isotropic q: expected std_q [{}, 1], got {}", op, rows,
                shape_str(std_q.shape()));
    SWIRL_CHECK(std_q.rank() == 2 && std_q.dim(0) == rows && (std_q.dim(1) == 1 || std_q.dim(1) == d),
                "{}: expected std_q [{}, 1] or [{}, {}], got {}", op, rows, rows, d, shape_str(std_q.shape()));
    SWIRL_CHECK(head.xt.defined() == head.eps_xt.defined() && head.xt.defined() == head.eps_coef.defined() &&
                    head.low.defined() == head.high.defined(),
                "{}: the head's eps mean needs xt, eps_xt and eps_coef, its bounded log-variance low and high", op);
    for (const Tensor* t : {&mean_q, &std_q}) {
        check_same_dtype(x, *t, op);
        check_same_device(x, *t, op);
    }
    auto check_part = [&](const Tensor& t, int64_t cols, const char* name) {
        if (!t.defined()) return;
        check_same_dtype(x, t, op);
        check_same_device(x, t, op);
        SWIRL_CHECK(t.shape() == Shape({rows, cols}), "{}: expected the head's {} [{}, {}], got {}", op, name, rows,
                    cols, shape_str(t.shape()));
    };
    check_part(head.xt, d, "xt");
    check_part(head.eps_xt, 1, "eps_xt");
    check_part(head.eps_coef, 1, "eps_coef");
    check_part(head.low, 1, "low");
    check_part(head.high, 1, "high");
    return std_q.dim(1) == d ? std_q : expand(std_q, mean_q.shape());
}

}  // namespace

namespace {

// Empty gradients for q (std_q [M, d]) and the head's defined tensors; x's comes from the stack's backward.
GaussianKlInputGradients empty_input_gradients(const Tensor& mean_q, const Tensor& std_q, const GaussianHead& head) {
    auto like = [](const Tensor& t) { return t.defined() ? Tensor::empty(t.shape(), t.dtype(), t.device()) : Tensor(); };
    return {Tensor(),          like(mean_q),       like(std_q),   like(head.xt),
            like(head.eps_xt), like(head.eps_coef), like(head.low), like(head.high)};
}

}  // namespace

Tensor mlp_gaussian_kl(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                       const Tensor& mean_q, const Tensor& std_q, const GaussianHead& head, MlpGradients* grads,
                       GaussianKlInputGradients* inputs) {
    SWIRL_CHECK(inputs == nullptr || grads != nullptr, "mlp_gaussian_kl: the inputs' gradients come with the layers'");
    if (!x.device().is_cpu() || grads == nullptr)
        return mlp_gaussian_kl_composed(x, layers, groups, mean_q, std_q, head, grads, inputs);
    const Tensor std_full = check_mlp_gaussian_kl(x, layers, groups, mean_q, std_q, head);
    Tensor kl = Tensor::empty(mean_q.shape(), x.dtype(), x.device());
    const std::vector<char> used = used_layers(layers.size(), groups);
    *grads = empty_gradients(x, layers, used, inputs != nullptr);
    // The std's gradient element by element, summed to std_q's shape below.
    if (inputs != nullptr) *inputs = empty_input_gradients(mean_q, std_full, head);
    // Reads x, q, the head's tensors and the parameters; writes each element's KL and the gradients.
    int64_t bytes = static_cast<int64_t>(x.nbytes() + mean_q.nbytes() + std_full.nbytes() + kl.nbytes());
    for (const Tensor* t : {&head.xt, &head.eps_xt, &head.eps_coef, &head.low, &head.high})
        if (t->defined()) bytes += static_cast<int64_t>(t->nbytes()) * (inputs != nullptr ? 2 : 1);
    if (inputs != nullptr) bytes += static_cast<int64_t>(x.nbytes() + mean_q.nbytes() + std_full.nbytes());
    detail::count_kernel(bytes + 2 * parameter_bytes(layers, used));
    const double mean_factor = 1.0 / static_cast<double>(kl.numel());
    cpu::kernels().mlp_gaussian_kl(kl, *grads, inputs, x, layers, groups, mean_q, std_full, head, mean_factor);
    if (inputs != nullptr) {
        inputs->x = std::move(grads->x);
        grads->x = Tensor();
        inputs->std_q = sum_to(inputs->std_q, std_q.shape());
    }
    return scale(sum(kl), mean_factor);  // as autograd::mean
}

Tensor mlp_gaussian_kl_composed(const Tensor& x, const std::vector<DenseLayer>& layers,
                                const std::vector<MlpGroup>& groups, const Tensor& mean_q, const Tensor& std_q,
                                const GaussianHead& head, MlpGradients* grads, GaussianKlInputGradients* inputs) {
    SWIRL_CHECK(inputs == nullptr || grads != nullptr, "mlp_gaussian_kl: the inputs' gradients come with the layers'");
    const Tensor std_full = check_mlp_gaussian_kl(x, layers, groups, mean_q, std_q, head);
    const int64_t d = mean_q.dim(1);
    MlpSaved saved;
    const Tensor y = mlp(x, layers, groups, grads != nullptr ? &saved : nullptr);
    // p from y, as diffusion/parametrization.cpp's reverse_step and ReverseStep::kl_from write it.
    const Tensor a = slice_cols(y, 0, d), b = slice_cols(y, d, 2 * d);
    const bool eps = head.xt.defined(), bounded = head.low.defined();
    const Tensor mean_p = eps ? sub(mul(head.eps_xt, head.xt), mul(head.eps_coef, a)) : a;
    const Tensor sigmoid_b = bounded ? sigmoid(b) : Tensor(), range = bounded ? sub(head.high, head.low) : Tensor();
    const Tensor log_var_p = bounded ? add(head.low, mul(sigmoid_b, range)) : b;
    Tensor kl, cos_angle, sin_back, delta;  // rotated: delta = rotate(mean_q - mean_p, -angle), in p's axes
    if (head.rotated) {
        const Tensor angle = slice_cols(y, 2 * d, 2 * d + 1), u = sub(mean_q, mean_p);
        cos_angle = cos(angle);
        sin_back = neg(sin(angle));
        const Tensor u0 = slice_cols(u, 0, 1), u1 = slice_cols(u, 1, 2);
        delta = concat_cols({sub(mul(cos_angle, u0), mul(sin_back, u1)), add(mul(sin_back, u0), mul(cos_angle, u1))});
        kl = gaussian_kl(delta, std_full, Tensor::zeros(delta.shape(), delta.dtype(), delta.device()), log_var_p);
    } else {
        kl = gaussian_kl(mean_q, std_full, mean_p, log_var_p);
    }
    const double mean_factor = 1.0 / static_cast<double>(kl.numel());
    if (grads != nullptr) {
        // d mean / d kl: mean_factor everywhere, as autograd::mean's backward hands it on; then back through the
        // KL, the rotation, the eps mean and the bounded log-variance to y's columns.
        const Tensor grad = Tensor::full(kl.shape(), mean_factor, kl.dtype(), kl.device());
        Tensor grad_mean_p, grad_log_var_p;
        std::vector<Tensor> grad_y;
        if (head.rotated) {
            Tensor grad_zero;  // the KL's gradient at its (zero) mean_p: minus that at delta
            gaussian_kl_backward(grad_zero, grad_log_var_p, grad, delta, std_full,
                                 Tensor::zeros(delta.shape(), delta.dtype(), delta.device()), log_var_p);
            const Tensor g = neg(grad_zero), g0 = slice_cols(g, 0, 1), g1 = slice_cols(g, 1, 2);
            const Tensor d0 = slice_cols(delta, 0, 1), d1 = slice_cols(delta, 1, 2);
            // u's gradient is g turned back; the angle's is -(g1 delta0 - g0 delta1); mean_p's is minus u's.
            grad_mean_p = neg(concat_cols({add(mul(cos_angle, g0), mul(sin_back, g1)),
                                          sub(mul(cos_angle, g1), mul(sin_back, g0))}));
            grad_y.push_back(neg(sub(mul(g1, d0), mul(g0, d1))));
        } else {
            gaussian_kl_backward(grad_mean_p, grad_log_var_p, grad, mean_q, std_full, mean_p, log_var_p);
        }
        const Tensor grad_a = eps ? mul(neg(grad_mean_p), head.eps_coef) : grad_mean_p;
        const Tensor grad_b = bounded ? mul(mul(grad_log_var_p, range), mul(sigmoid_b, add_scalar(neg(sigmoid_b), 1.0)))
                                      : grad_log_var_p;
        grad_y.insert(grad_y.begin(), {grad_a, grad_b});
        *grads = mlp_backward(concat_cols(grad_y), x, layers, groups, inputs != nullptr, &saved);
        if (inputs != nullptr) {
            // q: the KL sees mean_q - mean_p (turned, when rotated), so mean_q's gradient is mean_p's, negated;
            // std_q's is grad (std_q / var_p - 1 / std_q). The head: the eps mean's and the bound's chain rules.
            inputs->x = std::move(grads->x);
            grads->x = Tensor();
            inputs->mean_q = neg(grad_mean_p);
            const Tensor inverse_variance = exp(neg(log_var_p));
            inputs->std_q = sum_to(mul(grad, sub(mul(std_full, inverse_variance), div(Tensor::full({}, 1.0, x.dtype(), x.device()), std_full))),
                                   std_q.shape());
            if (eps) {
                inputs->xt = mul(grad_mean_p, head.eps_xt);
                inputs->eps_xt = sum(mul(grad_mean_p, head.xt), 1);
                inputs->eps_coef = sum(mul(neg(grad_mean_p), a), 1);
            }
            if (bounded) {
                const Tensor along = mul(grad_log_var_p, sigmoid_b);
                inputs->low = sum(sub(grad_log_var_p, along), 1);
                inputs->high = sum(along, 1);
            }
        }
    }
    return scale(sum(kl), mean_factor);
}

namespace {

// The layers that every non-empty group's path starts with, short of each path's last layer. The composition runs
// them once on all rows (one product per layer, not one per group: in the per-sample timestep mode the shared
// head would otherwise be 39 small products) and then each group's tail on its own rows.
std::size_t shared_prefix_length(const std::vector<MlpGroup>& groups) {
    const MlpGroup* first = nullptr;
    std::size_t length = 0;
    for (const MlpGroup& group : groups) {
        if (group.begin == group.end) continue;
        if (first == nullptr) {
            first = &group;
            length = group.path.size() - 1;
            continue;
        }
        std::size_t k = 0;
        while (k < length && k + 1 < group.path.size() && group.path[k] == first->path[k]) ++k;
        length = k;
    }
    return length;
}

const MlpGroup* first_nonempty(const std::vector<MlpGroup>& groups) {
    for (const MlpGroup& group : groups)
        if (group.begin < group.end) return &group;
    return nullptr;
}

// Layers path[from, to) on `input`: returns the input, then each layer's output. With `into`, the last layer
// writes there (a view of the op's output).
std::vector<Tensor> run_chain(const Tensor& input, const std::vector<DenseLayer>& layers,
                              const std::vector<std::size_t>& path, std::size_t from, std::size_t to, Tensor* into) {
    std::vector<Tensor> activations{input};
    for (std::size_t k = from; k < to; ++k) {
        const DenseLayer& layer = layers[path[k]];
        if (k + 1 == to && into != nullptr) {
            linear_into(*into, activations.back(), layer.weight, layer.bias, layer.relu);
            activations.push_back(*into);
        } else {
            activations.push_back(linear(activations.back(), layer.weight, layer.bias, layer.relu));
        }
    }
    return activations;
}

}  // namespace

Tensor mlp_composed(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                    MlpSaved* saved) {
    if (saved != nullptr) *saved = {};  // nothing from an earlier forward may stay for this one's backward
    const int64_t out_width = check_mlp(x, layers, groups, "mlp");
    Tensor out = Tensor::empty({x.dim(0), out_width}, x.dtype(), x.device());
    const MlpGroup* first = first_nonempty(groups);
    if (first == nullptr) return out;  // no rows
    const std::size_t shared = shared_prefix_length(groups);
    std::vector<Tensor> prefix = run_chain(x, layers, first->path, 0, shared, nullptr);
    std::vector<std::vector<Tensor>> tails(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const MlpGroup& group = groups[g];
        if (group.begin == group.end) continue;
        Tensor out_rows = out.rows(group.begin, group.end);
        tails[g] = run_chain(prefix.back().rows(group.begin, group.end), layers, group.path, shared, group.path.size(),
                             &out_rows);
    }
    if (saved != nullptr) *saved = {Tensor(), std::move(prefix), std::move(tails)};
    return out;
}

MlpGradients mlp_backward_composed(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                                   const std::vector<MlpGroup>& groups, bool need_x, const MlpSaved* saved) {
    check_mlp_backward(grad_out, x, layers, groups);
    MlpGradients grads;
    grads.weights.resize(layers.size());
    grads.biases.resize(layers.size());
    const MlpGroup* first = first_nonempty(groups);
    if (first == nullptr) {
        if (need_x) grads.x = Tensor::zeros(x.shape(), x.dtype(), x.device());
        return grads;
    }
    const std::size_t shared = shared_prefix_length(groups);
    // The forward's activations, or the forward again.
    const bool reuse = saved != nullptr && saved->prefix.size() == shared + 1 && saved->tails.size() == groups.size();
    const std::vector<Tensor> prefix = reuse ? saved->prefix : run_chain(x, layers, first->path, 0, shared, nullptr);
    auto accumulate = [](Tensor& total, const Tensor& part) {
        if (total.defined())
            add_(total, part);
        else
            total = part;
    };
    // One layer's backward: grad [rows, out] arrives for the output of layer l, whose input was `input` and whose
    // output `output`; accumulates the parameters' gradients and returns the ReLU-masked grad.
    auto layer_backward = [&](std::size_t l, Tensor grad, const Tensor& input, const Tensor& output) {
        if (layers[l].relu) grad = relu_backward(grad, output);
        accumulate(grads.weights[l], matmul(grad, input, true, false));  // [out, in]
        accumulate(grads.biases[l], sum(grad, 0).reshape({grad.dim(1)}));
        return grad;
    };
    // The gradient of the shared prefix's output for all rows (x's, when nothing is shared), filled group by group.
    const bool need_prefix_grad = shared > 0 || need_x;
    Tensor prefix_grad;
    if (need_prefix_grad) prefix_grad = Tensor::empty(prefix.back().shape(), x.dtype(), x.device());
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const MlpGroup& group = groups[g];
        if (group.begin == group.end) continue;
        std::vector<Tensor> tail;
        if (reuse) {
            tail = saved->tails[g];
        } else {  // the last layer's output only when its ReLU mask is needed; else a placeholder
            const bool last_relu = layers[group.path.back()].relu;
            tail = run_chain(prefix.back().rows(group.begin, group.end), layers, group.path, shared,
                             group.path.size() - (last_relu ? 0 : 1), nullptr);
            if (!last_relu) tail.emplace_back();
        }
        SWIRL_CHECK(tail.size() == group.path.size() - shared + 1,
                    "mlp_backward: the saved activations do not belong to these groups");
        Tensor grad = grad_out.rows(group.begin, group.end);
        for (std::size_t k = group.path.size(); k-- > shared;) {
            const std::size_t l = group.path[k];
            grad = layer_backward(l, grad, tail[k - shared], tail[k - shared + 1]);
            if (k > shared) {
                grad = matmul(grad, layers[l].weight);  // [rows, in]
            } else if (need_prefix_grad) {
                Tensor rows = prefix_grad.rows(group.begin, group.end);
                matmul_into(rows, grad, layers[l].weight, false, false);
            }
        }
    }
    if (!need_prefix_grad) return grads;
    Tensor grad = prefix_grad;  // the shared layers, once on all rows
    for (std::size_t k = shared; k-- > 0;) {
        const std::size_t l = first->path[k];
        grad = layer_backward(l, grad, prefix[k], prefix[k + 1]);
        if (k > 0 || need_x) grad = matmul(grad, layers[l].weight);
    }
    if (need_x) grads.x = grad;
    return grads;
}

}  // namespace swirl
