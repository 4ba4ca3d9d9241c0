// One copy's table of kernels (tensor/cpu/kernels.h's Kernels), compiled with the copy.
#include "tensor/cpu/capability.h"

namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

const Kernels kKernels{
    .capability = kCapability.name,
    .vector_floats = static_cast<int>(kLanes<float>),
    .unary = &unary,
    .affine = &affine,
    .relu_backward = &relu_backward,
    .binary = &binary,
    .expand = &expand,
    .matmul = &matmul,
    .linear = &linear,
    .mlp_forward = &mlp_forward,
    .mlp_backward = &mlp_backward,
    .mlp_gaussian_kl = &mlp_gaussian_kl,
    .gaussian_kl = &gaussian_kl,
    .gaussian_kl_backward = &gaussian_kl_backward,
    .sum_all = &sum_all,
    .sum_rows = &sum_rows,
    .sum_cols = &sum_cols,
    .copy_cols = &copy_cols,
    .index_select_rows = &index_select_rows,
    .index_add_rows = &index_add_rows,
    .repeat_rows = &repeat_rows,
    .fill = &fill,
    .copy = &copy,
    .add_inplace = &add_inplace,
    .uniform = &uniform,
    .normal = &normal,
    .adam_update = &adam_update,
    .fma_chains = &fma_chains,
};

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
