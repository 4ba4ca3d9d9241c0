// The CUDA kernels: the same names and signatures as tensor/cpu/kernels.h (which is their reference), plus
// copy_across for host <-> device copies. Shapes are checked by tensor/ops.cpp before these are called.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace swirl::cuda {

void unary(Tensor& out, const Tensor& x, UnaryOp op);
void affine(Tensor& out, const Tensor& x, double scale, double shift);
void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out);
void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout);
void expand(Tensor& out, const Tensor& x, const Broadcast2D& layout);

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
void linear(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu);
// out [M, N] += bias [N] per row, then ReLU if fuse_relu: the epilogue of linear after its cuBLAS product. CUDA
// only: the CPU's linear adds the bias inside its own product.
void bias_activation(Tensor& out, const Tensor& bias, bool fuse_relu);

void sum_all(Tensor& out, const Tensor& x);
void sum_rows(Tensor& out, const Tensor& x);
void sum_cols(Tensor& out, const Tensor& x);

void copy_cols(Tensor& dst, int64_t dst_col, const Tensor& src, int64_t src_col, int64_t count);
void index_select_rows(Tensor& out, const Tensor& x, const Tensor& index);
void index_add_rows(Tensor& out, const Tensor& index, const Tensor& src);
void repeat_rows(Tensor& out, const Tensor& x, const std::vector<RowRun>& runs);

void fill(Tensor& x, double value);
void copy(Tensor& dst, const Tensor& src);         // both on one device
void copy_across(Tensor& dst, const Tensor& src);  // between the host and a device, or two devices
void add_inplace(Tensor& dst, const Tensor& src);
// cuRAND's Philox generator, seeded with `seed` and offset to `first_counter`. Its stream cannot start in the middle
// of a draw: first_element must be 0 (ops.cpp draws the whole and copies rows out).
void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high);
void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev);

void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);

// Every target on this device, all of one floating dtype, none empty, shapes checked; written through its pointers.
void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& options);

}  // namespace swirl::cuda
