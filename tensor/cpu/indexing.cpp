// CPU column copies (slice, concat) and row gather / scatter-add (the per-sample timestep heads).
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/capability.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

// Element by element rather than a memcpy per row: the model's slices are one to five columns wide, where a
// library call per row cost more than the copy (a per-sample step made ~40,000 of them).
void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count) {
    const int64_t M = dst.dim(0), dst_cols = dst.dim(1), src_cols = src.dim(1);
    dispatch_any(dst.dtype(), [&](auto zero) {
        using U = decltype(zero);
        U* d = static_cast<U*>(dst.raw_data()) + dst_col;
        const U* s = static_cast<const U*>(src.raw_data()) + src_col;
        for (int64_t i = 0; i < M; ++i)
            for (int64_t c = 0; c < count; ++c) d[i * dst_cols + c] = s[i * src_cols + c];
    });
}

void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index) {
    const int64_t R = index.numel(), N = x.dim(1);
    const int64_t* idx = index.data<int64_t>();
    dispatch_any(x.dtype(), [&](auto zero) {
        using U = decltype(zero);
        U* o = static_cast<U*>(out.raw_data());
        const U* in = static_cast<const U*>(x.raw_data());
        for (int64_t r = 0; r < R; ++r)
            for (int64_t j = 0; j < N; ++j) o[r * N + j] = in[idx[r] * N + j];
    });
}

void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs) {
    const int64_t N = x.dim(1);
    dispatch_any(x.dtype(), [&](auto zero) {
        using U = decltype(zero);
        U* o = static_cast<U*>(out.raw_data());
        const U* in = static_cast<const U*>(x.raw_data());
        for (const RowRun& run : runs) {
            const U* source = in + run.row * N;
            if (N == 1) {  // a column (the per-row step constants): one fill the compiler vectorises
                std::fill(o, o + run.count, source[0]);
                o += run.count;
                continue;
            }
            for (int64_t r = 0; r < run.count; ++r, o += N)
                for (int64_t j = 0; j < N; ++j) o[j] = source[j];
        }
    });
}

void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src) {
    dispatch_floating(out.dtype(), "index_add_rows", [&](auto zero) {
        using T = decltype(zero);
        const int64_t R = index.numel(), N = src.dim(1);
        const int64_t* idx = index.data<int64_t>();
        T* o = out.data<T>();
        const T* s = src.data<T>();
        // Sequential in r: repeated indices accumulate in a fixed order.
        for (int64_t r = 0; r < R; ++r)
            for (int64_t j = 0; j < N; ++j) o[idx[r] * N + j] += s[r * N + j];
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
