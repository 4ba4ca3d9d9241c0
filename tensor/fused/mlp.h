// A stack of dense layers as one op: the chain of Linear (+ ReLU) layers of nn::Sequential and of the diffusion
// model (head, then the tail of each row's step). On the CPU it runs block by block of rows, so that every
// activation stays in the cache (a large batch's backward recomputes them instead of reading them back from
// memory); on CUDA it is composed of cuBLAS products and the elementwise kernels, group by group.
//
//   layers  = {head.0, head.2, tail_7.0, tail_7.2, tail_9.0, tail_9.2}
//   groups  = {{0, 300, {0, 1, 2, 3}}, {300, 512, {0, 1, 4, 5}}}   // rows 0..299 take step 7's tail
//   y       = mlp(x, layers, groups);                              // [512, 4]
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace swirl {

// y [M, out] = x [M, in] @ weight^T + bias, then ReLU if relu.
struct DenseLayer {
    Tensor weight;  // [out, in]
    Tensor bias;    // [out]
    bool relu = false;
};

// Rows [begin, end) of the input go through layers[path[0]], layers[path[1]], ... in order. The groups of one call
// tile the rows in order; a layer appears at most once in a path.
struct MlpGroup {
    int64_t begin = 0, end = 0;
    std::vector<std::size_t> path;
};

// What a forward may keep for its backward. The CPU kernel keeps the activations of a batch small enough (up to
// 32 MiB: tensor/cpu/mlp.cpp's kKeepBytes), block by block in `kept`, and recomputes those of a larger one block by
// block, in cache, rather than hold them in memory. The composition (CUDA) keeps every layer's input and the last
// output (a view of the op's output, for a ReLU mask): recomputing them would cost its backward as many products
// and as much memory traffic as a second forward, and a GPU has the memory to hold them. A forward given `saved`
// always clears it first.
struct MlpSaved {
    Tensor kept;                             // the CPU kernel's activations, in its own layout (or undefined)
    std::vector<Tensor> prefix;              // x, then each shared layer's output (all rows)
    std::vector<std::vector<Tensor>> tails;  // [group]: its rows of the prefix's output, then each tail layer's output
};

// out [M, N]: x [M, K] through each group's path; every path starts with K inputs and ends with N outputs. With
// `saved`, the forward leaves there what mlp_backward can reuse (possibly nothing).
Tensor mlp(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
           MlpSaved* saved = nullptr);

// The gradients of sum(grad_out * mlp(x, ...)). Weights and biases have the layers' shapes; a layer that no group
// uses gets an undefined tensor (as PyTorch leaves .grad None); x's gradient only when need_x.
struct MlpGradients {
    Tensor x;
    std::vector<Tensor> weights, biases;
};
MlpGradients mlp_backward(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                          const std::vector<MlpGroup>& groups, bool need_x, const MlpSaved* saved = nullptr);

// How mlp_gaussian_kl reads the stack's output y = [a (d columns), b (d), angle (1, rotated only)] as a Gaussian p
// (diffusion/parametrization.h, row by row):
//   mean_p    = a,  or with eps_xt: eps_xt * xt - eps_coef * a          (xt [M, d]; eps_xt, eps_coef [M, 1])
//   log_var_p = b,  or with low:    low + sigmoid(b) * (high - low)     (low, high [M, 1])
//   rotated:  p's axes are turned by the angle (d = 2); q is isotropic (std_q [M, 1]), so the KL is taken in
//             p's axes, of rotate(mean_q - mean_p, -angle) against N(0, exp(log_var_p)).
// The default is the seed's reading: mean and log-variance as they are.
struct GaussianHead {
    Tensor xt, eps_xt, eps_coef;
    Tensor low, high;
    bool rotated = false;
};

// The objective's gradients with respect to its per-row inputs (a learned schedule moves all of them): x (through
// the stack), q's mean and std (std_q's shape), and the head's tensors that are defined (xt: its part through the
// eps mean only; x's part is in x).
struct GaussianKlInputGradients {
    Tensor x, mean_q, std_q, xt, eps_xt, eps_coef, low, high;
};

// A diffusion objective with the stack as its model, in one pass over the rows: y = mlp(x, layers, groups) read
// as p through `head`, and the mean over rows and dimensions of KL(q || p), q = N(mean_q, std_q^2) with mean_q
// [M, d] and std_q [M, 1] or [M, d] (tensor/ops.h's gaussian_kl). With `grads`, it also leaves there that mean's
// gradients with respect to every layer's weight and bias (undefined for a layer no group uses), and with `inputs`
// (which needs `grads`) those with respect to x, q and the head. On the CPU each block of rows runs forward,
// through the KL and backward while its activations are in the cache: no activation is kept or recomputed. The
// result is that of the composition below (bit for bit for the seed's head without `inputs` on this build; to
// rounding otherwise). Without `grads`, or on CUDA, it is the composition.
//   loss = mlp_gaussian_kl(x, layers, groups, mean_q, std_q, head, &grads);
Tensor mlp_gaussian_kl(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                       const Tensor& mean_q, const Tensor& std_q, const GaussianHead& head = {},
                       MlpGradients* grads = nullptr, GaussianKlInputGradients* inputs = nullptr);

// mlp and mlp_backward composed of linear_into, matmul, relu_backward and sum: what runs on CUDA, and the reference
// the CPU kernel is tested against. The layers all paths share (the head) run once on all rows, each group's tail on
// its rows. The backward recomputes the activations unless `saved` holds those of this forward.
Tensor mlp_composed(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                    MlpSaved* saved = nullptr);
MlpGradients mlp_backward_composed(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                                   const std::vector<MlpGroup>& groups, bool need_x, const MlpSaved* saved = nullptr);
// mlp_gaussian_kl as mlp, the head's and gaussian_kl's ops, their backward written out in ops, and mlp_backward
// one after another (each on its device's kernels: on the CPU the fused MLP's): what runs on CUDA, and the one
// pass's reference.
Tensor mlp_gaussian_kl_composed(const Tensor& x, const std::vector<DenseLayer>& layers,
                                const std::vector<MlpGroup>& groups, const Tensor& mean_q, const Tensor& std_q,
                                const GaussianHead& head = {}, MlpGradients* grads = nullptr,
                                GaussianKlInputGradients* inputs = nullptr);

}  // namespace swirl
