// A stack of dense layers as one op: the chain of Linear (+ ReLU) layers of nn::Sequential and of the diffusion
// model (head, then the tail of each row's step). On the CPU it runs block by block of rows, so that every
// activation stays in the cache and the backward recomputes them instead of reading them back from memory; on
// CUDA it is composed of cuBLAS products and the elementwise kernels, group by group.
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

// The seed's objective with the stack as its model, in one pass over the rows: y = mlp(x, layers, groups) [M, 2d]
// read as the reverse step's mean y[:, :d] and log-variance y[:, d:], and the mean over rows and dimensions of
//   gaussian_kl(mean_q, std_q, y[:, :d], y[:, d:])                              (tensor/ops.h; mean_q [M, d])
// where std_q is [M, 1] or [M, d]. With `grads`, it also leaves there that mean's gradients with respect to every
// layer's weight and bias (undefined for a layer no group uses; x, mean_q and std_q get none). On the CPU each
// block of rows runs forward, through the KL and backward while its activations are in the cache: no activation
// is kept or recomputed, and the result is that of the composition below, bit for bit where the compiler
// contracts the formulas alike. Without `grads` it is the composition (a forward and the KL).
//   loss = mlp_gaussian_kl(x, layers, groups, mean_q, std_q, &grads);
Tensor mlp_gaussian_kl(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                       const Tensor& mean_q, const Tensor& std_q, MlpGradients* grads = nullptr);

// The same three composed of linear_into, matmul, relu_backward and sum: what runs on CUDA, and the reference the
// CPU kernel is tested against. The layers all paths share (the head) run once on all rows, each group's tail on
// its rows. The backward recomputes the activations unless `saved` holds those of this forward.
Tensor mlp_composed(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                    MlpSaved* saved = nullptr);
MlpGradients mlp_backward_composed(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                                   const std::vector<MlpGroup>& groups, bool need_x, const MlpSaved* saved = nullptr);
// mlp, gaussian_kl, its backward and mlp_backward one after another (on CPU kernels or CUDA).
Tensor mlp_gaussian_kl_composed(const Tensor& x, const std::vector<DenseLayer>& layers,
                                const std::vector<MlpGroup>& groups, const Tensor& mean_q, const Tensor& std_q,
                                MlpGradients* grads = nullptr);

}  // namespace swirl
