// One dense layer on one block of rows, on one thread, its operands in the cache: the pieces the fused MLP
// (mlp.cpp) runs its blocks through. The forward y = a @ weight^T + bias (then ReLU) as register tiles of the
// transposed weight (gemm_tile.h), or, for a layer a few outputs wide, as dot products summed across lanes; the
// parameters' gradients as one tiled product and the bias's column sums.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/gemm_tile.h"

namespace swirl::cpu {

// A DenseLayer (tensor/mlp.h) as raw pointers, for the kernel's loops.
template <typename T>
struct RawDenseLayer {
    const T* weight;    // [out, in]
    const T* weight_t;  // [in, out]: the forward's right operand (only when out is a multiple of a vector)
    const T* bias;      // [out]
    int64_t in, out;
    bool relu;
};

template <typename T>
constexpr int64_t kLanes = 64 / sizeof(T);

// The lane sums of 16 float vectors as one vector: lane q holds the sum of v[q]'s 16 lanes. A tree of shuffles
// and adds: each level pairs the vectors and halves the lanes each keeps (16 -> 8 -> 4 -> 2 -> 1 partial sums),
// 30 shuffles and 15 adds where 16 separate reductions would take 64 of each.
inline TileVector<float>::type lane_sums(const TileVector<float>::type (&v)[16]) {
    using V = TileVector<float>::type;
    V eight[8], four[4], two[2];
    for (int p = 0; p < 8; ++p)  // lanes 0-7: v[2p]'s eight partial sums, 8-15: v[2p + 1]'s
        eight[p] = __builtin_shufflevector(v[2 * p], v[2 * p + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                   __builtin_shufflevector(v[2 * p], v[2 * p + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                           31);
    for (int p = 0; p < 4; ++p)  // four partial sums each of v[4p .. 4p + 3], in order
        four[p] = __builtin_shufflevector(eight[2 * p], eight[2 * p + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25,
                                          26, 27) +
                  __builtin_shufflevector(eight[2 * p], eight[2 * p + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29,
                                          30, 31);
    for (int p = 0; p < 2; ++p)  // two partial sums each of v[8p .. 8p + 7]
        two[p] = __builtin_shufflevector(four[2 * p], four[2 * p + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28,
                                         29) +
                 __builtin_shufflevector(four[2 * p], four[2 * p + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30,
                                         31);
    return __builtin_shufflevector(two[0], two[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
           __builtin_shufflevector(two[0], two[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

// weight_t [in, out] = weight [out, in]^T for floats, in and out multiples of 16: 16 x 16 tiles transposed in
// registers. Each stage swaps, inside every 2b x 2b block of the tile, its top-right and bottom-left b x b blocks
// (b = 1, 2, 4, 8); the four swaps together transpose it. Five times the speed of the element loop (0.2 against
// 1.0 us for 64 x 64), which a step with one t per sample runs for every tail it trains.
inline void transpose_tiles(float* __restrict weight_t, const float* __restrict weight, int64_t in, int64_t out) {
    using V = TileVector<float>::type;
    for (int64_t jb = 0; jb < out; jb += 16)
        for (int64_t ib = 0; ib < in; ib += 16) {
            V r[16];
            for (int j = 0; j < 16; ++j) std::memcpy(&r[j], weight + (jb + j) * in + ib, sizeof(V));
            for (int i = 0; i < 16; ++i) {
                if ((i & 1) != 0) continue;
                const V top = r[i], bottom = r[i + 1];
                r[i] = __builtin_shufflevector(top, bottom, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
                r[i + 1] = __builtin_shufflevector(top, bottom, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
            }
            for (int i = 0; i < 16; ++i) {
                if ((i & 2) != 0) continue;
                const V top = r[i], bottom = r[i + 2];
                r[i] = __builtin_shufflevector(top, bottom, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
                r[i + 2] = __builtin_shufflevector(top, bottom, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
            }
            for (int i = 0; i < 16; ++i) {
                if ((i & 4) != 0) continue;
                const V top = r[i], bottom = r[i + 4];
                r[i] = __builtin_shufflevector(top, bottom, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
                r[i + 4] = __builtin_shufflevector(top, bottom, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
            }
            for (int i = 0; i < 16; ++i) {
                if ((i & 8) != 0) continue;
                const V top = r[i], bottom = r[i + 8];
                r[i] = __builtin_shufflevector(top, bottom, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
                r[i + 8] = __builtin_shufflevector(top, bottom, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
            }
            for (int i = 0; i < 16; ++i) std::memcpy(weight_t + (ib + i) * out + jb, &r[i], sizeof(V));
        }
}

// weight_t [in, out] = weight [out, in]^T: in register tiles where they fit, else element by element.
template <typename T>
void transpose_weight(T* weight_t, const T* weight, int64_t in, int64_t out) {
    if constexpr (std::is_same_v<T, float>) {
        if (in % 16 == 0 && out % 16 == 0) return transpose_tiles(weight_t, weight, in, out);
    }
    for (int64_t i = 0; i < in; ++i)  // contiguous writes, strided reads
        for (int64_t j = 0; j < out; ++j) weight_t[i * out + j] = weight[j * in + i];
}

// y [rows, kOut] = a [rows, in] @ weight^T + bias (then ReLU) for a float layer a few outputs wide (the model's
// last layer: 4 or 5; and, with the transposed weight, x's gradient through the first: dense_input_gradient; and
// 16 outputs of a wider layer not transposed: dense_forward) and `in` a multiple of 16. kRows rows at a time: each
// output is a dot product along k in whole vectors, and the kRows x kOut of them are summed across lanes together
// (lane_sums), which leaves them in y's order, one store. A last group of fewer rows repeats its last row, so every
// row takes the same arithmetic wherever it falls. y_row is y's row stride (kOut, or a wider output's width).
template <int kOut>
void narrow_dense_forward(float* y, const float* a, int64_t rows, const RawDenseLayer<float>& layer,
                          int64_t y_row = kOut) {
    using V = TileVector<float>::type;
    constexpr int kRows = 16 / kOut;
    const int64_t in = layer.in;
    alignas(64) float bias_lanes[16] = {};
    for (int r = 0; r < kRows; ++r)
        for (int j = 0; j < kOut; ++j) bias_lanes[r * kOut + j] = layer.bias[j];
    V bias;
    std::memcpy(&bias, bias_lanes, sizeof(V));
    for (int64_t i = 0; i < rows; i += kRows) {
        const int64_t valid = std::min<int64_t>(kRows, rows - i);
        V acc[16] = {};  // acc[r kOut + j]; the lanes past kRows kOut stay zero
        for (int64_t k = 0; k < in; k += 16) {
            V w[kOut];
            for (int j = 0; j < kOut; ++j) std::memcpy(&w[j], layer.weight + j * in + k, sizeof(V));
            for (int r = 0; r < kRows; ++r) {
                V x;
                std::memcpy(&x, a + (i + std::min<int64_t>(r, valid - 1)) * in + k, sizeof(V));
                for (int j = 0; j < kOut; ++j) acc[r * kOut + j] += x * w[j];
            }
        }
        V out = lane_sums(acc) + bias;
        if (layer.relu) out = out > 0.0f ? out : V{};
        if (y_row == kOut) {
            std::memcpy(y + i * kOut, &out, sizeof(float) * static_cast<std::size_t>(valid * kOut));
            continue;
        }
        alignas(64) float lanes[16];
        std::memcpy(lanes, &out, sizeof(V));
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
        if (layer.in % 16 == 0 && layer.out == 4) return narrow_dense_forward<4>(y, a, rows, layer);
        if (layer.in % 16 == 0 && layer.out == 5) return narrow_dense_forward<5>(y, a, rows, layer);
        if (layer.in % 16 == 0 && layer.out % 16 == 0) {
            // A layer few rows run through, its weight not transposed (transposing a 64 x 64 weight costs about a
            // dozen rows of this): 16 outputs a pass, each block of 16 weight rows as a 16-wide layer.
            for (int64_t j0 = 0; j0 < layer.out; j0 += 16) {
                const RawDenseLayer<float> block{layer.weight + j0 * layer.in, nullptr, layer.bias + j0, layer.in, 16,
                                                 layer.relu};
                narrow_dense_forward<16>(y + j0, a, rows, block, layer.out);
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

// grad_input [rows, in] = grad [rows, out] @ weight [out, in]. For an input a few wide (the first layer's x, whose
// gradient a learned schedule wants) the general loop runs one scalar multiply-add at a time (12% of the best
// recipe's step at hidden 128); instead the weight goes transposed into scratch [in, out] and each element is a
// dot product of a row of grad with a row of it, lane-summed as the narrow forward's.
template <typename T>
void dense_input_gradient(T* grad_input, T* scratch, const T* grad, int64_t rows, const RawDenseLayer<T>& layer) {
    if constexpr (std::is_same_v<T, float>) {
        if (layer.out % 16 == 0 && (layer.in == 2 || layer.in == 4 || layer.in == 5)) {
            transpose_weight(scratch, layer.weight, layer.in, layer.out);
            static constexpr float kZeros[16] = {};
            const RawDenseLayer<float> dots{scratch, nullptr, kZeros, layer.out, layer.in, false};
            if (layer.in == 2) return narrow_dense_forward<2>(grad_input, grad, rows, dots);
            if (layer.in == 4) return narrow_dense_forward<4>(grad_input, grad, rows, dots);
            return narrow_dense_forward<5>(grad_input, grad, rows, dots);
        }
    }
    gemm_serial(grad_input, grad, layer.out, int64_t{1}, layer.weight, rows, layer.out, layer.in, false);
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

}  // namespace swirl::cpu
