// The tensor operations: one function per op, dispatched on the device in tensor/ops.cpp to the kernels of the
// same name in tensor/cpu/ (and tensor/cuda/). Functions return new tensors; names ending in _ write in place.
//
// Broadcasting (add, sub, mul, div): operands of rank <= 2 broadcast as in NumPy, which covers what the
// model needs: same shape, a scalar, a row vector [N] or [1, N] over [M, N], a column [M, 1] over [M, N].
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/backend.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace swirl {

// What the ops have dispatched to kernels since the process started: the number of kernel calls, and the bytes of
// their tensor operands, each operand counted once. That is the least memory traffic of an op-by-op computation
// (an operand read twice, or a product re-reading its inputs, moves more); a fused op's internal traffic stays in
// cache and is not counted. swirl bench divides it by the memory bandwidth for the step's floor.
// Copies between the host and a device (Tensor::to, item, to_vector) are counted apart: each waits for the GPU,
// so a training step should make none (tests/test_cuda.cpp checks it). Host reads (item, at, to_vector,
// to_indices) are counted on every device, so a CPU-only test sees a read that would be a transfer on a GPU.
struct OpTraffic {
    int64_t kernels = 0;
    int64_t bytes = 0;
    int64_t transfers = 0;
    int64_t transfer_bytes = 0;
    int64_t host_reads = 0;
};
OpTraffic op_traffic();

namespace detail {
void count_kernel(int64_t bytes);  // for kernels dispatched outside tensor/ops.cpp (tensor/fused/mlp.cpp)
void count_host_read();            // Tensor::to_vector and to_indices
}  // namespace detail

// Elementwise, any shape -> same shape.
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);  // 1 / (1 + exp(-x)), computed without overflow for large |x|
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
// grad_in = grad_out where out > 0, else 0. grad_out and out have one shape.
Tensor relu_backward(const Tensor& grad_out, const Tensor& out);
Tensor scale(const Tensor& x, double factor);     // x * factor
Tensor add_scalar(const Tensor& x, double value);  // x + value

// Broadcasting binary ops (see above). Output shape is the broadcast of both shapes.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// out [M, N] = op(a) @ op(b), where op(a) is [M, K] (a is [K, M] when trans_a), op(b) is [K, N].
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// out [M, N] = x [M, K] @ weight[N, K]^T + bias [N], optionally followed by ReLU: nn::Linear's forward in one pass.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu = false);
// The same two into an existing output, which may be a rows() view of a larger tensor (grouped layers write
// each group's rows in place).
void matmul_into(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
void linear_into(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu = false);

// KL(q || p) per element between Gaussians q = N(mean_q, std_q^2) and p = N(mean_p, exp(log_var_p)):
//   kl = 0.5 log_var_p - log std_q + (std_q^2 + (mean_q - mean_p)^2) / (2 exp(log_var_p)) - 0.5
// mean_q, mean_p, log_var_p [B, d]; std_q broadcasts to them ([], [B, 1] or [B, d]). One pass, one exp and one log
// an element; gaussian_kl_backward gives grad * d kl / d mean_p and grad * d kl / d log_var_p.
Tensor gaussian_kl(const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
// The same two composed of the elementwise ops: the kernels' test reference (tests/test_tensor.cpp).
Tensor gaussian_kl_composed(const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p);
void gaussian_kl_backward_composed(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad,
                                   const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p,
                                   const Tensor& log_var_p);

// Reductions. sum(x) has shape [] (rank 0). sum(x, axis) keeps the axis with size 1: [M, N] -> [1, N] or [M, 1].
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int64_t axis);
// Sums x down to `shape` (the reverse of broadcasting `shape` up to x's shape): a broadcast op's backward.
Tensor sum_to(const Tensor& x, const Shape& shape);
// Materialises x broadcast up to `shape` (the reverse of sum_to).
Tensor expand(const Tensor& x, const Shape& shape);

// Columns of a matrix. slice_cols: x [M, N] -> [M, end - begin]. concat_cols: [M, N_i]... -> [M, sum N_i].
// set_cols_: dst [M, N] columns [begin, begin + K) = src [M, K], in place.
Tensor slice_cols(const Tensor& x, int64_t begin, int64_t end);
Tensor concat_cols(const std::vector<Tensor>& parts);
void set_cols_(Tensor& dst, int64_t begin, const Tensor& src);
// Rows: parts [M_i, N...] stacked along the leading axis -> [sum M_i, N...] (a copy; Tensor::rows() slices).
Tensor concat_rows(const std::vector<Tensor>& parts);

// Rows of a matrix through an i64 index [R]. index_select_rows: x [M, N] -> [R, N], out[r] = x[index[r]].
// index_add_rows_: out[index[r]] += src[r] for src [R, N] into out [M, N] (repeated indices accumulate).
// An index outside [0, M) throws on the CPU; on a CUDA device the kernel stops with a device-side message and
// the next CUDA call fails (a host-side check would copy the index back and wait on every call).
Tensor index_select_rows(const Tensor& x, const Tensor& index);
// Rows repeated in runs given on the host: x [M, N] -> [sum of counts, N], runs[0].count copies of row
// runs[0].row, then those of runs[1], and so on. What a batch of contiguous step groups needs from a per-step
// table, without an index tensor (which a GPU would have to receive from the host every step). Not differentiable.
Tensor repeat_rows(const Tensor& x, const std::vector<RowRun>& runs);
void index_add_rows_(Tensor& out, const Tensor& index, const Tensor& src);

// In-place fills and copies.
void fill_(Tensor& x, double value);
void copy_(Tensor& dst, const Tensor& src);  // same shape; converts dtype; crosses devices
void add_(Tensor& dst, const Tensor& src);   // dst += src, same shape (gradient accumulation)
void uniform_(Tensor& x, Generator& gen, double low = 0.0, double high = 1.0);
void normal_(Tensor& x, Generator& gen, double mean = 0.0, double stddev = 1.0);
// Part of a draw: x gets rows [first_row, first_row + x's rows) of what drawing `total_rows` rows shaped like x
// would give, and `gen` moves past the whole draw, so that a rank of a data-parallel run draws only its rows of the
// batch. The CPU draws those rows alone (its generator is counter-based); cuRAND's stream cannot start mid-draw,
// so on CUDA the whole draw is made and x's rows copied out.
void uniform_rows_(Tensor& x, Generator& gen, int64_t total_rows, int64_t first_row, double low = 0.0,
                   double high = 1.0);
void normal_rows_(Tensor& x, Generator& gen, int64_t total_rows, int64_t first_row, double mean = 0.0,
                  double stddev = 1.0);

// One Adam step on many parameters, in place (torch.optim.Adam, with L2 weight decay added to the gradient):
//   g = grad + weight_decay * param;  m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
// All targets of one device and dtype go to one kernel call (a GPU gets a launch per up to 16 tensors, not one
// per tensor), as torch.optim.Adam's foreach path; each target keeps its own step count.
void adam_update_(const std::vector<AdamTarget>& targets, const AdamOptions& options);
// The same for one parameter at its step `step` (1 on the first update).
void adam_update_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamOptions& options,
                  int64_t step);

// The index of the first NaN or infinite element of a floating tensor, or -1 if all are finite (reads the data
// back to the host: for diagnostics such as anomaly detection, not for hot paths).
int64_t first_non_finite(const Tensor& x);

// Checks used by every op; throw swirl::Error naming the op and the offending shapes.
void check_same_shape(const Tensor& a, const Tensor& b, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_floating(const Tensor& x, const char* op);
void check_matrix(const Tensor& x, const char* op, const char* name);

}  // namespace swirl
