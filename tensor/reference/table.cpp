// The reference backend's table: what cpu::kernels() hands out under cpu::use_kernels(KernelSet::reference).
#include "tensor/reference/kernels.h"

namespace swirl::reference {

const cpu::Kernels& kernels() {
    static const cpu::Kernels table{
        .capability = "reference",
        .vector_floats = 1,
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
    return table;
}

}  // namespace swirl::reference
