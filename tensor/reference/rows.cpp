// The reference kernels that sum, move or draw rows and columns.
#include <cmath>
#include <numbers>
#include <type_traits>

#include "tensor/cpu/dispatch.h"
#include "tensor/generator.h"
#include "tensor/reference/kernels.h"

namespace swirl::reference {

using cpu::dispatch_any;
using cpu::dispatch_floating;

void sum_all(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        const T* in = x.data<T>();
        double total = 0;
        for (int64_t i = 0; i < x.numel(); ++i) total += in[i];
        out.data<T>()[0] = static_cast<T>(total);
    });
}

// x [M, N] -> out [1, N]: each column's sum over the rows.
void sum_rows(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = x.dim(0), N = x.dim(1);
        const T* in = x.data<T>();
        T* o = out.data<T>();
        for (int64_t j = 0; j < N; ++j) {
            double total = 0;
            for (int64_t i = 0; i < M; ++i) total += in[i * N + j];
            o[j] = static_cast<T>(total);
        }
    });
}

// x [M, N] -> out [M, 1]: each row's sum over the columns.
void sum_cols(Tensor& out, const Tensor& x) {
    dispatch_floating(x.dtype(), "sum", [&](auto zero) {
        using T = decltype(zero);
        const int64_t M = x.dim(0), N = x.dim(1);
        const T* in = x.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < M; ++i) {
            double total = 0;
            for (int64_t j = 0; j < N; ++j) total += in[i * N + j];
            o[i] = static_cast<T>(total);
        }
    });
}

void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count) {
    dispatch_any(dst.dtype(), [&](auto zero) {
        using U = decltype(zero);
        U* d = static_cast<U*>(dst.raw_data());
        const U* s = static_cast<const U*>(src.raw_data());
        for (int64_t i = 0; i < dst.dim(0); ++i)
            for (int64_t c = 0; c < count; ++c) d[i * dst.dim(1) + dst_col + c] = s[i * src.dim(1) + src_col + c];
    });
}

// out [R, N]: row r is row index[r] of x.
void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index) {
    dispatch_any(x.dtype(), [&](auto zero) {
        using U = decltype(zero);
        const int64_t N = x.dim(1);
        const int64_t* idx = index.data<int64_t>();
        U* o = static_cast<U*>(out.raw_data());
        const U* in = static_cast<const U*>(x.raw_data());
        for (int64_t r = 0; r < index.numel(); ++r)
            for (int64_t j = 0; j < N; ++j) o[r * N + j] = in[idx[r] * N + j];
    });
}

// out [M, N] += src [R, N] into rows index[r], r in order (a repeated index adds up in that order).
void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src) {
    dispatch_floating(out.dtype(), "index_add_rows", [&](auto zero) {
        using T = decltype(zero);
        const int64_t N = src.dim(1);
        const int64_t* idx = index.data<int64_t>();
        T* o = out.data<T>();
        const T* s = src.data<T>();
        for (int64_t r = 0; r < index.numel(); ++r)
            for (int64_t j = 0; j < N; ++j) o[idx[r] * N + j] += s[r * N + j];
    });
}

// out: run by run, `count` copies of row `row` of x.
void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs) {
    dispatch_any(x.dtype(), [&](auto zero) {
        using U = decltype(zero);
        const int64_t N = x.dim(1);
        U* o = static_cast<U*>(out.raw_data());
        const U* in = static_cast<const U*>(x.raw_data());
        int64_t r_out = 0;
        for (const RowRun& run : runs)
            for (int64_t k = 0; k < run.count; ++k, ++r_out)
                for (int64_t j = 0; j < N; ++j) o[r_out * N + j] = in[run.row * N + j];
    });
}

// Element e of a draw whose first counter is c comes from Philox block c + e: low + (high - low) u, u from 53 bits.
void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high) {
    dispatch_floating(x.dtype(), "uniform", [&](auto zero) {
        using T = decltype(zero);
        T* o = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
            const auto words = philox4x32_10(first_counter + first_element + static_cast<uint64_t>(i), seed);
            o[i] = static_cast<T>(low + (high - low) * uniform_from_words(words[0], words[1]));
        }
    });
}

// float64: Box-Muller on block c + e (normal_from_words). float32: block c + e / 4 holds two Box-Muller pairs, of
// a 23-bit uniform in (0, 1) for the radius and a 24-bit one in [0, 1) for the angle in turns; e % 4 picks r0 cos,
// r0 sin, r1 cos, r1 sin. Here in double with libm, rounded once (the CPU kernels compute it in float).
void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev) {
    dispatch_floating(x.dtype(), "normal", [&](auto zero) {
        using T = decltype(zero);
        T* o = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
            const uint64_t e = first_element + static_cast<uint64_t>(i);
            double z = 0;
            if constexpr (std::is_same_v<T, double>) {
                z = normal_from_words(philox4x32_10(first_counter + e, seed));
            } else {
                const auto words = philox4x32_10(first_counter + e / 4, seed);
                const uint32_t radius_word = words[e % 4 < 2 ? 0 : 2], angle_word = words[e % 4 < 2 ? 1 : 3];
                const double u_radius = (static_cast<double>(radius_word >> 9) + 0.5) * 0x1.0p-23;
                const double turns = static_cast<double>(angle_word >> 8) * 0x1.0p-24;
                const double radius = std::sqrt(-2.0 * std::log(u_radius)), angle = 2.0 * std::numbers::pi * turns;
                z = radius * (e % 2 == 0 ? std::cos(angle) : std::sin(angle));
            }
            o[i] = static_cast<T>(mean + stddev * z);
        }
    });
}

}  // namespace swirl::reference
