// One dense layer on one block of rows, on one thread, its operands in the cache: the pieces the fused MLP
// (mlp.cpp) runs its blocks through. The forward y = a @ weight^T + bias (then ReLU) as register tiles of the
// transposed weight (gemm_tile.h), or, for a layer a few outputs wide, as dot products summed across lanes; the
// parameters' gradients as one tiled product and the bias's column sums.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "tensor/cpu/capability.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_tile.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

// A DenseLayer (tensor/fused/mlp.h) as raw pointers, for the kernel's loops.
template <typename T>
struct RawDenseLayer {
    const T* weight;    // [out, in]
    const T* weight_t;  // [in, out]: the forward's right operand (only when out is a multiple of a vector)
    const T* bias;      // [out]
    int64_t in, out;
    bool relu;
};

// Shuffles whose lane indices are computed at compile time: __builtin_shufflevector(a, b, indices...) reads lane
// i of the pair (a, b) as a's lane i for i < L and b's lane i - L above.
template <typename Index, typename V, int... kI>
inline V shuffle(V a, V b, std::integer_sequence<int, kI...>) {
    return __builtin_shufflevector(a, b, Index{}(kI)...);
}

// The lane sums of L vectors of L floats (L = kLanes<float>) as one vector: lane q holds the sum of v[q]'s lanes. A
// tree of shuffles and adds: each stage pairs the vectors, and each vector of the pair gives the sums of the two
// halves of every group of lanes it holds, so a stage halves both the vectors and the lanes a partial sum spans
// (16 -> 8 -> 4 -> 2 -> 1 with AVX-512): 2(L - 1) shuffles and L - 1 adds where L reductions would take L log L.
using FloatVector = Vector<float>::type;
constexpr int kFloatLanes = static_cast<int>(kLanes<float>);

// One stage: a and b each hold kL / g groups of g partial sums; the result holds a's groups, then b's, each as
// g / 2 sums of its two halves.
template <int g>
inline FloatVector halve_groups(FloatVector a, FloatVector b) {
    constexpr int L = kFloatLanes, groups = L / g, h = g / 2;
    // Output lane j * h + i takes lane i of group j's first half (second half: + h); groups >= `groups` are b's.
    constexpr auto first_half = [](int lane) {
        const int j = lane / h, i = lane % h;
        return (j < groups ? 0 : L) + (j % groups) * g + i;
    };
    constexpr auto second_half = [](int lane) {
        const int j = lane / h, i = lane % h;
        return (j < groups ? 0 : L) + (j % groups) * g + i + h;
    };
    const auto lanes = std::make_integer_sequence<int, L>{};
    return shuffle<decltype(first_half)>(a, b, lanes) + shuffle<decltype(second_half)>(a, b, lanes);
}

template <int g, std::size_t n>
inline FloatVector lane_sums_of(const FloatVector (&v)[n]) {
    if constexpr (n == 1) {
        return v[0];
    } else {
        FloatVector half[n / 2];
        for (std::size_t p = 0; p < n / 2; ++p) half[p] = halve_groups<g>(v[2 * p], v[2 * p + 1]);
        return lane_sums_of<g / 2>(half);
    }
}

inline FloatVector lane_sums(const FloatVector (&v)[kFloatLanes]) { return lane_sums_of<kFloatLanes>(v); }

// weight_t [in, out] = weight [out, in]^T for floats, in and out multiples of L = kLanes<float>: L x L tiles
// transposed in registers. Stage b (1, 2, 4, ... L / 2) swaps, inside every 2b x 2b block of the tile, its
// top-right and bottom-left b x b blocks; the stages together transpose it. Some five times the speed of the
// element loop, which a step with one t per sample runs for every tail it trains.
template <int b>
inline void transpose_stage(FloatVector (&r)[kFloatLanes]) {
    constexpr int L = kFloatLanes;
    // Row i (i & b == 0) keeps its lanes j with j & b == 0 and takes row i + b's lanes j - b; row i + b the reverse.
    constexpr auto upper = [](int j) { return (j & b) == 0 ? j : L + j - b; };
    constexpr auto lower = [](int j) { return (j & b) == 0 ? j + b : L + j; };
    const auto lanes = std::make_integer_sequence<int, L>{};
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) {
        if ((i & b) != 0) continue;
        const FloatVector top = r[i], bottom = r[i + b];
        r[i] = shuffle<decltype(upper)>(top, bottom, lanes);
        r[i + b] = shuffle<decltype(lower)>(top, bottom, lanes);
    }
    if constexpr (2 * b < L) transpose_stage<2 * b>(r);
}

inline void transpose_tiles(float* __restrict weight_t, const float* __restrict weight, int64_t in, int64_t out) {
    constexpr int L = kFloatLanes;
    for (int64_t jb = 0; jb < out; jb += L)
        for (int64_t ib = 0; ib < in; ib += L) {
            // Whole-vector loads and stores, unrolled (a copy loop would move them in halves, and the shuffles'
            // full loads would wait on failed store forwards).
            FloatVector r[L];
#pragma GCC unroll 16
            for (int j = 0; j < L; ++j) r[j] = load_vector<FloatVector>(weight + (jb + j) * in + ib);
            transpose_stage<1>(r);
#pragma GCC unroll 16
            for (int i = 0; i < L; ++i) store_vector(weight_t + (ib + i) * out + jb, r[i]);
        }
}

// weight_t [in, out] = weight [out, in]^T: in register tiles where they fit, else element by element.
template <typename T>
void transpose_weight(T* weight_t, const T* weight, int64_t in, int64_t out) {
    if constexpr (std::is_same_v<T, float>) {
        if (in % kFloatLanes == 0 && out % kFloatLanes == 0) return transpose_tiles(weight_t, weight, in, out);
    }
    for (int64_t i = 0; i < in; ++i)  // contiguous writes, strided reads
        for (int64_t j = 0; j < out; ++j) weight_t[i * out + j] = weight[j * in + i];
}

// How many vectors of lane sums a narrow layer of kOut outputs fills a pass: one, holding L / kOut rows' outputs;
// or two, where one would leave most of a vector's lanes unused or hold no whole row (5 outputs in 8 lanes: one row
// in 8 lanes, three rows in 16).
template <int kOut>
constexpr int kNarrowVectors = kOut == kFloatLanes || kFloatLanes / kOut >= 2 ? 1 : 2;

// y [rows, kOut] = a [rows, in] @ weight^T + bias (then ReLU) for a float layer a few outputs wide (the model's
// last layer: 4 or 5; and, with the transposed weight, x's gradient through the first: dense_input_gradient; and
// L = kLanes<float> outputs of a wider layer not transposed: dense_forward), kOut <= 2L and `in` a multiple of L.
// kRows rows at a time (kNarrowVectors L / kOut): each output is a dot product along k in whole vectors, and the
// kRows x kOut of them are summed across lanes together (lane_sums, L vectors into one), which leaves them in y's
// order. A last group of fewer rows repeats its last row, so every row takes the same arithmetic wherever it
// falls. y_row is y's row stride (kOut, or a wider output's width).
template <int kOut>
void narrow_dense_forward(float* y, const float* a, int64_t rows, const RawDenseLayer<float>& layer,
                          int64_t y_row = kOut) {
    using V = FloatVector;
    constexpr int L = kFloatLanes, kVectors = kNarrowVectors<kOut>, kRows = kVectors * L / kOut;
    static_assert(kRows >= 1, "a narrow layer is at most two vectors wide");
    const int64_t in = layer.in;
    alignas(64) float bias_lanes[kVectors * L] = {};
    for (int r = 0; r < kRows; ++r)
        for (int j = 0; j < kOut; ++j) bias_lanes[r * kOut + j] = layer.bias[j];
    for (int64_t i = 0; i < rows; i += kRows) {
        const int64_t valid = std::min<int64_t>(kRows, rows - i);
        V acc[kVectors][L] = {};  // acc[(r kOut + j) / L][(r kOut + j) % L]; the lanes past kRows kOut stay zero
        const float* row[kRows];
        for (int r = 0; r < kRows; ++r) row[r] = a + (i + std::min<int64_t>(r, valid - 1)) * in;
        for (int64_t k = 0; k < in; k += L) {
            if constexpr (kRows * kOut + kRows < kCapability.vector_registers) {
                // The accumulators and a vector of each row fit the registers; each weight vector is loaded where
                // it is used, as the multiply-adds' memory operand (an array of them would live on the stack).
                V x[kRows];
#pragma GCC unroll 16
                for (int r = 0; r < kRows; ++r) x[r] = load_vector<V>(row[r] + k);
#pragma GCC unroll 16
                for (int j = 0; j < kOut; ++j) {
                    const V w = load_vector<V>(layer.weight + j * in + k);
#pragma GCC unroll 16
                    for (int r = 0; r < kRows; ++r) acc[(r * kOut + j) / L][(r * kOut + j) % L] += x[r] * w;
                }
            } else {
                // The accumulators nearly fill the registers (5 outputs of 3 rows in AVX2's 16): a row's vector
                // at a time, each weight vector a memory operand of its multiply-adds. Whole-vector loads,
                // unrolled: a copy loop into w would move the vectors in halves, and each full load of one then
                // waits on a failed store forward.
                V w[kOut];
#pragma GCC unroll 8
                for (int j = 0; j < kOut; ++j) w[j] = load_vector<V>(layer.weight + j * in + k);
#pragma GCC unroll 8
                for (int r = 0; r < kRows; ++r) {
                    const V x = load_vector<V>(row[r] + k);
#pragma GCC unroll 8
                    for (int j = 0; j < kOut; ++j) acc[(r * kOut + j) / L][(r * kOut + j) % L] += x * w[j];
                }
            }
        }
        alignas(64) float lanes[kVectors * L];
        for (int v = 0; v < kVectors; ++v) {
            V bias, out;
            std::memcpy(&bias, bias_lanes + v * L, sizeof(V));
            out = lane_sums(acc[v]) + bias;
            if (layer.relu) out = out > 0.0f ? out : V{};
            std::memcpy(lanes + v * L, &out, sizeof(V));
        }
        if (y_row == kOut && valid == kRows) {  // a whole group: one store of a size the compiler knows
            std::memcpy(y + i * kOut, lanes, sizeof(float) * kRows * kOut);
            continue;
        }
        for (int64_t r = 0; r < valid; ++r) std::memcpy(y + (i + r) * y_row, lanes + r * kOut, sizeof(float) * kOut);
    }
}

// y [rows, out] = a [rows, in] @ weight^T + bias (then ReLU): the register tiles on the transposed weight when the
// plan made one, else dot products.
template <typename T>
void dense_forward(T* y, const T* a, int64_t rows, const RawDenseLayer<T>& layer) {
    if (layer.weight_t != nullptr) {
        gemm_serial(y, a, layer.in, int64_t{1}, layer.weight_t, rows, layer.in, layer.out, false,
                    Epilogue<T>{layer.bias, layer.relu});
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        constexpr int L = kFloatLanes;
        if (layer.in % L == 0 && layer.out == 4) return narrow_dense_forward<4>(y, a, rows, layer);
        if (layer.in % L == 0 && layer.out == 5) return narrow_dense_forward<5>(y, a, rows, layer);
        if (layer.in % L == 0 && layer.out % L == 0) {
            // A layer few rows run through, its weight not transposed (transposing a 64 x 64 weight costs about a
            // dozen rows of this): L outputs a pass, each block of L weight rows as an L-wide layer.
            for (int64_t j0 = 0; j0 < layer.out; j0 += L) {
                const RawDenseLayer<float> block{layer.weight + j0 * layer.in, nullptr, layer.bias + j0, layer.in, L,
                                                 layer.relu};
                narrow_dense_forward<L>(y + j0, a, rows, block, layer.out);
            }
            return;
        }
    }
    // Other widths (and float64 layers not transposed): dot products of a row with the rows of the weight.
    for (int64_t i = 0; i < rows; ++i) {
        const T* a_row = a + i * layer.in;
        for (int64_t j = 0; j < layer.out; ++j) {
            const T* w_row = layer.weight + j * layer.in;
            T dot = T(0);
#pragma omp simd reduction(+ : dot)
            for (int64_t k = 0; k < layer.in; ++k) dot += a_row[k] * w_row[k];
            dot += layer.bias[j];
            y[i * layer.out + j] = layer.relu && dot < T(0) ? T(0) : dot;
        }
    }
}

// grad_input [rows, in] = grad [rows, out] @ weight [out, in], and, when relu_output [rows, in] is given (the ReLU
// that made the layer's input), 0 where it is not positive: the gradient at the ReLU's input, in the product's pass.
// For an input a few wide (the first layer's x, whose gradient a learned schedule wants) the general loop would run
// one scalar multiply-add at a time (some 12% of the best recipe's step at hidden 128); instead the weight goes
// transposed into scratch [in, out] and each element is a dot product of a row of grad with a row of it,
// lane-summed as the narrow forward's.
template <typename T>
void dense_input_gradient(T* grad_input, T* scratch, const T* grad, int64_t rows, const RawDenseLayer<T>& layer,
                          const T* relu_output = nullptr) {
    if constexpr (std::is_same_v<T, float>) {
        constexpr int L = kFloatLanes;
        if (layer.out % L == 0 && (layer.in == 2 || layer.in == 4 || layer.in == 5)) {
            transpose_weight(scratch, layer.weight, layer.in, layer.out);
            static constexpr float kZeros[8] = {};  // the bias of at most 5 outputs
            const RawDenseLayer<float> dots{scratch, nullptr, kZeros, layer.out, layer.in, false};
            if (layer.in == 2) narrow_dense_forward<2>(grad_input, grad, rows, dots);
            else if (layer.in == 4) narrow_dense_forward<4>(grad_input, grad, rows, dots);
            else narrow_dense_forward<5>(grad_input, grad, rows, dots);
            if (relu_output != nullptr) apply_mask(grad_input, rows, layer.in, relu_output, layer.in);
            return;
        }
    }
    gemm_serial(grad_input, grad, layer.out, int64_t{1}, layer.weight, rows, layer.out, layer.in, false,
                Epilogue<T>{nullptr, false, relu_output, layer.in});
}

// weight_grad [out, in] += grad^T [out, rows] @ a [rows, in] (= when not accumulate: the first rows of a sum, so
// that it needs no zeros first);  bias_grad [out] += grad's column sums.
template <typename T>
void dense_parameter_gradients(T* weight_grad, T* bias_grad, T* scratch, const T* grad, const T* a, int64_t rows,
                               const RawDenseLayer<T>& layer, bool accumulate) {
    if (layer.in % kLanes<T> == 0 || layer.out % kLanes<T> != 0) {
        gemm_serial(weight_grad, grad, int64_t{1}, layer.out, a, layer.out, rows, layer.in, accumulate);
    } else {
        // A narrow input (the first layer, 2 wide): the transposed product [in, out] is the wide one.
        gemm_serial(scratch, a, int64_t{1}, layer.in, grad, layer.in, rows, layer.out, false);
        for (int64_t i = 0; i < layer.in; ++i)
            for (int64_t j = 0; j < layer.out; ++j) {
                T& sum = weight_grad[j * layer.in + i];
                sum = (accumulate ? sum : T(0)) + scratch[i * layer.out + j];
            }
    }
    // Four rows a pass: each pass adds into bias_grad once, so the chain of dependent loads and stores through it
    // is a quarter as long.
    const int64_t out = layer.out;
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const T* g = grad + i * out;
#pragma omp simd
        for (int64_t j = 0; j < out; ++j) bias_grad[j] += (g[j] + g[out + j]) + (g[2 * out + j] + g[3 * out + j]);
    }
    for (; i < rows; ++i) {
#pragma omp simd
        for (int64_t j = 0; j < out; ++j) bias_grad[j] += grad[i * out + j];
    }
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
