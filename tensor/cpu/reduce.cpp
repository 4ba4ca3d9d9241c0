// CPU reductions. Long sums are split into fixed blocks of rows whose partial sums are then added in block
// order: parallel, yet the same bits for every thread count.
#include <algorithm>
#include <vector>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/parallel.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

namespace {

constexpr int64_t kBlockRows = 1024;

// partial[block][j] = sum of x[i, j] over the rows i of the block, accumulated in double.
template <typename T>
std::vector<double> column_partials(const T* x, int64_t M, int64_t N, int64_t& blocks) {
    blocks = (M + kBlockRows - 1) / kBlockRows;
    std::vector<double> partial(static_cast<std::size_t>(std::max<int64_t>(blocks, 1) * N), 0.0);
#pragma omp parallel for schedule(static) if (M * N > kParallelElements)
    for (int64_t block = 0; block < blocks; ++block) {
        double* acc = partial.data() + block * N;
        const int64_t end = std::min(M, (block + 1) * kBlockRows);
        for (int64_t i = block * kBlockRows; i < end; ++i)
            for (int64_t j = 0; j < N; ++j) acc[j] += static_cast<double>(x[i * N + j]);
    }
    return partial;
}

// The sum of x[0, n) in double: blocks of kBlockRows elements, each summed in kLanes interleaved running sums
// (element i into sum i % kLanes: independent chains the compiler vectorises, where one running sum is a chain of
// dependent adds, some 4 cycles an element) that are then added pairwise, and the blocks' sums added in block order.
// The order depends on n only: the same bits for every thread count.
template <typename T>
double blocked_sum(const T* x, int64_t n) {
    constexpr int64_t kLanes = 8;
    const int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
    std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t block = 0; block < blocks; ++block) {
        const int64_t begin = block * kBlockRows, end = std::min(n, begin + kBlockRows);
        double lane[kLanes] = {};
        int64_t i = begin;
        for (; i + kLanes <= end; i += kLanes)
            for (int64_t l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(x[i + l]);
        for (int64_t l = 0; i < end; ++i, ++l) lane[l] += static_cast<double>(x[i]);
        for (int64_t width = kLanes / 2; width > 0; width /= 2)
            for (int64_t l = 0; l < width; ++l) lane[l] += lane[l + width];
        partial[static_cast<std::size_t>(block)] = lane[0];
    }
    double total = 0.0;
    for (const double p : partial) total += p;
    return total;
}

}  // namespace

void sum_all(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        out.data<T>()[0] = static_cast<T>(blocked_sum(x.data<T>(), x.numel()));
    });
}

void sum_rows(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = x.dim(0), N = x.dim(1);
        int64_t blocks = 0;
        auto partial = column_partials(x.data<T>(), M, N, blocks);
        T* o = out.data<T>();
        for (int64_t j = 0; j < N; ++j) {
            double total = 0.0;
            for (int64_t block = 0; block < blocks; ++block) total += partial[static_cast<std::size_t>(block * N + j)];
            o[j] = static_cast<T>(total);
        }
    });
}

void sum_cols(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = x.dim(0), N = x.dim(1);
        const T* in = x.data<T>();
        T* o = out.data<T>();
#pragma omp parallel for schedule(static) if (M * N > kParallelElements)
        for (int64_t i = 0; i < M; ++i) {
            double total = 0.0;
            for (int64_t j = 0; j < N; ++j) total += static_cast<double>(in[i * N + j]);
            o[i] = static_cast<T>(total);
        }
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
