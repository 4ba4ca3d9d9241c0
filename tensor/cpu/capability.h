// What one copy of the CPU kernels is compiled for: its capability (the instruction-set level), the constants its
// kernels size themselves by, and its kernels' declarations. Every kernel source is compiled once per capability
// into a namespace of that name (swirl::cpu::avx2::matmul, swirl::cpu::avx512::matmul, ...): a native build
// (-DSWIRL_NATIVE=ON) makes one copy, for the compiler's -march; a portable build makes one per x86-64 level,
// and tensor/cpu/choose.cpp picks one at run time.
//
// A portable copy's code is compiled for its level by a target pragma (SWIRL_CPU_TARGET_BEGIN / _END around a
// file's namespace), not by -march on the whole file: the standard library's templates and the tensor core's
// inline functions, included before the pragma, keep the baseline instruction set, so that the one copy the
// linker keeps of each can run on any CPU; only the names in the copy's own namespace use its instructions.
#pragma once

#include <cstdint>

#include "tensor/cpu/kernels.h"

// The capabilities, as numbers the preprocessor can compare.
#define SWIRL_CAPABILITY_BASELINE 1
#define SWIRL_CAPABILITY_AVX2 2
#define SWIRL_CAPABILITY_AVX512 3
#define SWIRL_CAPABILITY_NEON 4

// SWIRL_CPU_CAPABILITY: set by CMake for each copy of a portable build; otherwise the compiler's target decides.
#ifdef SWIRL_CPU_CAPABILITY
#define SWIRL_CPU_PORTABLE_COPY 1
#elif defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && \
    defined(__FMA__)
#define SWIRL_CPU_CAPABILITY SWIRL_CAPABILITY_AVX512
#elif defined(__AVX2__) && defined(__FMA__)
#define SWIRL_CPU_CAPABILITY SWIRL_CAPABILITY_AVX2
#elif defined(__aarch64__)
#define SWIRL_CPU_CAPABILITY SWIRL_CAPABILITY_NEON
#else
#define SWIRL_CPU_CAPABILITY SWIRL_CAPABILITY_BASELINE
#endif

// The copy's namespace, and the instructions a portable copy is compiled with: x86-64-v3 and x86-64-v4 as ISA
// flags (an arch= in the pragma would stop the compiler inlining the baseline inline functions the kernels call).
#if SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_AVX512
#define SWIRL_CPU_NAMESPACE avx512
#define SWIRL_CPU_TARGET \
    "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,sse4.2,xsave"
#elif SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_AVX2
#define SWIRL_CPU_NAMESPACE avx2
#define SWIRL_CPU_TARGET "avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,sse4.2,xsave"
#elif SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_NEON
#define SWIRL_CPU_NAMESPACE neon
#else
#define SWIRL_CPU_NAMESPACE baseline
#endif

#define SWIRL_PRAGMA_STRING(text) #text
#define SWIRL_PRAGMA(text) _Pragma(SWIRL_PRAGMA_STRING(text))
#if defined(SWIRL_CPU_PORTABLE_COPY) && defined(SWIRL_CPU_TARGET) && defined(__clang__)
#define SWIRL_CPU_TARGET_BEGIN SWIRL_PRAGMA(clang attribute push(__attribute__((target(SWIRL_CPU_TARGET))), apply_to = function))
#define SWIRL_CPU_TARGET_END _Pragma("clang attribute pop")
#elif defined(SWIRL_CPU_PORTABLE_COPY) && defined(SWIRL_CPU_TARGET)
#define SWIRL_CPU_TARGET_BEGIN _Pragma("GCC push_options") SWIRL_PRAGMA(GCC target(SWIRL_CPU_TARGET))
#define SWIRL_CPU_TARGET_END _Pragma("GCC pop_options")
#else  // a native copy (the whole file is compiled for -march) or a level with no flags beyond the baseline
#define SWIRL_CPU_TARGET_BEGIN
#define SWIRL_CPU_TARGET_END
#endif

namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

// The register file a copy sizes its kernels by. A register tile of tile_rows x tile_vectors accumulators, plus
// tile_vectors registers of b and one broadcast of a (and, without FMA, one product in flight), must fit in
// vector_registers, or the compiler spills accumulators to the stack on every multiply-add.
struct Capability {
    const char* name;
    int vector_bytes;      // one vector register
    int vector_registers;  // architectural vector registers
    bool fma;              // fused multiply-add
    int tile_rows, tile_vectors;
};

#if SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_AVX512
inline constexpr Capability kCapability{"avx512", 64, 32, true, 6, 4};  // 24 + 4 + 1 = 29 of 32 zmm
#elif SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_AVX2
inline constexpr Capability kCapability{"avx2", 32, 16, true, 6, 2};  // 12 + 2 + 1 = 15 of 16 ymm
#elif SWIRL_CPU_CAPABILITY == SWIRL_CAPABILITY_NEON
inline constexpr Capability kCapability{"neon", 16, 32, true, 6, 4};  // 24 + 4 + 1 = 29 of 32 q registers
#else
inline constexpr Capability kCapability{"baseline", 16, 16, false, 6, 2};  // 12 + 2 + 1 + 1 = 16 of 16 xmm (SSE2)
#endif
static_assert(kCapability.tile_rows * kCapability.tile_vectors + kCapability.tile_vectors + 1 +
                      (kCapability.fma ? 0 : 1) <=
                  kCapability.vector_registers,
              "the register tile does not fit the register file");

// Elements of T in one vector, and the vector type itself (GCC/Clang vector extensions: one register).
template <typename T>
inline constexpr int64_t kLanes = kCapability.vector_bytes / static_cast<int>(sizeof(T));
template <typename T>
struct Vector {
    typedef T type __attribute__((vector_size(kCapability.vector_bytes)));
};

// This copy's kernels (tensor/cpu/kernels.h gives each signature), and its table of them (table.cpp).
UnaryKernel unary;
AffineKernel affine;
ReluBackwardKernel relu_backward;
BinaryKernel binary;
ExpandKernel expand;
MatmulKernel matmul;
LinearKernel linear;
MlpForwardKernel mlp_forward;
MlpBackwardKernel mlp_backward;
MlpGaussianKlKernel mlp_gaussian_kl;
GaussianKlKernel gaussian_kl;
GaussianKlBackwardKernel gaussian_kl_backward;
ReduceKernel sum_all, sum_rows, sum_cols;
CopyColsKernel copy_cols;
IndexSelectRowsKernel index_select_rows;
IndexAddRowsKernel index_add_rows;
RepeatRowsKernel repeat_rows;
FillKernel fill;
CopyKernel copy;
AddInplaceKernel add_inplace;
UniformKernel uniform;
NormalKernel normal;
AdamUpdateKernel adam_update;
FmaChainsKernel fma_chains;
extern const Kernels kKernels;

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
