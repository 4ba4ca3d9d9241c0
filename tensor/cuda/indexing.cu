// CUDA column copies (slice, concat) and row gather / repeat / scatter-add: the kernels of tensor/cpu/indexing.cpp.
#include <cub/device/device_radix_sort.cuh>

#include <cstdint>
#include <cstdio>

#include "tensor/cuda/kernels.h"
#include "tensor/cuda/launch.cuh"

namespace swirl::cuda {

namespace {

// Copies `count` columns, element-wise in bytes-sized units of T.
template <typename T>
__global__ void copy_cols_kernel(T* dst, long long dst_cols, long long dst_col, const T* src, long long src_cols,
                                 long long src_col, long long rows, long long count) {
    const long long n = rows * count;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [i, c] = split_index(k, count);
        dst[i * dst_cols + dst_col + c] = src[i * src_cols + src_col + c];
    }
}

// An index outside [0, rows) stops the kernel with a message (as PyTorch's device-side assert): checking it on the
// host would need the index copied back, a wait for the GPU on every call. The CUDA context is lost then, and
// the next CUDA call reports the failure. The thread of column 0 prints (one line per bad index, not per column).
__device__ inline void check_row(long long value, long long position, long long rows, long long col, const char* op) {
    if (value < 0 || value >= rows) {
        if (col == 0)
            printf("swirl: %s: index %lld at position %lld is out of range [0, %lld)\n", op, value, position, rows);
        __trap();
    }
}

template <typename T>
__global__ void index_select_kernel(T* out, const T* x, long long x_rows, const int64_t* index, long long rows,
                                    long long cols) {
    const long long n = rows * cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [r, c] = split_index(k, cols);
        const long long row = index[r];
        check_row(row, r, x_rows, c, "index_select_rows");
        out[k] = x[row * cols + c];
    }
}

// Scatter-add (out[index[r]] += src[r]), parallel and deterministic. The rows are first sorted by destination: a
// stable radix sort (CUB) of the pairs (index[r], r), so each destination's rows form one run, in their original
// order. Pass 1 cuts the runs into pieces at every kPiece-th sorted position and sums each piece's rows, one
// thread per (piece, column), in order. Pass 2 adds a run's piece sums, in order, to its destination row, one
// thread per (run, column). The shape of every sum depends on the index alone, never on the GPU or the timing:
// the same bits on every run. (The CPU adds the rows one by one instead; the two agree to rounding.)
constexpr long long kPiece = 256;

__global__ void iota_kernel(int64_t* x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] = i;
}

// partial[p] = the sum of src's rows sorted to positions p .. the piece's end, for every p that starts a piece.
template <typename T>
__global__ void index_add_pieces_kernel(T* partial, const T* src, const int64_t* keys, const int64_t* rows_of,
                                        long long rows, long long cols) {
    const long long n = rows * cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [p, c] = split_index(k, cols);
        if (p % kPiece != 0 && keys[p] == keys[p - 1]) continue;  // not the first row of a piece
        T sum = src[rows_of[p] * cols + c];
        for (long long q = p + 1; q < rows && q % kPiece != 0 && keys[q] == keys[p]; ++q)
            sum += src[rows_of[q] * cols + c];
        partial[p * cols + c] = sum;
    }
}

// out[key] += the run's piece sums, for every p that starts a run; its pieces start at p and at the multiples of
// kPiece inside the run.
template <typename T>
__global__ void index_add_runs_kernel(T* out, long long out_rows, const T* partial, const int64_t* keys,
                                      const int64_t* rows_of, long long rows, long long cols) {
    const long long n = rows * cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [p, c] = split_index(k, cols);
        if (p > 0 && keys[p] == keys[p - 1]) continue;  // not the first row of a run
        const long long key = keys[p];
        check_row(key, rows_of[p], out_rows, c, "index_add_rows_");
        T sum = out[key * cols + c];
        for (long long q = p; q < rows && keys[q] == key; q = (q / kPiece + 1) * kPiece) sum += partial[q * cols + c];
        out[key * cols + c] = sum;
    }
}

// Up to kRunsPerLaunch runs of repeat_rows, passed by value as a kernel argument (no table to copy to the device):
// output rows [out_begin[s], out_begin[s + 1]) are copies of source row `row[s]`.
constexpr int kRunsPerLaunch = 32;
struct RunTable {
    long long out_begin[kRunsPerLaunch + 1];
    long long row[kRunsPerLaunch];
    int count;
};

template <typename T>
__global__ void repeat_rows_kernel(T* out, const T* x, long long cols, RunTable table) {
    const long long first = table.out_begin[0];
    const long long n = (table.out_begin[table.count] - first) * cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [offset, c] = split_index(k, cols);
        const long long r = first + offset;
        int s = 0;
        while (s + 1 < table.count && table.out_begin[s + 1] <= r) ++s;
        out[r * cols + c] = x[table.row[s] * cols + c];
    }
}

}  // namespace

void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count) {
    const long long rows = dst.dim(0);
    if (rows * count == 0) return;
    auto launch = [&](auto zero) {
        using T = decltype(zero);
        copy_cols_kernel<<<grid_for(rows * count), kThreads>>>(ptr<T>(dst), dst.dim(1), dst_col, ptr<T>(src), src.dim(1),
                                                                src_col, rows, count);
    };
    if (dst.dtype() == DType::f32) launch(float{});
    else if (dst.dtype() == DType::f64) launch(double{});
    else launch(int64_t{});
    SWIRL_CUDA_CHECK_LAUNCH();
}

void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index) {
    if (out.numel() == 0) return;
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        index_select_kernel<<<grid_for(out.numel()), kThreads>>>(ptr<T>(out), ptr<T>(x), x.dim(0), ptr<int64_t>(index),
                                                                 index.numel(), x.dim(1));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs) {
    const long long cols = x.dim(1);
    RunTable table{};
    long long at = 0;  // the first output row of the next run
    auto launch = [&] {
        if (table.count == 0) return;
        const long long n = (table.out_begin[table.count] - table.out_begin[0]) * cols;
        floating(x.dtype(), [&](auto zero) {
            using T = decltype(zero);
            repeat_rows_kernel<<<grid_for(n), kThreads>>>(ptr<T>(out), ptr<T>(x), cols, table);
        });
        SWIRL_CUDA_CHECK_LAUNCH();
        table.count = 0;
    };
    for (const RowRun& run : runs) {
        if (run.count == 0) continue;
        table.out_begin[table.count] = at;
        table.row[table.count] = run.row;
        at += run.count;
        table.out_begin[++table.count] = at;
        if (table.count == kRunsPerLaunch) launch();
    }
    launch();
}

void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src) {
    const long long rows = index.numel(), cols = src.dim(1), out_rows = out.dim(0);
    if (rows == 0 || cols == 0) return;
    const Device device = out.device();
    Tensor rows_in = Tensor::empty({rows}, DType::i64, device);
    Tensor keys = Tensor::empty({rows}, DType::i64, device);
    Tensor rows_of = Tensor::empty({rows}, DType::i64, device);
    iota_kernel<<<grid_for(rows), kThreads>>>(ptr<int64_t>(rows_in), rows);
    SWIRL_CUDA_CHECK_LAUNCH();
    // Only the bits a valid index can have take part in the sort: fewer destination rows, fewer sorting passes.
    int end_bit = 1;
    while (end_bit < 63 && (1LL << end_bit) < out_rows) ++end_bit;
    size_t temp_bytes = 0;
    SWIRL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, ptr<int64_t>(index), ptr<int64_t>(keys),
                                                     ptr<int64_t>(rows_in), ptr<int64_t>(rows_of), rows, 0, end_bit));
    Tensor temp = Tensor::empty({static_cast<int64_t>(temp_bytes / sizeof(int64_t) + 1)}, DType::i64, device);
    SWIRL_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, ptr<int64_t>(index),
                                                     ptr<int64_t>(keys), ptr<int64_t>(rows_in), ptr<int64_t>(rows_of),
                                                     rows, 0, end_bit));
    Tensor partial = Tensor::empty({rows, cols}, out.dtype(), device);
    floating(out.dtype(), [&](auto zero) {
        using T = decltype(zero);
        index_add_pieces_kernel<<<grid_for(rows * cols), kThreads>>>(ptr<T>(partial), ptr<T>(src), ptr<int64_t>(keys),
                                                                     ptr<int64_t>(rows_of), rows, cols);
        SWIRL_CUDA_CHECK_LAUNCH();
        index_add_runs_kernel<<<grid_for(rows * cols), kThreads>>>(ptr<T>(out), out_rows, ptr<T>(partial),
                                                                   ptr<int64_t>(keys), ptr<int64_t>(rows_of), rows, cols);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

}  // namespace swirl::cuda
