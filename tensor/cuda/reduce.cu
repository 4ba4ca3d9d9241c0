// CUDA reductions with a fixed shape of summation (fixed grid, fixed tree), so results repeat run to run.
#include <cstdint>

#include "tensor/cuda/kernels.h"
#include "tensor/cuda/launch.cuh"

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

// Column sums in two passes with a fixed shape. Pass 1: block c sums rows chunk c of kRowChunks equal chunks into
// partial[c, j]. Its rows are one contiguous run of memory, read flat and coalesced: with cols <= kThreads, thread t
// reads elements t, t + stride, ... where stride is a multiple of cols, so it always meets column t % cols; the
// block then adds its threads' sums column by column in a fixed order. Wider matrices go a column per thread.
constexpr int kRowChunks = 256;

template <typename T>
__global__ void sum_rows_partial_kernel(double* partial, const T* x, long long rows, long long cols) {
    __shared__ double shared[kThreads];
    const long long chunk = (rows + kRowChunks - 1) / kRowChunks;
    const long long begin = min(rows, static_cast<long long>(blockIdx.x) * chunk), end = min(rows, begin + chunk);
    const int t = threadIdx.x;
    if (cols <= kThreads) {
        const long long stride = (kThreads / cols) * cols, n = (end - begin) * cols;
        const T* base = x + begin * cols;
        double value = 0.0;
        if (t < stride)
            for (long long f = t; f < n; f += stride) value += static_cast<double>(base[f]);
        shared[t] = value;
        __syncthreads();
        if (t < cols) {
            double total = 0.0;
            for (long long k = t; k < stride; k += cols) total += shared[k];
            partial[blockIdx.x * cols + t] = total;
        }
    } else {
        for (long long j = t; j < cols; j += kThreads) {
            double value = 0.0;
            for (long long i = begin; i < end; ++i) value += static_cast<double>(x[i * cols + j]);
            partial[blockIdx.x * cols + j] = value;
        }
    }
}

// Pass 2: out[j] = the kRowChunks partial sums of column j, in chunk order.
template <typename T>
__global__ void sum_rows_finish_kernel(T* out, const double* partial, long long cols) {
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < cols; j += (long long)gridDim.x * blockDim.x) {
        double total = 0.0;
        for (int c = 0; c < kRowChunks; ++c) total += partial[c * cols + j];
        out[j] = static_cast<T>(total);
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

}  // namespace

void sum_all(Tensor& out, const Tensor& x) {
    Tensor partial = Tensor::empty({kPartialBlocks}, DType::f64, x.device());
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        partial_sums_kernel<<<kPartialBlocks, kThreads>>>(ptr<double>(partial), ptr<T>(x), x.numel());
        SWIRL_CUDA_CHECK_LAUNCH();
        finish_sum_kernel<<<1, kThreads>>>(ptr<T>(out), ptr<double>(partial));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void sum_rows(Tensor& out, const Tensor& x) {
    const long long rows = x.dim(0), cols = x.dim(1);
    if (cols == 0) return;
    Tensor partial = Tensor::empty({kRowChunks, cols}, DType::f64, x.device());
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        auto* partial_data = ptr<double>(partial);
        sum_rows_partial_kernel<<<kRowChunks, kThreads>>>(partial_data, ptr<T>(x), rows, cols);
        SWIRL_CUDA_CHECK_LAUNCH();
        sum_rows_finish_kernel<<<grid_for(cols), kThreads>>>(ptr<T>(out), partial_data, cols);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void sum_cols(Tensor& out, const Tensor& x) {
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        sum_cols_kernel<<<grid_for(x.dim(0)), kThreads>>>(ptr<T>(out), ptr<T>(x), x.dim(0), x.dim(1));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

}  // namespace swirl::cuda
