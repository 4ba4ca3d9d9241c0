// CPU column copies (slice, concat) and row gather / scatter-add (the per-sample timestep heads).
#include <cstring>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/kernels.h"

namespace swirl::cpu {

void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count) {
    const int64_t M = dst.dim(0), dst_cols = dst.dim(1), src_cols = src.dim(1);
    const std::size_t elem = dtype_size(dst.dtype());
    auto* d = static_cast<char*>(dst.raw_data());
    const auto* s = static_cast<const char*>(src.raw_data());
    for (int64_t i = 0; i < M; ++i)
        std::memcpy(d + static_cast<std::size_t>(i * dst_cols + dst_col) * elem,
                    s + static_cast<std::size_t>(i * src_cols + src_col) * elem, static_cast<std::size_t>(count) * elem);
}

void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index) {
    const int64_t R = index.numel(), N = x.dim(1);
    const std::size_t row_bytes = static_cast<std::size_t>(N) * dtype_size(x.dtype());
    const int64_t* idx = index.data<int64_t>();
    auto* o = static_cast<char*>(out.raw_data());
    const auto* in = static_cast<const char*>(x.raw_data());
    for (int64_t r = 0; r < R; ++r)
        std::memcpy(o + static_cast<std::size_t>(r) * row_bytes, in + static_cast<std::size_t>(idx[r]) * row_bytes,
                    row_bytes);
}

void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs) {
    const std::size_t row_bytes = static_cast<std::size_t>(x.dim(1)) * dtype_size(x.dtype());
    auto* o = static_cast<char*>(out.raw_data());
    const auto* in = static_cast<const char*>(x.raw_data());
    for (const RowRun& run : runs) {
        const char* source = in + static_cast<std::size_t>(run.row) * row_bytes;
        for (int64_t r = 0; r < run.count; ++r, o += row_bytes) std::memcpy(o, source, row_bytes);
    }
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

}  // namespace swirl::cpu
