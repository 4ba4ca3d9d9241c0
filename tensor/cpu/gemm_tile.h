// The register-blocked micro-kernel behind the CPU matmul's fast path: a tile of kTileRows output rows by
// kTileVectors vectors lives in vector registers while k runs, so each multiply-add needs no load or store of the
// output. Its size comes from the copy's register file (tensor/cpu/capability.h): 6 x 4 vectors of 16 floats with
// AVX-512's 32 registers, 6 x 2 of 8 with AVX2's 16. GCC/Clang vector extensions say it once for every instruction
// set. Tested against the reference backend's matmul (tensor/reference/dense.cpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/cpu/capability.h"
#include "tensor/cpu/gemm.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

// The tile: kTileRows x kTileVectors accumulators, kTileVectors vectors of b and one broadcast of a. A tile that
// needs more registers than the file has spills an accumulator to the stack on every multiply-add; one that uses
// far fewer leaves the multiply-add units waiting on each chain's latency.
constexpr int64_t kTileRows = kCapability.tile_rows;
constexpr int kTileVectors = kCapability.tile_vectors;

// One vector of T at p (no alignment needed), and its store: by value, so the vector stays in a register.
template <typename V, typename T>
[[gnu::always_inline]] inline V load_vector(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <typename V, typename T>
[[gnu::always_inline]] inline void store_vector(T* p, V v) {
    std::memcpy(p, &v, sizeof(V));
}

// out[r, L v + l] (+)= sum_k A[r, k] * b[k, L v + l] (L = kLanes<T>) for r < kRows (<= kTileRows), v < kVectors, where
// A[r, k] = a[r * a_row + k * a_col]; b has row stride ldb, out row stride ldo; then the epilogue. The row count is
// a template argument so that every loop over the tile unrolls and the accumulators never leave the registers:
// with a run-time count the compiler keeps them on the stack around the k loop, and the tile's start and end take
// some 40% of its time at the fused MLP's K = 2..64. For the same reason each accumulator is set and stored by
// value (a memcpy into the array, or one branch per way to start it, sends the whole tile through the stack).
template <typename T, int kVectors, int kRows>
inline void gemm_tile(T* out, int64_t ldo, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t ldb, int64_t K,
                      bool accumulate, const Epilogue<T>& epilogue = {}) {
    static_assert(kRows >= 1 && kRows <= kTileRows && kVectors >= 1 && kVectors <= kTileVectors);
    using V = typename Vector<T>::type;
    // Each accumulator starts from out (accumulating), else from the bias, else from zero.
    V start[kVectors];
#pragma GCC unroll 8
    for (int v = 0; v < kVectors; ++v)
        start[v] = epilogue.bias != nullptr ? load_vector<V>(epilogue.bias + v * kLanes<T>) : V{};
    V acc[kRows][kVectors];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v)
            acc[r][v] = accumulate ? load_vector<V>(out + r * ldo + v * kLanes<T>) : start[v];
    for (int64_t k = 0; k < K; ++k) {
        V b_vec[kVectors];
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v) b_vec[v] = load_vector<V>(b + k * ldb + v * kLanes<T>);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
            const T a_rk = a[r * a_row + k * a_col];
#pragma GCC unroll 8
            for (int v = 0; v < kVectors; ++v) acc[r][v] += a_rk * b_vec[v];
        }
    }
    const bool relu = epilogue.relu;
    const T* mask = epilogue.mask;  // relative to the tile, as out is
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < kVectors; ++v) {
            V result = relu ? (acc[r][v] > T(0) ? acc[r][v] : V{}) : acc[r][v];
            if (mask != nullptr)
                result = load_vector<V>(mask + r * epilogue.mask_row + v * kLanes<T>) > T(0) ? result : V{};
            store_vector(out + r * ldo + v * kLanes<T>, result);
        }
}

// The same for a run-time row count (1..kTileRows): a full tile, or the last rows of a product.
template <typename T, int kVectors, int kRows = kTileRows>
inline void gemm_tile_rows(T* out, int64_t ldo, const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t ldb,
                           int64_t K, int64_t rows, bool accumulate, const Epilogue<T>& epilogue = {}) {
    if constexpr (kRows > 1) {
        if (rows < kRows)
            return gemm_tile_rows<T, kVectors, kRows - 1>(out, ldo, a, a_row, a_col, b, ldb, K, rows, accumulate,
                                                          epilogue);
    }
    gemm_tile<T, kVectors, kRows>(out, ldo, a, a_row, a_col, b, ldb, K, accumulate, epilogue);
}

// And for a run-time count of vectors (1..kTileVectors): a full tile's columns, or the last ones of a product.
template <typename T, int kVectors = kTileVectors>
inline void gemm_tile_rows_vectors(T* out, int64_t ldo, const T* a, int64_t a_row, int64_t a_col, const T* b,
                                   int64_t ldb, int64_t K, int64_t rows, int64_t vectors, bool accumulate,
                                   const Epilogue<T>& epilogue = {}) {
    if constexpr (kVectors > 1) {
        if (vectors < kVectors)
            return gemm_tile_rows_vectors<T, kVectors - 1>(out, ldo, a, a_row, a_col, b, ldb, K, rows, vectors,
                                                           accumulate, epilogue);
    }
    gemm_tile_rows<T, kVectors>(out, ldo, a, a_row, a_col, b, ldb, K, rows, accumulate, epilogue);
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
