// The register-blocked micro-kernel behind the CPU matmul's fast path: a tile of kTileRows output rows by up
// to 64 columns lives in vector registers (6 rows x 4 vectors of 16 floats = 24 accumulators) while k runs, so
// each multiply-add needs no load or store of the output. GCC/Clang vector extensions keep it portable: with AVX-512
// a vector is one register, with AVX2 two. Tested against reference::matmul (tensor/reference.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/cpu/gemm.h"

namespace swirl::cpu {

// 6 rows x 4 vectors = 24 accumulators, plus 4 vectors of b and one broadcast of a: 29 of the 32 AVX-512
// registers. 7 rows need 33 and spill one accumulator to the stack every k; it still won when every product
// streamed [64000, 64] tensors from memory, but on the fused MLP's blocks in cache 6 rows run 5-25% faster
// (best of 15 timings: 139-145 vs 94-117 GFLOP/s for a 256-row forward, 141 vs 127-134 for a weight gradient).
constexpr int64_t kTileRows = 6;
constexpr int64_t kTileVectorWidth = 16;  // floats per vector

template <typename T>
struct TileVector {
    typedef T type __attribute__((vector_size(64)));  // 16 floats or 8 doubles
};

// out[r, 16 v + l] (+)= sum_k A[r, k] * b[k, 16 v + l] for r < kRows (<= kTileRows), v < kVectors, where
// A[r, k] = a[r * a_row + k * a_col]; b has row stride ldb, out row stride ldo; then the epilogue. The row count is
// a template argument so that every loop over the tile unrolls and the accumulators never leave the registers:
// with a run-time count the compiler kept them on the stack around the k loop, and the tile's start and end took
// some 40% of its time at the fused MLP's K = 2..64.
template <typename T, int kVectors, int kRows>
inline void gemm_tile(T* out, int64_t ldo, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t ldb, int64_t K,
                      bool accumulate, const Epilogue<T>& epilogue = {}) {
    static_assert(kRows >= 1 && kRows <= kTileRows && kVectors >= 1 && kVectors <= 4);
    using V = typename TileVector<T>::type;
    constexpr int64_t kLanes = 64 / sizeof(T);
    V acc[kRows][kVectors];
    if (accumulate) {
        for (int r = 0; r < kRows; ++r)
            for (int v = 0; v < kVectors; ++v) std::memcpy(&acc[r][v], out + r * ldo + v * kLanes, sizeof(V));
    } else if (epilogue.bias != nullptr) {
        V bias[kVectors];
        for (int v = 0; v < kVectors; ++v) std::memcpy(&bias[v], epilogue.bias + v * kLanes, sizeof(V));
        for (int r = 0; r < kRows; ++r)
            for (int v = 0; v < kVectors; ++v) acc[r][v] = bias[v];
    } else {
        for (int r = 0; r < kRows; ++r)
            for (int v = 0; v < kVectors; ++v) acc[r][v] = V{};
    }
    for (int64_t k = 0; k < K; ++k) {
        V b_vec[kVectors];
        for (int v = 0; v < kVectors; ++v) std::memcpy(&b_vec[v], b + k * ldb + v * kLanes, sizeof(V));
        for (int r = 0; r < kRows; ++r) {
            const T a_rk = a[r * a_row + k * a_col];
            for (int v = 0; v < kVectors; ++v) acc[r][v] += a_rk * b_vec[v];
        }
    }
    if (epilogue.relu)
        for (int r = 0; r < kRows; ++r)
            for (int v = 0; v < kVectors; ++v) acc[r][v] = acc[r][v] > T(0) ? acc[r][v] : V{};
    for (int r = 0; r < kRows; ++r)
        for (int v = 0; v < kVectors; ++v) std::memcpy(out + r * ldo + v * kLanes, &acc[r][v], sizeof(V));
}

// The same for a run-time row count (1..kTileRows): a full tile, or the last rows of a product.
template <typename T, int kVectors>
inline void gemm_tile(T* out, int64_t ldo, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t ldb, int64_t K,
                      int64_t rows, bool accumulate, const Epilogue<T>& epilogue = {}) {
    static_assert(kTileRows == 6);
    switch (rows) {
        case 6: gemm_tile<T, kVectors, 6>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
        case 5: gemm_tile<T, kVectors, 5>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
        case 4: gemm_tile<T, kVectors, 4>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
        case 3: gemm_tile<T, kVectors, 3>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
        case 2: gemm_tile<T, kVectors, 2>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
        default: gemm_tile<T, kVectors, 1>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue); break;
    }
}

}  // namespace swirl::cpu
