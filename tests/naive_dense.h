// The dense layers' maths in plain loops on host copies in double: an oracle more exact than any kernel, for the
// tests of the dense kernels of every backend (tests/test_tensor.cpp, tests/test_mlp.cpp).
// Inputs may be f32 or f64 on the CPU; outputs are f64.
#pragma once

#include <vector>

#include "tensor/fused/mlp.h"
#include "tensor/tensor.h"

namespace swirl::naive {

// out [M, N] = op(a) [M, K] @ op(b) [K, N], op the transpose when its flag is set.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// y [M, N] = x [M, K] @ weight [N, K]^T + bias [N], then max(y, 0) when relu.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, bool relu = false);

// The gradients of sum(grad_y * y) for y = linear(x, weight, bias) (no ReLU: apply its mask to grad_y first):
//   grad_x [M, K] = grad_y @ weight,  grad_weight [N, K] = grad_y^T @ x,  grad_bias [N] = sum of grad_y's rows.
struct LinearGradients {
    Tensor x, weight, bias;
};
LinearGradients linear_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight);

// The MLP op of tensor/fused/mlp.h, layer by layer: each group's rows through its path. Its backward keeps every
// activation (no recomputation) and sums each layer's gradients over the groups that use it, in group order.
Tensor mlp(const Tensor& x, const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups);
MlpGradients mlp_backward(const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                          const std::vector<MlpGroup>& groups);

}  // namespace swirl::naive
