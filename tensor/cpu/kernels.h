// The CPU kernels of every op, parallel with OpenMP over rows. Each has a plain twin in the reference backend
// (tensor/reference/), which tests/test_conformance.cpp holds it to.
// Outputs come first, then inputs; shapes are checked by tensor/ops.cpp before these are called.
// Every reduction adds in a fixed order that does not depend on the thread count.
// The kernels exist in one copy per instruction set the build carries (tensor/cpu/capability.h); callers reach the
// copy this CPU runs through the table kernels() returns: cpu::kernels().matmul(out, a, b, false, false).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/fused/mlp.h"
#include "tensor/tensor.h"

namespace swirl::cpu {

// Each kernel's signature, once: every copy of the kernels (tensor/cpu/capability.h) declares its functions with
// these types, and the table below holds pointers to them.

// out and x have one shape.
using UnaryKernel = void(Tensor& out, const Tensor& x, UnaryOp op);
using AffineKernel = void(Tensor& out, const Tensor& x, double scale, double shift);  // out = scale * x + shift
using ReluBackwardKernel = void(Tensor& grad_in, const Tensor& grad_out, const Tensor& out);
// out is [layout.rows, layout.cols]; a and b are read through the layout's strides.
using BinaryKernel = void(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout);
// out [rows, cols] = x read through the layout's a-strides (b-strides unused).
using ExpandKernel = void(Tensor& out, const Tensor& x, const Broadcast2D& layout);

// out [M, N] = op(a) [M, K] @ op(b) [K, N] (its twin: reference::matmul).
using MatmulKernel = void(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
// out [M, N] = x [M, K] @ weight [N, K]^T + bias [N], then ReLU if fuse_relu.
using LinearKernel = void(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu);

// The fused MLP (tensor/fused/mlp.h), shapes checked by fused/mlp.cpp. mlp_forward: out [M, N] from x [M, K]; given
// `kept`, it leaves there the activations when they are small enough to keep (else an undefined tensor).
// mlp_backward writes the gradients that are defined in grads (x's; the weights and biases of the layers used),
// from the kept activations when defined, recomputing them otherwise.
using MlpForwardKernel = void(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers,
                              const std::vector<MlpGroup>& groups, Tensor* kept);
using MlpBackwardKernel = void(MlpGradients& grads, const Tensor& grad_out, const Tensor& x,
                               const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                               const Tensor& kept);
// The fused objective (tensor/fused/mlp.h's mlp_gaussian_kl) in one pass: kl [M, d] each element's KL, and the
// gradients of sum(grad_value * kl) defined in grads (the weights' and biases', x's) and in inputs when given
// (q's, std_q's element by element [M, d], the head's); mean_q and std_q [M, d], the head's tensors checked.
using MlpGaussianKlKernel = void(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                                 const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups,
                                 const Tensor& mean_q, const Tensor& std_q, const GaussianHead& head,
                                 double grad_value);

// The Gaussian KL of tensor/ops.h and its backward; every operand has one shape (std_q materialised).
using GaussianKlKernel = void(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p,
                              const Tensor& log_var_p);
using GaussianKlBackwardKernel = void(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad,
                                      const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p,
                                      const Tensor& log_var_p);

// sum_all: out [] (or any one-element shape); sum_rows: x [M, N] -> out [1, N], summing over the rows;
// sum_cols: x [M, N] -> out [M, 1], summing over the columns.
using ReduceKernel = void(Tensor& out, const Tensor& x);

// dst[:, dst_col + c] = src[:, src_col + c] for c in [0, count); dst [M, Nd], src [M, Ns].
using CopyColsKernel = void(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count);
using IndexSelectRowsKernel = void(Tensor& out, const Tensor& x, const Tensor& index);  // out [R, N], x [M, N], index [R]
using IndexAddRowsKernel = void(Tensor& out, const Tensor& index, const Tensor& src);   // out [M, N], src [R, N]
using RepeatRowsKernel = void(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs);  // out [sum of counts, N]

using FillKernel = void(Tensor& x, double value);
using CopyKernel = void(Tensor& dst, const Tensor& src);  // same element count, any dtypes
using AddInplaceKernel = void(Tensor& dst, const Tensor& src);
// x[i] is element first_element + i of a draw whose first counter is first_counter; which Philox blocks an
// element uses is in random.cpp. Results depend on neither the threads nor the part of the draw filled.
using UniformKernel = void(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low,
                           double high);
using NormalKernel = void(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean,
                          double stddev);

// Every target on this device, all of one floating dtype, none empty, shapes checked; written through its pointers.
using AdamUpdateKernel = void(const std::vector<AdamTarget>& targets, const AdamOptions& options);

// The multiply-add peak of this copy's vectors on the calling thread: independent chains of float multiply-adds on
// as many accumulators as the copy's register tile, `iterations` rounds. Returns the floating-point operations
// done (2 a multiply-add and lane); the caller times it (tensor/instruments/probe.cpp).
using FmaChainsKernel = double(int64_t iterations);

// One copy's kernels: what tensor/ops.cpp and tensor/fused/mlp.cpp call, through kernels().
struct Kernels {
    const char* capability;  // "baseline", "avx2", "avx512" or "neon": the instruction set they were compiled for
    int vector_floats;       // floats in one of its vectors
    UnaryKernel* unary;
    AffineKernel* affine;
    ReluBackwardKernel* relu_backward;
    BinaryKernel* binary;
    ExpandKernel* expand;
    MatmulKernel* matmul;
    LinearKernel* linear;
    MlpForwardKernel* mlp_forward;
    MlpBackwardKernel* mlp_backward;
    MlpGaussianKlKernel* mlp_gaussian_kl;
    GaussianKlKernel* gaussian_kl;
    GaussianKlBackwardKernel* gaussian_kl_backward;
    ReduceKernel* sum_all;
    ReduceKernel* sum_rows;
    ReduceKernel* sum_cols;
    CopyColsKernel* copy_cols;
    IndexSelectRowsKernel* index_select_rows;
    IndexAddRowsKernel* index_add_rows;
    RepeatRowsKernel* repeat_rows;
    FillKernel* fill;
    CopyKernel* copy;
    AddInplaceKernel* add_inplace;
    UniformKernel* uniform;
    NormalKernel* normal;
    AdamUpdateKernel* adam_update;
    FmaChainsKernel* fma_chains;
};

// The kernels this process runs: the copy for the environment's SWIRL_CPU_CAPABILITY (baseline, avx2, avx512 or
// neon) when it is set, else the best copy the CPU can run. Chosen on the first call. Throws swirl::Error when
// SWIRL_CPU_CAPABILITY names a capability that is unknown, not in this build, or beyond this CPU.
const Kernels& kernels();

// Runs the copy for `name` from now on (tests compare the copies; call it while no op runs). Throws as kernels().
void use_capability(const std::string& name);

// Which kernels kernels() hands out: `fast`, the copy above (the default), or `reference`, the plain loops of
// tensor/reference/ (one thread, no tiles, no vector extensions), the oracle the fast ones are tested against.
// A process-wide switch, like nn::set_fusion_enabled: set it while no op runs. CUDA tensors are unaffected.
enum class KernelSet { fast, reference };
void use_kernels(KernelSet set);
KernelSet kernel_set();
KernelSet parse_kernel_set(const std::string& name);  // throws swirl::Error naming the choices

// The capabilities this build carries copies of, lowest first; those of them this CPU can run; whether it can run
// one capability.
std::vector<std::string> built_capabilities();
std::vector<std::string> runnable_capabilities();
bool cpu_supports(const std::string& capability);

}  // namespace swirl::cpu
