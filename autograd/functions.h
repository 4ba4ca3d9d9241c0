// The differentiable functions. Primitives carry a gradient rule (autograd/functions.cpp); composites (mean,
// chunk) are built from primitives and need none. Every function declared here that returns a Variable has an
// entry in the gradcheck table of tests/test_gradcheck_table.cpp, and a test fails if one is missing.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "tensor/fused/mlp.h"

namespace swirl::autograd {

// Broadcasting arithmetic (rank <= 2, NumPy rules: same shape, scalar, row [N] / [1, N], column [M, 1]).
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable scale(const Variable& x, double factor);     // x * factor
Variable add_scalar(const Variable& x, double value);  // x + value

// The operators, as in PyTorch: each one is the function beside it (found by argument-dependent lookup).
Variable operator+(const Variable& a, const Variable& b);  // add
Variable operator-(const Variable& a, const Variable& b);  // sub
Variable operator*(const Variable& a, const Variable& b);  // mul
Variable operator/(const Variable& a, const Variable& b);  // div
Variable operator-(const Variable& x);                     // neg
Variable operator+(const Variable& x, double value);       // add_scalar
Variable operator+(double value, const Variable& x);       // add_scalar
Variable operator-(const Variable& x, double value);       // add_scalar(x, -value)
Variable operator-(double value, const Variable& x);       // add_scalar(neg(x), value)
Variable operator*(const Variable& x, double factor);      // scale
Variable operator*(double factor, const Variable& x);      // scale
Variable operator/(const Variable& x, double divisor);     // scale(x, 1 / divisor)

// Elementwise, same shape out.
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable square(const Variable& x);
Variable relu(const Variable& x);
Variable sigmoid(const Variable& x);  // 1 / (1 + exp(-x))
Variable tanh(const Variable& x);     // 2 sigmoid(2 x) - 1: a composite of sigmoid, scale and add_scalar
Variable sin(const Variable& x);
Variable cos(const Variable& x);

// a [M, K] @ b [K, N] -> [M, N].
Variable matmul(const Variable& a, const Variable& b);
// x [M, K] @ weight [N, K]^T + bias [N] -> [M, N]: a fused primitive (one pass forward, one backward).
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// relu(linear(x, weight, bias)) fused: the bias and the ReLU are applied in the matmul's epilogue.
Variable linear_relu(const Variable& x, const Variable& weight, const Variable& bias);

// A stack of Linear (+ ReLU) layers as one primitive (tensor/fused/mlp.h): the rows of each group of x [M, K] go
// through the layers of the group's path in order -> [M, N]. On the CPU every activation stays in the cache and
// the backward recomputes them; nn::Sequential and the diffusion model (head + per-step tails) run through it.
// A layer of it is tensor/fused/mlp.h's DenseLayer with Variables, so that gradients reach the weights.
struct DenseLayer {
    Variable weight;  // [out, in]
    Variable bias;    // [out]
    bool relu = false;
};
Variable mlp(const Variable& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups);

// How mlp_gaussian_kl reads the stack's output as p (tensor/fused/mlp.h's GaussianHead), with Variables: a learned
// schedule's constants carry gradients. Undefined Variables read y as the seed does.
struct GaussianHead {
    Variable xt, eps_xt, eps_coef;  // mean_p = eps_xt * xt - eps_coef * a
    Variable low, high;             // log_var_p = low + sigmoid(b) * (high - low)
    bool rotated = false;           // p's axes turned by y's last column
};

// A diffusion objective as one op (tensor/fused/mlp.h's mlp_gaussian_kl): the mean KL from q = N(mean_q, std_q^2) to p,
// the output of mlp(x, layers, groups) read through `head`; for the seed's head,
//   mean(gaussian_kl(mean_q, std_q, slice_cols(y, 0, d), slice_cols(y, d, 2d))).
// The forward computes the gradients of every input that needs one (the layers; x, q and the head's under a
// learned schedule) in the same pass over the rows (on the CPU no activation is kept or recomputed), and the
// backward hands them on, times the incoming gradient.
Variable mlp_gaussian_kl(const Variable& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                         const Variable& mean_q, const Variable& std_q, const GaussianHead& head = {});

// KL(q || p) per element between Gaussians q = N(mean_q, std_q^2) (mean_q [B, d], std_q [], [B, 1] or [B, d])
// and p = N(mean_p, exp(log_var_p)) [B, d], fused (tensor/ops.h):
//   0.5 log_var_p - log std_q + (std_q^2 + (mean_q - mean_p)^2) / (2 exp(log_var_p)) - 0.5
// q is usually a constant (the seed's schedule); with a learned schedule it carries gradients too.
Variable gaussian_kl(const Variable& mean_q, const Variable& std_q, const Variable& mean_p, const Variable& log_var_p);

// KL(q || p) per element between Bernoulli distributions with rates (probabilities of a 1) q and p in (0, 1),
// broadcast as add: q log(q / p) + (1 - q) log((1 - q) / (1 - p)). A composite: the binomial diffusion's objective.
Variable bernoulli_kl(const Variable& rate_q, const Variable& rate_p);

// Rows v [B, 2] turned by their angles theta [B, 1] (radians): (cos theta x - sin theta y, sin theta x + cos theta y);
// with back, turned by -theta. One op: its backward reuses the forward's cosines and sines.
Variable rotate(const Variable& v, const Variable& angle, bool back = false);

// Reductions: sum/mean of everything -> []; along an axis of a matrix, keeping it: [M, N] -> [1, N] or [M, 1].
Variable sum(const Variable& x);
Variable sum(const Variable& x, int64_t axis);
Variable mean(const Variable& x);
Variable mean(const Variable& x, int64_t axis);

// Columns: x [M, N] -> [M, end - begin]; chunk splits N into `chunks` equal parts; concat joins along columns.
Variable slice_cols(const Variable& x, int64_t begin, int64_t end);
std::vector<Variable> chunk(const Variable& x, int64_t chunks);
Variable concat(const std::vector<Variable>& parts);

// Rows: x [M, N] -> rows [begin, end); concat_rows stacks [M_i, N] -> [sum M_i, N]. The per-sample timestep
// mode slices one block of rows per diffusion step and stacks the heads' outputs back together.
Variable slice_rows(const Variable& x, int64_t begin, int64_t end);
Variable concat_rows(const std::vector<Variable>& parts);

// Rows: x [M, N], index i64 [R] -> [R, N] with out[r] = x[index[r]]; the backward scatter-adds into x's rows.
Variable index_select(const Variable& x, const Tensor& index);

// The same values in another dtype and/or on another device; the gradient goes back the same way.
Variable to(const Variable& x, DType dtype, Device device);

}  // namespace swirl::autograd
