// Matrix products through cuBLAS. swirl's matrices are row-major and cuBLAS's column-major, so out = a @ b is
// computed as out^T = b^T @ a^T: the operands swap places and no data moves.
#include "tensor/cuda/handles.h"
#include "tensor/cuda/kernels.h"
#include "tensor/cuda/libraries.h"

namespace swirl::cuda {

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    const int M = static_cast<int>(out.dim(0)), N = static_cast<int>(out.dim(1));
    const int K = static_cast<int>(trans_a ? a.dim(0) : a.dim(1));
    if (M == 0 || N == 0) return;
    if (K == 0) {  // an empty sum; cuBLAS refuses a leading dimension of 0
        fill(out, 0.0);
        return;
    }
    cublasHandle_t handle = cublas_handle(out.device().index);
    // Leading dimensions of the row-major storage: a is [M, K] (or [K, M]), b is [K, N] (or [N, K]).
    const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
    const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (out.dtype() == DType::f32) {
        const float one = 1.0f, zero = 0.0f;
        SWIRL_CUBLAS_CHECK(cublas().sgemm(handle, op_b, op_a, N, M, K, &one, static_cast<const float*>(b.raw_data()), ldb,
                                       static_cast<const float*>(a.raw_data()), lda, &zero,
                                       static_cast<float*>(out.raw_data()), N));
    } else {
        const double one = 1.0, zero = 0.0;
        SWIRL_CUBLAS_CHECK(cublas().dgemm(handle, op_b, op_a, N, M, K, &one, static_cast<const double*>(b.raw_data()), ldb,
                                       static_cast<const double*>(a.raw_data()), lda, &zero,
                                       static_cast<double*>(out.raw_data()), N));
    }
}

void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    matmul(out, x, weight, false, true);  // x [M, K] @ weight [N, K]^T
    bias_activation(out, bias, fuse_relu);
}

}  // namespace swirl::cuda
