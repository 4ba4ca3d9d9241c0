// The reference dense kernels: products, Linear layers, the MLP op of tensor/mlp.h and the diffusion objective on
// top of it, as the textbook loops. Activations and gradients are kept in the tensors' precision; each sum over a
// product's inner index, or over rows, runs in double.
#include <cmath>
#include <vector>

#include "tensor/cpu/dispatch.h"
#include "tensor/formulas.h"
#include "tensor/reference/kernels.h"

namespace swirl::reference {

using cpu::dispatch_floating;

// out [M, N] = op(a) @ op(b): a is [M, K], or [K, M] read transposed; b is [K, N], or [N, K] read transposed.
void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    dispatch_floating(out.dtype(), "matmul", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = out.dim(0), N = out.dim(1), K = trans_a ? a.dim(0) : a.dim(1);
        const T *pa = a.data<T>(), *pb = b.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                double total = 0;
                for (int64_t k = 0; k < K; ++k)
                    total += static_cast<double>(trans_a ? pa[k * M + i] : pa[i * K + k]) *
                             static_cast<double>(trans_b ? pb[j * K + k] : pb[k * N + j]);
                o[i * N + j] = static_cast<T>(total);
            }
    });
}

namespace {

// A row-major matrix of T: element (i, j) at v[i * cols + j].
template <typename T>
struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<T> v;
    Matrix(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), T(0)) {}
    T& operator()(int64_t i, int64_t j) { return v[static_cast<std::size_t>(i * cols + j)]; }
    T operator()(int64_t i, int64_t j) const { return v[static_cast<std::size_t>(i * cols + j)]; }
};

// y [rows, out] = x [rows, in] @ weight [out, in]^T + bias [out], then max(y, 0) when relu.
template <typename T>
void dense(T* y, const T* x, int64_t rows, const Tensor& weight, const Tensor& bias, bool relu) {
    const int64_t out = weight.dim(0), in = weight.dim(1);
    const T *w = weight.data<T>(), *b = bias.data<T>();
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t n = 0; n < out; ++n) {
            double total = b[n];
            for (int64_t k = 0; k < in; ++k) total += static_cast<double>(x[i * in + k]) * static_cast<double>(w[n * in + k]);
            const T value = static_cast<T>(total);
            y[i * out + n] = relu && value < T(0) ? T(0) : value;
        }
}

// One group's forward: [0] its rows of x, then each layer's output in path order.
template <typename T>
std::vector<Matrix<T>> forward_group(const Tensor& x, const MlpGroup& group, const std::vector<DenseLayer>& layers) {
    const int64_t rows = group.end - group.begin, K = x.dim(1);
    std::vector<Matrix<T>> h;
    h.emplace_back(rows, K);
    const T* first = x.data<T>() + group.begin * K;
    for (std::size_t e = 0; e < h[0].v.size(); ++e) h[0].v[e] = first[e];
    for (std::size_t l : group.path) {
        Matrix<T> next(rows, layers[l].weight.dim(0));
        dense(next.v.data(), h.back().v.data(), rows, layers[l].weight, layers[l].bias, layers[l].relu);
        h.push_back(std::move(next));
    }
    return h;
}

// The layers' gradient sums over all groups, in double, and whether a group used each layer.
struct GradientSums {
    std::vector<std::vector<double>> weights, biases;
    explicit GradientSums(const std::vector<DenseLayer>& layers) {
        for (const DenseLayer& layer : layers) {
            weights.emplace_back(static_cast<std::size_t>(layer.weight.numel()), 0.0);
            biases.emplace_back(static_cast<std::size_t>(layer.bias.numel()), 0.0);
        }
    }
};

// Back through one group's path from grad (the gradient at its last output), last layer first: the ReLU's mask,
// then grad_weight += grad^T @ input, grad_bias += grad's column sums, grad_input = grad @ weight. Returns the
// gradient at the group's rows of x.
template <typename T>
Matrix<T> backward_group(Matrix<T> grad, const std::vector<Matrix<T>>& h, const MlpGroup& group,
                         const std::vector<DenseLayer>& layers, GradientSums& sums) {
    for (std::size_t p = group.path.size(); p-- > 0;) {
        const std::size_t l = group.path[p];
        const Matrix<T>& input = h[p];
        const Matrix<T>& output = h[p + 1];
        const int64_t out = layers[l].weight.dim(0), in = layers[l].weight.dim(1);
        const T* w = layers[l].weight.data<T>();
        if (layers[l].relu)
            for (std::size_t e = 0; e < grad.v.size(); ++e)
                if (output.v[e] <= T(0)) grad.v[e] = T(0);
        for (int64_t n = 0; n < out; ++n)
            for (int64_t i = 0; i < grad.rows; ++i) {
                sums.biases[l][static_cast<std::size_t>(n)] += grad(i, n);
                for (int64_t k = 0; k < in; ++k)
                    sums.weights[l][static_cast<std::size_t>(n * in + k)] +=
                        static_cast<double>(grad(i, n)) * static_cast<double>(input(i, k));
            }
        Matrix<T> grad_input(grad.rows, in);
        for (int64_t i = 0; i < grad.rows; ++i)
            for (int64_t k = 0; k < in; ++k) {
                double total = 0;
                for (int64_t n = 0; n < out; ++n) total += static_cast<double>(grad(i, n)) * static_cast<double>(w[n * in + k]);
                grad_input(i, k) = static_cast<T>(total);
            }
        grad = std::move(grad_input);
    }
    return grad;
}

// Writes the sums into the defined gradients of grads (a layer no group used gets zeros, if defined).
template <typename T>
void store(MlpGradients& grads, const GradientSums& sums) {
    for (std::size_t l = 0; l < sums.weights.size(); ++l) {
        if (l < grads.weights.size() && grads.weights[l].defined())
            for (std::size_t e = 0; e < sums.weights[l].size(); ++e)
                grads.weights[l].data<T>()[e] = static_cast<T>(sums.weights[l][e]);
        if (l < grads.biases.size() && grads.biases[l].defined())
            for (std::size_t e = 0; e < sums.biases[l].size(); ++e)
                grads.biases[l].data<T>()[e] = static_cast<T>(sums.biases[l][e]);
    }
}

// Rows [begin, begin + m.rows) of a [*, m.cols] tensor from m.
template <typename T>
void put_rows(Tensor& t, int64_t begin, const Matrix<T>& m) {
    T* rows = t.data<T>() + begin * m.cols;
    for (std::size_t e = 0; e < m.v.size(); ++e) rows[e] = m.v[e];
}

}  // namespace

void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    dispatch_floating(out.dtype(), "linear", [&](auto zero) {
        using T = decltype(zero);
        dense(out.data<T>(), x.data<T>(), x.dim(0), weight, bias, fuse_relu);
    });
}

// Each group's rows through its path; nothing is kept for the backward, which recomputes.
void mlp_forward(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers,
                 const std::vector<MlpGroup>& groups, Tensor* kept) {
    if (kept != nullptr) *kept = Tensor();
    dispatch_floating(out.dtype(), "mlp_forward", [&](auto zero) {
        using T = decltype(zero);
        for (const MlpGroup& group : groups)
            if (group.end > group.begin) put_rows(out, group.begin, forward_group<T>(x, group, layers).back());
    });
}

void mlp_backward(MlpGradients& grads, const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                  const std::vector<MlpGroup>& groups, const Tensor& /*kept*/) {
    dispatch_floating(x.dtype(), "mlp_backward", [&](auto zero) {
        using T = decltype(zero);
        GradientSums sums(layers);
        for (const MlpGroup& group : groups) {
            if (group.end == group.begin) continue;
            const std::vector<Matrix<T>> h = forward_group<T>(x, group, layers);
            Matrix<T> grad(group.end - group.begin, grad_out.dim(1));
            const T* first = grad_out.data<T>() + group.begin * grad.cols;
            for (std::size_t e = 0; e < grad.v.size(); ++e) grad.v[e] = first[e];
            const Matrix<T> grad_x = backward_group(std::move(grad), h, group, layers, sums);
            if (grads.x.defined()) put_rows(grads.x, group.begin, grad_x);
        }
        store<T>(grads, sums);
    });
}

// The model's output y = [a (d), b (d), angle (rotated only)] of each row read as p (tensor/mlp.h's GaussianHead),
// the KL of q against it, and the gradients of sum(grad_value * kl) back to y, to q and to the head's tensors:
//   mean_p = eps_xt xt - eps_coef a (or a),   log_var_p = low + sigmoid(b) (high - low) (or b),
//   rotated: the KL of delta = R(-angle) (mean_q - mean_p) against N(0, exp(log_var_p)).
void mlp_gaussian_kl(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                     const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups, const Tensor& mean_q,
                     const Tensor& std_q, const GaussianHead& head, double grad_value) {
    dispatch_floating(x.dtype(), "mlp_gaussian_kl", [&](auto zero) {
        using T = decltype(zero);
        const int64_t d = mean_q.dim(1);
        const bool eps = head.xt.defined(), bounded = head.low.defined();
        const T g = static_cast<T>(grad_value);
        GradientSums sums(layers);
        for (const MlpGroup& group : groups) {
            if (group.end == group.begin) continue;
            const std::vector<Matrix<T>> h = forward_group<T>(x, group, layers);
            const Matrix<T>& y = h.back();
            Matrix<T> grad_y(y.rows, y.cols);
            for (int64_t r = 0; r < y.rows; ++r) {
                const int64_t i = group.begin + r;  // the row in the batch
                auto at = [&](const Tensor& t, int64_t j) { return t.data<T>()[i * t.dim(1) + j]; };
                const auto n = static_cast<std::size_t>(d);
                std::vector<T> mean_p(n), log_var(n), s(n), grad_mean_p(n), grad_log_var(n);
                for (int64_t j = 0; j < d; ++j) {
                    mean_p[j] = eps ? at(head.eps_xt, 0) * at(head.xt, j) - at(head.eps_coef, 0) * y(r, j) : y(r, j);
                    s[j] = formulas::sigmoid(y(r, d + j));
                    log_var[j] = bounded ? at(head.low, 0) + s[j] * (at(head.high, 0) - at(head.low, 0)) : y(r, d + j);
                }
                if (head.rotated) {  // d = 2
                    const T c = std::cos(y(r, 2 * d)), sb = -std::sin(y(r, 2 * d));
                    const T u0 = at(mean_q, 0) - mean_p[0], u1 = at(mean_q, 1) - mean_p[1];
                    const T delta[2] = {c * u0 - sb * u1, sb * u0 + c * u1};
                    T grad_zero[2];
                    for (int64_t j = 0; j < 2; ++j) {
                        kl.data<T>()[i * d + j] = formulas::gaussian_kl(delta[j], at(std_q, j), T(0), log_var[j]);
                        formulas::gaussian_kl_backward(g, delta[j], at(std_q, j), T(0), log_var[j], grad_zero[j],
                                                       grad_log_var[j]);
                    }
                    const T g0 = -grad_zero[0], g1 = -grad_zero[1];  // delta's gradient
                    grad_mean_p[0] = -(c * g0 + sb * g1);
                    grad_mean_p[1] = -(c * g1 - sb * g0);
                    grad_y(r, 2 * d) = -(g1 * delta[0] - g0 * delta[1]);
                } else {
                    for (int64_t j = 0; j < d; ++j) {
                        kl.data<T>()[i * d + j] = formulas::gaussian_kl(at(mean_q, j), at(std_q, j), mean_p[j], log_var[j]);
                        formulas::gaussian_kl_backward(g, at(mean_q, j), at(std_q, j), mean_p[j], log_var[j],
                                                       grad_mean_p[j], grad_log_var[j]);
                    }
                }
                for (int64_t j = 0; j < d; ++j) {
                    grad_y(r, j) = eps ? -grad_mean_p[j] * at(head.eps_coef, 0) : grad_mean_p[j];
                    grad_y(r, d + j) = bounded ? grad_log_var[j] * (at(head.high, 0) - at(head.low, 0)) * (s[j] * (T(1) - s[j]))
                                               : grad_log_var[j];
                }
                if (inputs == nullptr) continue;
                double eps_xt = 0, eps_coef = 0, low = 0, high = 0;
                for (int64_t j = 0; j < d; ++j) {
                    const T sq = at(std_q, j);
                    inputs->mean_q.data<T>()[i * d + j] = -grad_mean_p[j];
                    inputs->std_q.data<T>()[i * d + j] = g * (sq * std::exp(-log_var[j]) - T(1) / sq);
                    if (eps) {
                        inputs->xt.data<T>()[i * d + j] = grad_mean_p[j] * at(head.eps_xt, 0);
                        eps_xt += grad_mean_p[j] * at(head.xt, j);
                        eps_coef += -grad_mean_p[j] * y(r, j);
                    }
                    low += grad_log_var[j] - grad_log_var[j] * s[j];
                    high += grad_log_var[j] * s[j];
                }
                if (eps) inputs->eps_xt.data<T>()[i] = static_cast<T>(eps_xt), inputs->eps_coef.data<T>()[i] = static_cast<T>(eps_coef);
                if (bounded) inputs->low.data<T>()[i] = static_cast<T>(low), inputs->high.data<T>()[i] = static_cast<T>(high);
            }
            const Matrix<T> grad_x = backward_group(std::move(grad_y), h, group, layers, sums);
            if (grads.x.defined()) put_rows(grads.x, group.begin, grad_x);
        }
        store<T>(grads, sums);
    });
}

// The multiply-add peak of plain scalar code: eight independent chains acc = acc * scale + shift.
double fma_chains(int64_t iterations) {
    float acc[8];
    for (int c = 0; c < 8; ++c) acc[c] = 1e-3f * static_cast<float>(c);
    for (int64_t it = 0; it < iterations; ++it)
        for (float& a : acc) a = a * 0.999999f + 1e-7f;
    volatile float sink = 0.0f;
    for (float a : acc) sink = sink + a;
    return 2.0 * 8 * static_cast<double>(iterations);
}

}  // namespace swirl::reference
