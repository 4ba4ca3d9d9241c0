// CPU matrix products: out[i, :] += a[i, k] * b[k, :]. The loop path (gemm_loop, for widths under one vector) is
// plain C++ the compiler vectorises; the fast path (gemm_tiles) keeps a tile of kTileRows output rows
// in registers (tensor/cpu/gemm_tile.h) and, for long sums (the weight gradients, K = batch), splits k into fixed chunks
// whose partial products are added in chunk order. Transposed operands are read in place (a^T) or copied once
// (b^T, a small weight). Every output element sums over k in the same order whatever the thread count.
#include <vector>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_tile.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/parallel.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

namespace {

// Rows of out handled together: a row of b, once loaded, serves this many output rows.
constexpr int64_t kRowBlock = 8;

// out [M, N] (+)= A [M, K] @ b [K, N], where A[i, k] = a[i * a_row + k * a_col] (so a^T needs no copy).
// `accumulate` false starts out at zero.
template <typename T>
void gemm_loop(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t K, int64_t N,
                    bool accumulate, [[maybe_unused]] bool parallel) {  // unused without OpenMP
    const int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (parallel)
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

// Sums longer than this are split into chunks of kChunk, computed in parallel, then added in chunk order.
constexpr int64_t kSplitAbove = 16384, kChunk = 4096;

// The tiled product of rows [0, M) over k in [k0, k1), written to out with row stride N. When not parallel, the loop
// does not enter OpenMP at all: the fused MLP calls it on small blocks, where even a one-thread parallel region
// costs a measurable share.
template <typename T>
void gemm_tiles(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t k0, int64_t k1,
                int64_t N, bool accumulate, bool parallel, const Epilogue<T>& epilogue = {}) {
    constexpr int64_t tile_width = kTileVectors * kLanes<T>;
    const int64_t tiles = (M + kTileRows - 1) / kTileRows;
    const int64_t whole = N - N % kLanes<T>;  // columns in whole vectors go through the tiles, the rest a plain loop
    auto run_tile = [&](int64_t tile) {
        const int64_t i0 = tile * kTileRows, rows = std::min(kTileRows, M - i0);
        for (int64_t c0 = 0; c0 < whole; c0 += tile_width) {
            const Epilogue<T> columns{epilogue.bias == nullptr ? nullptr : epilogue.bias + c0, epilogue.relu,
                                      epilogue.mask == nullptr ? nullptr : epilogue.mask + i0 * epilogue.mask_row + c0,
                                      epilogue.mask_row};
            gemm_tile_rows_vectors(out + i0 * N + c0, N, a + i0 * a_row + k0 * a_col, a_row, a_col, b + k0 * N + c0, N,
                                   k1 - k0, rows, std::min<int64_t>(kTileVectors, (whole - c0) / kLanes<T>), accumulate,
                                   columns);
        }
        for (int64_t i = i0; i < i0 + rows; ++i)
            for (int64_t j = whole; j < N; ++j) {
                T sum = accumulate ? out[i * N + j] : epilogue.bias != nullptr ? epilogue.bias[j] : T(0);
                for (int64_t k = k0; k < k1; ++k) sum += a[i * a_row + k * a_col] * b[k * N + j];
                if (epilogue.relu && !(sum > T(0))) sum = T(0);
                if (epilogue.mask != nullptr && !(epilogue.mask[i * epilogue.mask_row + j] > T(0))) sum = T(0);
                out[i * N + j] = sum;
            }
    };
    if (!parallel) {
        for (int64_t tile = 0; tile < tiles; ++tile) run_tile(tile);
        return;
    }
    note_parallel_products();
#pragma omp parallel for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) run_tile(tile);
}

// Outputs narrower than a vector with contiguous rows of A (the 4-wide last layer): each element is a dot
// product of a row of A with a row of b^T [N, K], vectorised along k.
template <typename T>
void gemm_narrow(T* out, const T* a, int64_t a_row, const T* b, int64_t M, int64_t K, int64_t N, bool accumulate) {
    std::vector<T> b_t(static_cast<std::size_t>(N * K));
    for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) b_t[static_cast<std::size_t>(j * K + k)] = b[k * N + j];
#pragma omp parallel for schedule(static) if (M * K * N > kParallelMultiplyAdds)
    for (int64_t i = 0; i < M; ++i) {
        const T* a_i = a + i * a_row;
        for (int64_t j = 0; j < N; ++j) {
            const T* column = b_t.data() + j * K;
            T dot = T(0);
#pragma omp simd reduction(+ : dot)
            for (int64_t k = 0; k < K; ++k) dot += a_i[k] * column[k];
            out[i * N + j] = (accumulate ? out[i * N + j] : T(0)) + dot;
        }
    }
}

// The fast path for N of at least one vector (kLanes<T>: 16 floats with AVX-512, 8 with AVX2; the columns past the
// last whole vector in a plain loop), and two ways around narrow outputs; anything else takes the loop.
template <typename T>
void gemm_rows(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t K, int64_t N,
               bool accumulate) {
    constexpr int64_t lanes = kLanes<T>;
    const bool narrow = N > 0 && N < lanes && M > 0;
    if (narrow && a_row == 1 && M % lanes == 0) {
        // a is stored [K, M] (a weight gradient, K = batch): out^T [N, M] = b^T @ a takes the fast path with the
        // operands in place, and the small result is transposed back.
        std::vector<T> out_t(static_cast<std::size_t>(N * M));
        gemm_rows(out_t.data(), b, int64_t{1}, N, a, N, K, M, false);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                out[i * N + j] = (accumulate ? out[i * N + j] : T(0)) + out_t[static_cast<std::size_t>(j * M + i)];
        return;
    }
    if (narrow && a_col == 1) {
        gemm_narrow(out, a, a_row, b, M, K, N, accumulate);
        return;
    }
    if (N < lanes || M == 0) {
        gemm_loop(out, a, a_row, a_col, b, M, K, N, accumulate, M * K * N > kParallelMultiplyAdds);
        return;
    }
    const bool parallel = M * K * N > kParallelMultiplyAdds;
    if (K <= kSplitAbove) {
        gemm_tiles(out, a, a_row, a_col, b, M, 0, K, N, accumulate, parallel);
        return;
    }
    const int64_t chunks = (K + kChunk - 1) / kChunk;
    std::vector<T> partial(static_cast<std::size_t>(chunks * M * N));
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c)
        gemm_tiles(partial.data() + c * M * N, a, a_row, a_col, b, M, c * kChunk, std::min(K, (c + 1) * kChunk), N,
                   false, false);
    const int64_t n = M * N;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t e = 0; e < n; ++e) {
        T total = accumulate ? out[e] : T(0);
        for (int64_t c = 0; c < chunks; ++c) total += partial[static_cast<std::size_t>(c * n + e)];
        out[e] = total;
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

template <typename T>
void gemm_serial(T* out, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t M, int64_t K, int64_t N,
                 bool accumulate, const Epilogue<T>& epilogue) {
    if (N % kLanes<T> == 0) {
        gemm_tiles(out, a, a_row, a_col, b, M, 0, K, N, accumulate, false, epilogue);
        return;
    }
    if (epilogue.bias != nullptr && !accumulate) {  // as the tiles: the bias starts the sum
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) out[i * N + j] = epilogue.bias[j];
        accumulate = true;
    }
    gemm_loop(out, a, a_row, a_col, b, M, K, N, accumulate, false);
    if (epilogue.relu)
        for (int64_t e = 0; e < M * N; ++e) out[e] = out[e] > T(0) ? out[e] : T(0);
    if (epilogue.mask != nullptr) apply_mask(out, M, N, epilogue.mask, epilogue.mask_row);
}

template void gemm_serial<float>(float*, const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, bool,
                                 const Epilogue<float>&);
template void gemm_serial<double>(double*, const double*, int64_t, int64_t, const double*, int64_t, int64_t, int64_t,
                                  bool, const Epilogue<double>&);

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
        if (N % kLanes<T> == 0) {
            // The fast path: bias and ReLU applied in the tiles' epilogue, one pass over the output.
            gemm_tiles(o, x.data<T>(), K, int64_t{1}, weight_t.data(), M, 0, K, N, false, M * K * N > kParallelMultiplyAdds,
                       Epilogue<T>{bias_row, fuse_relu});
            return;
        }
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) o[i * N + j] = bias_row[j];
        gemm_rows(o, x.data<T>(), K, int64_t{1}, weight_t.data(), M, K, N, true);
        if (fuse_relu) {
            const int64_t n = M * N;
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
            for (int64_t i = 0; i < n; ++i) o[i] = o[i] > T(0) ? o[i] : T(0);
        }
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
