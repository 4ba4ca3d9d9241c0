// The reference backend: every CPU kernel of tensor/cpu/kernels.h written as the plain loop of its definition, one
// thread, no tiles, no blocking, no vector extensions. It is the oracle every other backend is held to
// (tests/test_conformance.cpp) and the arithmetic a learner can read in one sitting; cpu::use_kernels selects it.
// Every sum accumulates in double and is rounded once: the loops' only rule, so that the oracle sits as close to the
// exact result as a plain loop can.
#pragma once

#include "tensor/cpu/kernels.h"

namespace swirl::reference {

// elementwise.cpp
void unary(Tensor& out, const Tensor& x, UnaryOp op);
void affine(Tensor& out, const Tensor& x, double scale, double shift);
void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out);
void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout);
void expand(Tensor& out, const Tensor& x, const Broadcast2D& layout);
void fill(Tensor& x, double value);
void copy(Tensor& dst, const Tensor& src);
void add_inplace(Tensor& dst, const Tensor& src);
void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& options);

// rows.cpp: sums, column copies, row gathers and scatters, random fills
void sum_all(Tensor& out, const Tensor& x);
void sum_rows(Tensor& out, const Tensor& x);
void sum_cols(Tensor& out, const Tensor& x);
void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count);
void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index);
void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src);
void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs);
void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high);
void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev);

// dense.cpp: products, dense layers, the MLP op and the diffusion objective on top of it
void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu);
void mlp_forward(Tensor& out, const Tensor& x, const std::vector<DenseLayer>& layers,
                 const std::vector<MlpGroup>& groups, Tensor* kept);
void mlp_backward(MlpGradients& grads, const Tensor& grad_out, const Tensor& x, const std::vector<DenseLayer>& layers,
                  const std::vector<MlpGroup>& groups, const Tensor& kept);
void mlp_gaussian_kl(Tensor& kl, MlpGradients& grads, GaussianKlInputGradients* inputs, const Tensor& x,
                     const std::vector<DenseLayer>& layers, const std::vector<MlpGroup>& groups, const Tensor& mean_q,
                     const Tensor& std_q, const GaussianHead& head, double grad_value);
double fma_chains(int64_t iterations);

// The table of the functions above, as cpu::kernels() hands it out when cpu::use_kernels(KernelSet::reference).
const cpu::Kernels& kernels();

}  // namespace swirl::reference
