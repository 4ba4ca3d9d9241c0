// The reference dense kernels: products, Linear layers, the MLP op of tensor/fused/mlp.h and the diffusion objective on
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

// The layers' gradient sums over all groups, in double.
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

// Rows [begin, begin + m.rows) of a [*, m.cols] tensor from m.
template <typename T>
void put_rows(Tensor& t, int64_t begin, const Matrix<T>& m) {
    T* rows = t.data<T>() + begin * m.cols;
    for (std::size_t e = 0; e < m.v.size(); ++e) rows[e] = m.v[e];
}

// The backward of the MLP op: each group's forward, the gradient at its output from grad_at(group, y, grad_y)
// (grad_y [rows, width] starts at zeros), then back through its path. Writes x's gradient (when grads.x is defined)
// and the layers' sums into the defined weight and bias gradients (a layer no group used gets zeros).
template <typename T, typename GradAt>
void backward_groups(MlpGradients& grads, const Tensor& x, const std::vector<DenseLayer>& layers,
                     const std::vector<MlpGroup>& groups, GradAt grad_at) {
    GradientSums sums(layers);
    for (const MlpGroup& group : groups) {
        if (group.end == group.begin) continue;
        const std::vector<Matrix<T>> h = forward_group<T>(x, group, layers);
        Matrix<T> grad_y(h.back().rows, h.back().cols);
        grad_at(group, h.back(), grad_y);
        const Matrix<T> grad_x = backward_group(std::move(grad_y), h, group, layers, sums);
        if (grads.x.defined()) put_rows(grads.x, group.begin, grad_x);
    }
    auto put = [](Tensor& t, const std::vector<double>& sum) {
        T* p = t.data<T>();
        for (std::size_t e = 0; e < sum.size(); ++e) p[e] = static_cast<T>(sum[e]);
    };
    for (std::size_t l = 0; l < layers.size(); ++l) {
        if (l < grads.weights.size() && grads.weights[l].defined()) put(grads.weights[l], sums.weights[l]);
        if (l < grads.biases.size() && grads.biases[l].defined()) put(grads.biases[l], sums.biases[l]);
    }
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
        backward_groups<T>(grads, x, layers, groups, [&](const MlpGroup& group, const Matrix<T>&, Matrix<T>& grad_y) {
            const T* first = grad_out.data<T>() + group.begin * grad_y.cols;
            for (std::size_t e = 0; e < grad_y.v.size(); ++e) grad_y.v[e] = first[e];
        });
    });
}

// The model on each group's rows, the reverse step's KL and its gradients row by row (formulas::GaussianHeadRows,
// tensor/formulas.h: the mean from eps, the bounded log-variance, the rotation), then back through the model.
void mlp_gaussian_kl(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                     const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups, const Tensor& mean_q,
                     const Tensor& std_q, const GaussianHead& head, double grad_value) {
    dispatch_floating(x.dtype(), "mlp_gaussian_kl", [&](auto zero) {
        using T = decltype(zero);
        auto in = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        auto out = [](Tensor* t) { return t != nullptr && t->defined() ? t->data<T>() : nullptr; };
        const formulas::GaussianHeadRows<T> rows{
            kl.data<T>(), mean_q.data<T>(), std_q.data<T>(), mean_q.dim(1), static_cast<T>(grad_value),
            in(head.xt), in(head.eps_xt), in(head.eps_coef), in(head.low), in(head.high), head.rotated,
            out(inputs ? &inputs->mean_q : nullptr), out(inputs ? &inputs->std_q : nullptr),
            out(inputs ? &inputs->xt : nullptr), out(inputs ? &inputs->eps_xt : nullptr),
            out(inputs ? &inputs->eps_coef : nullptr), out(inputs ? &inputs->low : nullptr),
            out(inputs ? &inputs->high : nullptr)};
        backward_groups<T>(grads, x, layers, groups, [&](const MlpGroup& group, const Matrix<T>& y, Matrix<T>& grad_y) {
            rows(group.begin, group.end, y.v.data(), grad_y.v.data());
        });
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
