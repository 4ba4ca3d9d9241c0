// CUDA reductions with a fixed shape of summation (fixed grid, fixed tree), so results repeat run to run.
#include <cstdint>

#include "tensor/cuda/handles.h"
#include "tensor/cuda/kernels.h"

namespace swirl::cuda {

namespace {

constexpr int kPartialBlocks = 256;  // fixed: the summation order must not depend on the GPU

// Sums a block's values in shared memory with a fixed tree; thread 0 gets the total.
__device__ double block_sum(double value, double* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
        __syncthreads();
    }
    return shared[0];
}

// partial[block] = sum of x[i] for i = block * kThreads + thread + k * (kPartialBlocks * kThreads).
template <typename T>
__global__ void partial_sums_kernel(double* partial, const T* x, long long n) {
    __shared__ double shared[kThreads];
    double value = 0.0;
    for (long long i = blockIdx.x * (long long)kThreads + threadIdx.x; i < n; i += (long long)kPartialBlocks * kThreads)
        value += static_cast<double>(x[i]);
    const double total = block_sum(value, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

template <typename T>
__global__ void finish_sum_kernel(T* out, const double* partial) {
    __shared__ double shared[kThreads];
    double value = 0.0;
    for (int i = threadIdx.x; i < kPartialBlocks; i += kThreads) value += partial[i];
    const double total = block_sum(value, shared);
    if (threadIdx.x == 0) out[0] = static_cast<T>(total);
}

// One block per column: out[j] = sum over rows of x[i, j].
template <typename T>
__global__ void sum_rows_kernel(T* out, const T* x, long long rows, long long cols) {
    __shared__ double shared[kThreads];
    for (long long j = blockIdx.x; j < cols; j += gridDim.x) {
        double value = 0.0;
        for (long long i = threadIdx.x; i < rows; i += kThreads) value += static_cast<double>(x[i * cols + j]);
        const double total = block_sum(value, shared);
        if (threadIdx.x == 0) out[j] = static_cast<T>(total);
        __syncthreads();
    }
}

// One thread per row: out[i] = sum over columns of x[i, j].
template <typename T>
__global__ void sum_cols_kernel(T* out, const T* x, long long rows, long long cols) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < rows; i += (long long)gridDim.x * blockDim.x) {
        double value = 0.0;
        for (long long j = 0; j < cols; ++j) value += static_cast<double>(x[i * cols + j]);
        out[i] = static_cast<T>(value);
    }
}

template <typename Body>
void floating(DType dtype, Body body) {
    if (dtype == DType::f32) body(float{});
    else body(double{});
}

}  // namespace

void sum_all(Tensor& out, const Tensor& x) {
    Tensor partial = Tensor::empty({kPartialBlocks}, DType::f64, x.device());
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        partial_sums_kernel<<<kPartialBlocks, kThreads>>>(static_cast<double*>(partial.raw_data()),
                                                          static_cast<const T*>(x.raw_data()), x.numel());
        SWIRL_CUDA_CHECK_LAUNCH();
        finish_sum_kernel<<<1, kThreads>>>(static_cast<T*>(out.raw_data()), static_cast<const double*>(partial.raw_data()));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void sum_rows(Tensor& out, const Tensor& x) {
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        const long long cols = x.dim(1);
        sum_rows_kernel<<<static_cast<unsigned>(cols < 1 ? 1 : (cols > 65535 ? 65535 : cols)), kThreads>>>(
            static_cast<T*>(out.raw_data()), static_cast<const T*>(x.raw_data()), x.dim(0), cols);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void sum_cols(Tensor& out, const Tensor& x) {
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        sum_cols_kernel<<<grid_for(x.dim(0)), kThreads>>>(static_cast<T*>(out.raw_data()),
                                                          static_cast<const T*>(x.raw_data()), x.dim(0), x.dim(1));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

}  // namespace swirl::cuda
