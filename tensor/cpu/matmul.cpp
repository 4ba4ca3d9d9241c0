// CPU matrix products. One core loop, out[i, :] += a[i, k] * b[k, :], whose inner loop over a row of b the
// compiler vectorises; transposed operands are either read in place (a^T) or copied once (b^T, a small weight).
// Each output row belongs to one thread and sums over k in order, so results do not depend on the thread count.
#include <vector>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/kernels.h"

namespace swirl::cpu {

namespace {

// Rows of out handled together: a row of b, once loaded, serves this many output rows.
constexpr int64_t kRowBlock = 8;

// out [M, N] (+)= A [M, K] @ b [K, N], where A[i, k] = a[i * a_row + k * a_col] (so a^T needs no copy).
// `accumulate` false starts out at zero.
template <typename T>
void gemm_rows(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t K, int64_t N,
               bool accumulate) {
    const int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (M * K * N > (1 << 16))
    for (int64_t block = 0; block < blocks; ++block) {
        const int64_t i_end = std::min(M, (block + 1) * kRowBlock);
        for (int64_t i = block * kRowBlock; i < i_end; ++i) {
            T* out_row = out + i * N;
            if (!accumulate)
                for (int64_t j = 0; j < N; ++j) out_row[j] = T(0);
        }
        for (int64_t k = 0; k < K; ++k) {
            const T* b_row = b + k * N;
            for (int64_t i = block * kRowBlock; i < i_end; ++i) {
                const T a_ik = a[i * a_row + k * a_col];
                T* out_row = out + i * N;
#pragma omp simd
                for (int64_t j = 0; j < N; ++j) out_row[j] += a_ik * b_row[j];
            }
        }
    }
}

// A row-major [rows, cols] matrix copied to [cols, rows].
template <typename T>
std::vector<T> transposed(const T* m, int64_t rows, int64_t cols) {
    std::vector<T> t(static_cast<std::size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t[static_cast<std::size_t>(c * rows + r)] = m[r * cols + c];
    return t;
}

}  // namespace

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    dispatch_floating(out.dtype(), "matmul", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = out.dim(0), N = out.dim(1);
        const int64_t K = trans_a ? a.dim(0) : a.dim(1);
        const T* pa = a.data<T>();
        // a [M, K]: A[i, k] = a[i*K + k];  a [K, M] transposed: A[i, k] = a[k*M + i].
        const int64_t a_row = trans_a ? 1 : K, a_col = trans_a ? M : 1;
        if (trans_b) {
            std::vector<T> b_t = transposed(b.data<T>(), N, K);  // b [N, K] -> [K, N]
            gemm_rows(out.data<T>(), pa, a_row, a_col, b_t.data(), M, K, N, false);
        } else {
            gemm_rows(out.data<T>(), pa, a_row, a_col, b.data<T>(), M, K, N, false);
        }
    });
}

void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    dispatch_floating(out.dtype(), "linear", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = x.dim(0), K = x.dim(1), N = weight.dim(0);
        std::vector<T> weight_t = transposed(weight.data<T>(), N, K);  // [N, K] -> [K, N]
        T* o = out.data<T>();
        const T* bias_row = bias.data<T>();
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) o[i * N + j] = bias_row[j];
        gemm_rows(o, x.data<T>(), K, int64_t{1}, weight_t.data(), M, K, N, true);
        if (fuse_relu) {
            const int64_t n = M * N;
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
            for (int64_t i = 0; i < n; ++i) o[i] = o[i] > T(0) ? o[i] : T(0);
        }
    });
}

}  // namespace swirl::cpu
