// The CPU kernels of every op, parallel with OpenMP over rows (the naive loops they are tested against, for the
// dense layers, are tensor/reference.h; the elementwise kernels are themselves plain loops).
// Outputs come first, then inputs; shapes are checked by tensor/ops.cpp before these are called.
// Every reduction adds in a fixed order that does not depend on the thread count.
#pragma once

#include <cstdint>

#include "tensor/backend.h"
#include "tensor/mlp.h"
#include "tensor/tensor.h"

namespace swirl::cpu {

// out and x have one shape.
void unary(Tensor& out, const Tensor& x, UnaryOp op);
void affine(Tensor& out, const Tensor& x, double scale, double shift);  // out = scale * x + shift
void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out);
// out is [layout.rows, layout.cols]; a and b are read through the layout's strides.
void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout);
// out [rows, cols] = x read through the layout's a-strides (b-strides unused).
void expand(Tensor& out, const Tensor& x, const Broadcast2D& layout);

// out [M, N] = op(a) [M, K] @ op(b) [K, N] (tested against reference::matmul, tensor/reference.h).
void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
// out [M, N] = x [M, K] @ weight [N, K]^T + bias [N], then ReLU if fuse_relu.
void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu);

// The fused MLP (tensor/mlp.h), shapes checked by tensor/mlp.cpp. mlp_forward: out [M, N] from x [M, K]; given
// `kept`, it leaves there the activations when they are small enough to keep (else an undefined tensor).
// mlp_backward writes the gradients that are defined in grads (x's; the weights and biases of the layers used),
// from the kept activations when defined, recomputing them otherwise.
void mlp_forward(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                 Tensor* kept);
void mlp_backward(MlpGradients& grads, const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                  const std::vector<MlpGroup>& groups, const Tensor& kept);
// The fused objective (tensor/mlp.h's mlp_gaussian_kl) in one pass: kl [M, d] each element's KL, and the
// gradients of sum(grad_value * kl) defined in grads (the weights' and biases', x's) and in inputs when given
// (q's, std_q's element by element [M, d], the head's); mean_q and std_q [M, d], the head's tensors checked.
void mlp_gaussian_kl(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                     const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups, const Tensor& mean_q,
                     const Tensor& std_q, const GaussianHead& head, double grad_value);

// The Gaussian KL of tensor/ops.h and its backward; every operand has one shape (std_q materialised).
void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);

void sum_all(Tensor& out, const Tensor& x);   // out [] (or any one-element shape)
void sum_rows(Tensor& out, const Tensor& x);  // x [M, N] -> out [1, N], summing over the rows
void sum_cols(Tensor& out, const Tensor& x);  // x [M, N] -> out [M, 1], summing over the columns

// dst[:, dst_col + c] = src[:, src_col + c] for c in [0, count); dst [M, Nd], src [M, Ns].
void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count);
void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index);  // out [R, N], x [M, N], index [R]
void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src);   // out [M, N], src [R, N]
void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs);  // out [sum of counts, N]

void fill(Tensor& x, double value);
void copy(Tensor& dst, const Tensor& src);  // same element count, any dtypes
void add_inplace(Tensor& dst, const Tensor& src);
// x[i] is element first_element + i of a draw whose first counter is first_counter; which Philox blocks an
// element uses is in random.cpp. Results depend on neither the threads nor the part of the draw filled.
void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high);
void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev);

// Every target on this device, all of one floating dtype, none empty, shapes checked; written through its pointers.
void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& options);

}  // namespace swirl::cpu
