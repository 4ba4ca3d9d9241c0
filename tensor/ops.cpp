// The ops of ops.h: each checks its arguments, allocates its output and dispatches on the device, here. The fused
// ops of tensor/fused/mlp.h (a stack of dense layers, and the diffusion objective on top of it) do the same in mlp.cpp.
#include "tensor/ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "tensor/backend.h"
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"
#ifdef SWIRL_WITH_CUDA
#include "tensor/cuda/runtime.h"
#include "tensor/cuda/kernels.h"
#define SWIRL_CUDA_KERNEL(device, kernel, ...) (cuda::use_device((device).index), cuda::kernel(__VA_ARGS__))
#else
#define SWIRL_CUDA_KERNEL(device, kernel, ...) SWIRL_FAIL("{}: this swirl was built without CUDA", #kernel)
#endif

// Runs the kernel of the tensor's device: cpu::kernels().kernel(...) (the copy for this CPU, tensor/cpu/kernels.h)
// or, on the tensor's GPU, cuda::kernel(...), and counts it in op_traffic() with the bytes it reads and writes:
// those given, or (SWIRL_DISPATCH) all of its tensor arguments.
#define SWIRL_DISPATCH_COUNTED(bytes, device, kernel, ...)   \
    do {                                                      \
        ::swirl::detail::count_kernel(bytes);                 \
        if ((device).is_cuda()) {                             \
            SWIRL_CUDA_KERNEL((device), kernel, __VA_ARGS__); \
        } else {                                              \
            cpu::kernels().kernel(__VA_ARGS__);               \
        }                                                     \
    } while (0)
#define SWIRL_DISPATCH(device, kernel, ...) \
    SWIRL_DISPATCH_COUNTED(::swirl::detail::operand_bytes(__VA_ARGS__), device, kernel, __VA_ARGS__)

namespace swirl {

namespace detail {

std::atomic<int64_t> dispatched_kernels{0}, dispatched_bytes{0}, transfers{0}, transfer_bytes{0}, host_reads{0};

int64_t operand_bytes_of(const Tensor& t) { return static_cast<int64_t>(t.nbytes()); }
template <typename U>
int64_t operand_bytes_of(const U&) { return 0; }  // not a tensor: a size, a flag, an op tag
template <typename... Args>
int64_t operand_bytes(const Args&... args) { return (int64_t{0} + ... + operand_bytes_of(args)); }

void count_kernel(int64_t bytes) {
    dispatched_kernels.fetch_add(1, std::memory_order_relaxed);
    dispatched_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void count_host_read() { host_reads.fetch_add(1, std::memory_order_relaxed); }

}  // namespace detail

OpTraffic op_traffic() {
    return {detail::dispatched_kernels.load(std::memory_order_relaxed),
            detail::dispatched_bytes.load(std::memory_order_relaxed), detail::transfers.load(std::memory_order_relaxed),
            detail::transfer_bytes.load(std::memory_order_relaxed), detail::host_reads.load(std::memory_order_relaxed)};
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
    SWIRL_CHECK(a.shape() == b.shape(), "{}: shape mismatch, {} vs {}", op, shape_str(a.shape()), shape_str(b.shape()));
}
void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
    SWIRL_CHECK(a.device() == b.device(), "{}: device mismatch, {} on {} vs {} on {}", op, shape_str(a.shape()),
                device_name(a.device()), shape_str(b.shape()), device_name(b.device()));
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
    SWIRL_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch, {} {} vs {} {}", op, dtype_name(a.dtype()),
                shape_str(a.shape()), dtype_name(b.dtype()), shape_str(b.shape()));
}
void check_floating(const Tensor& x, const char* op) {
    SWIRL_CHECK(x.defined(), "{}: the tensor is undefined", op);
    SWIRL_CHECK(is_floating(x.dtype()), "{}: expected f32 or f64, got {} {}", op, dtype_name(x.dtype()),
                shape_str(x.shape()));
}
void check_matrix(const Tensor& x, const char* op, const char* name) {
    SWIRL_CHECK(x.rank() == 2, "{}: {} must be a matrix [rows, cols], got {}", op, name, shape_str(x.shape()));
}

namespace {

void check_binary(const Tensor& a, const Tensor& b, const char* op) {
    check_floating(a, op);
    check_floating(b, op);
    check_same_dtype(a, b, op);
    check_same_device(a, b, op);
}

// The rank <= 2 shape as [rows, cols]: [] -> [1, 1], [N] -> [1, N].
std::pair<int64_t, int64_t> as_matrix(const Shape& shape, const char* op) {
    SWIRL_CHECK(shape.size() <= 2, "{}: broadcasting supports rank <= 2, got {}", op, shape_str(shape));
    if (shape.empty()) return {1, 1};
    if (shape.size() == 1) return {1, shape[0]};
    return {shape[0], shape[1]};
}

// Strides that read an operand of `shape` as if it had been broadcast up to [rows, cols].
std::pair<int64_t, int64_t> broadcast_strides(const Shape& shape, const char* op) {
    auto [r, c] = as_matrix(shape, op);
    return {r == 1 ? 0 : c, c == 1 ? 0 : 1};
}

Broadcast2D broadcast_layout(const Shape& a, const Shape& b, const Shape& out, const char* op) {
    auto [rows, cols] = as_matrix(out, op);
    Broadcast2D layout;
    layout.rows = rows;
    layout.cols = cols;
    std::tie(layout.a_row_stride, layout.a_col_stride) = broadcast_strides(a, op);
    std::tie(layout.b_row_stride, layout.b_col_stride) = broadcast_strides(b, op);
    return layout;
}

Tensor unary_op(const Tensor& x, UnaryOp op, const char* name) {
    check_floating(x, name);
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    SWIRL_DISPATCH(x.device(), unary, out, x, op);
    return out;
}

Tensor binary_op(const Tensor& a, const Tensor& b, BinaryOp op, const char* name) {
    check_binary(a, b, name);
    Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
    Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
    SWIRL_DISPATCH(a.device(), binary, out, a, b, op, broadcast_layout(a.shape(), b.shape(), out_shape, name));
    return out;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    SWIRL_CHECK(a.size() <= 2 && b.size() <= 2, "{}: broadcasting supports rank <= 2, got {} and {}", op,
                shape_str(a), shape_str(b));
    const std::size_t rank = std::max(a.size(), b.size());
    Shape out(rank);
    for (std::size_t k = 0; k < rank; ++k) {
        // Align from the right, as NumPy does; a missing axis counts as 1.
        int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
        int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
        SWIRL_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast", op, shape_str(a),
                    shape_str(b));
        out[k] = da == 1 ? db : da;
    }
    return out;
}

Tensor neg(const Tensor& x) { return unary_op(x, UnaryOp::neg, "neg"); }
Tensor exp(const Tensor& x) { return unary_op(x, UnaryOp::exp, "exp"); }
Tensor log(const Tensor& x) { return unary_op(x, UnaryOp::log, "log"); }
Tensor sqrt(const Tensor& x) { return unary_op(x, UnaryOp::sqrt, "sqrt"); }
Tensor square(const Tensor& x) { return unary_op(x, UnaryOp::square, "square"); }
Tensor relu(const Tensor& x) { return unary_op(x, UnaryOp::relu, "relu"); }
Tensor sigmoid(const Tensor& x) { return unary_op(x, UnaryOp::sigmoid, "sigmoid"); }
Tensor sin(const Tensor& x) { return unary_op(x, UnaryOp::sin, "sin"); }
Tensor cos(const Tensor& x) { return unary_op(x, UnaryOp::cos, "cos"); }

Tensor relu_backward(const Tensor& grad_out, const Tensor& out) {
    check_binary(grad_out, out, "relu_backward");
    check_same_shape(grad_out, out, "relu_backward");
    Tensor grad_in = Tensor::empty(out.shape(), out.dtype(), out.device());
    SWIRL_DISPATCH(out.device(), relu_backward, grad_in, grad_out, out);
    return grad_in;
}

Tensor scale(const Tensor& x, double factor) {
    check_floating(x, "scale");
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    SWIRL_DISPATCH(x.device(), affine, out, x, factor, 0.0);
    return out;
}

Tensor add_scalar(const Tensor& x, double value) {
    check_floating(x, "add_scalar");
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    SWIRL_DISPATCH(x.device(), affine, out, x, 1.0, value);
    return out;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(a, b, BinaryOp::add, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(a, b, BinaryOp::sub, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(a, b, BinaryOp::mul, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(a, b, BinaryOp::div, "div"); }

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    check_matrix(a, "matmul", "a");
    check_matrix(b, "matmul", "b");
    Tensor out = Tensor::empty({trans_a ? a.dim(1) : a.dim(0), trans_b ? b.dim(0) : b.dim(1)}, a.dtype(), a.device());
    matmul_into(out, a, b, trans_a, trans_b);
    return out;
}

void matmul_into(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    check_binary(out, a, "matmul_into");
    check_binary(a, b, "matmul_into");
    check_matrix(out, "matmul_into", "out");
    check_matrix(a, "matmul_into", "a");
    check_matrix(b, "matmul_into", "b");
    const int64_t M = trans_a ? a.dim(1) : a.dim(0), K = trans_a ? a.dim(0) : a.dim(1);
    const int64_t Kb = trans_b ? b.dim(1) : b.dim(0), N = trans_b ? b.dim(0) : b.dim(1);
    SWIRL_CHECK(K == Kb, "matmul: inner dimensions differ, {}{} @ {}{}", shape_str(a.shape()), trans_a ? "^T" : "",
                shape_str(b.shape()), trans_b ? "^T" : "");
    SWIRL_CHECK(out.dim(0) == M && out.dim(1) == N, "matmul_into: out {} does not fit [{}, {}]", shape_str(out.shape()),
                M, N);
    SWIRL_DISPATCH(a.device(), matmul, out, a, b, trans_a, trans_b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    check_matrix(x, "linear", "x");
    check_matrix(weight, "linear", "weight");
    Tensor out = Tensor::empty({x.dim(0), weight.dim(0)}, x.dtype(), x.device());
    linear_into(out, x, weight, bias, fuse_relu);
    return out;
}

void linear_into(Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias, bool fuse_relu) {
    check_binary(out, x, "linear_into");
    check_binary(x, weight, "linear");
    check_binary(x, bias, "linear");
    check_matrix(x, "linear", "x");
    check_matrix(weight, "linear", "weight");
    SWIRL_CHECK(x.dim(1) == weight.dim(1), "linear: x {} does not match weight {} (expected x [M, {}])",
                shape_str(x.shape()), shape_str(weight.shape()), weight.dim(1));
    SWIRL_CHECK(bias.numel() == weight.dim(0) && bias.rank() == 1, "linear: bias {} does not match weight {} (expected [{}])",
                shape_str(bias.shape()), shape_str(weight.shape()), weight.dim(0));
    SWIRL_CHECK(out.shape() == Shape({x.dim(0), weight.dim(0)}), "linear_into: out {} does not fit [{}, {}]",
                shape_str(out.shape()), x.dim(0), weight.dim(0));
    SWIRL_DISPATCH(x.device(), linear, out, x, weight, bias, fuse_relu);
}

Tensor sum(const Tensor& x) {
    check_floating(x, "sum");
    Tensor out = Tensor::empty({}, x.dtype(), x.device());
    SWIRL_DISPATCH(x.device(), sum_all, out, x);
    return out;
}

Tensor sum(const Tensor& x, int64_t axis) {
    check_floating(x, "sum");
    check_matrix(x, "sum(axis)", "x");
    SWIRL_CHECK(axis == 0 || axis == 1 || axis == -1 || axis == -2, "sum: axis {} is out of range for {}", axis,
                shape_str(x.shape()));
    const bool over_rows = axis == 0 || axis == -2;
    Tensor out = Tensor::empty(over_rows ? Shape{1, x.dim(1)} : Shape{x.dim(0), 1}, x.dtype(), x.device());
    if (over_rows)
        SWIRL_DISPATCH(x.device(), sum_rows, out, x);
    else
        SWIRL_DISPATCH(x.device(), sum_cols, out, x);
    return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    SWIRL_CHECK(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(), "sum_to: {} does not broadcast to {}",
                shape_str(shape), shape_str(x.shape()));
    auto [rows, cols] = as_matrix(shape, "sum_to");
    Tensor matrix = x.reshape(x.rank() == 2 ? x.shape() : Shape{1, x.numel()});
    if (rows == 1 && matrix.dim(0) != 1) matrix = sum(matrix, 0);
    if (cols == 1 && matrix.dim(1) != 1) matrix = sum(matrix, 1);
    return matrix.reshape(shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    check_floating(x, "expand");
    SWIRL_CHECK(broadcast_shapes(x.shape(), shape, "expand") == shape, "expand: {} does not broadcast to {}",
                shape_str(x.shape()), shape_str(shape));
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    SWIRL_DISPATCH(x.device(), expand, out, x, broadcast_layout(x.shape(), x.shape(), shape, "expand"));
    return out;
}

Tensor slice_cols(const Tensor& x, int64_t begin, int64_t end) {
    check_matrix(x, "slice_cols", "x");
    SWIRL_CHECK(0 <= begin && begin <= end && end <= x.dim(1), "slice_cols: columns [{}, {}) are out of range for {}",
                begin, end, shape_str(x.shape()));
    Tensor out = Tensor::empty({x.dim(0), end - begin}, x.dtype(), x.device());
    SWIRL_DISPATCH_COUNTED(2 * static_cast<int64_t>(out.nbytes()), x.device(), copy_cols, out, 0, x, begin, end - begin);
    return out;
}

void set_cols_(Tensor& dst, int64_t begin, const Tensor& src) {
    check_matrix(dst, "set_cols_", "dst");
    check_matrix(src, "set_cols_", "src");
    check_binary(dst, src, "set_cols_");
    SWIRL_CHECK(src.dim(0) == dst.dim(0) && 0 <= begin && begin + src.dim(1) <= dst.dim(1),
                "set_cols_: src {} does not fit dst {} at column {}", shape_str(src.shape()), shape_str(dst.shape()),
                begin);
    SWIRL_DISPATCH_COUNTED(2 * static_cast<int64_t>(src.nbytes()), dst.device(), copy_cols, dst, begin, src, 0,
                           src.dim(1));
}

Tensor concat_cols(const std::vector<Tensor>& parts) {
    SWIRL_CHECK(!parts.empty(), "concat_cols: expected at least one tensor");
    int64_t cols = 0;
    for (const Tensor& part : parts) {
        check_matrix(part, "concat_cols", "each part");
        check_same_dtype(parts[0], part, "concat_cols");
        check_same_device(parts[0], part, "concat_cols");
        SWIRL_CHECK(part.dim(0) == parts[0].dim(0), "concat_cols: row counts differ, {} vs {}",
                    shape_str(parts[0].shape()), shape_str(part.shape()));
        cols += part.dim(1);
    }
    Tensor out = Tensor::empty({parts[0].dim(0), cols}, parts[0].dtype(), parts[0].device());
    int64_t at = 0;
    for (const Tensor& part : parts) {
        set_cols_(out, at, part);
        at += part.dim(1);
    }
    return out;
}

Tensor concat_rows(const std::vector<Tensor>& parts) {
    SWIRL_CHECK(!parts.empty(), "concat_rows: expected at least one tensor");
    int64_t rows = 0;
    for (const Tensor& part : parts) {
        SWIRL_CHECK(part.rank() >= 1, "concat_rows: parts need a leading axis, got {}", shape_str(part.shape()));
        check_same_dtype(parts[0], part, "concat_rows");
        check_same_device(parts[0], part, "concat_rows");
        SWIRL_CHECK(Shape(part.shape().begin() + 1, part.shape().end()) ==
                        Shape(parts[0].shape().begin() + 1, parts[0].shape().end()),
                    "concat_rows: trailing shapes differ, {} vs {}", shape_str(parts[0].shape()), shape_str(part.shape()));
        rows += part.dim(0);
    }
    Shape shape = parts[0].shape();
    shape[0] = rows;
    Tensor out = Tensor::empty(shape, parts[0].dtype(), parts[0].device());
    int64_t at = 0;
    for (const Tensor& part : parts) {
        Tensor block = out.rows(at, at + part.dim(0));  // a view: copy_ writes straight into out
        copy_(block, part);
        at += part.dim(0);
    }
    return out;
}

namespace {
void check_index(const Tensor& index, int64_t rows, const Tensor& like, const char* op) {
    SWIRL_CHECK(index.defined() && index.dtype() == DType::i64 && index.rank() == 1,
                "{}: index must be an i64 vector [R], got {} {}", op, dtype_name(index.dtype()), shape_str(index.shape()));
    check_same_device(index, like, op);
    if (index.device().is_cpu()) {
        const int64_t* idx = index.data<int64_t>();
        const int64_t n = index.numel();  // once: numel() is a call, which the throwing check keeps in the loop
        for (int64_t r = 0; r < n; ++r)
            SWIRL_CHECK(0 <= idx[r] && idx[r] < rows, "{}: index {} at position {} is out of range [0, {})", op,
                        idx[r], r, rows);
    }
}
}  // namespace

Tensor index_select_rows(const Tensor& x, const Tensor& index) {
    check_floating(x, "index_select_rows");
    check_matrix(x, "index_select_rows", "x");
    check_index(index, x.dim(0), x, "index_select_rows");
    Tensor out = Tensor::empty({index.numel(), x.dim(1)}, x.dtype(), x.device());
    // A gather reads only the rows it picks: as many bytes as it writes.
    SWIRL_DISPATCH_COUNTED(2 * static_cast<int64_t>(out.nbytes()) + static_cast<int64_t>(index.nbytes()), x.device(),
                           index_select_rows, out, x, index);
    return out;
}

Tensor repeat_rows(const Tensor& x, const std::vector<RowRun>& runs) {
    check_matrix(x, "repeat_rows", "x");
    check_floating(x, "repeat_rows");
    int64_t rows = 0;
    for (const RowRun& run : runs) {
        SWIRL_CHECK(0 <= run.row && run.row < x.dim(0) && run.count >= 0,
                    "repeat_rows: a run of {} copies of row {} does not fit x {} (rows 0..{}, counts >= 0)", run.count,
                    run.row, shape_str(x.shape()), x.dim(0) - 1);
        rows += run.count;
    }
    Tensor out = Tensor::empty({rows, x.dim(1)}, x.dtype(), x.device());
    if (out.numel() == 0) return out;
    // Reads one row per run, writes every row of out.
    const int64_t row_bytes = x.dim(1) * static_cast<int64_t>(dtype_size(x.dtype()));
    const int64_t bytes = static_cast<int64_t>(out.nbytes()) + static_cast<int64_t>(runs.size()) * row_bytes;
    SWIRL_DISPATCH_COUNTED(bytes, x.device(), repeat_rows, out, x, runs);
    return out;
}

void index_add_rows_(Tensor& out, const Tensor& index, const Tensor& src) {
    check_binary(out, src, "index_add_rows_");
    check_matrix(out, "index_add_rows_", "out");
    check_matrix(src, "index_add_rows_", "src");
    SWIRL_CHECK(src.dim(0) == index.numel() && src.dim(1) == out.dim(1),
                "index_add_rows_: src {} does not match index [{}] and out {}", shape_str(src.shape()), index.numel(),
                shape_str(out.shape()));
    check_index(index, out.dim(0), out, "index_add_rows_");
    // Reads src and the rows of out it adds to, and writes those rows.
    SWIRL_DISPATCH_COUNTED(3 * static_cast<int64_t>(src.nbytes()) + static_cast<int64_t>(index.nbytes()), out.device(),
                           index_add_rows, out, index, src);
}

namespace {
// Checks the KL's operands; returns std_q materialised to mean_q's shape.
Tensor check_gaussian_kl(const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p,
                         const char* op) {
    for (const Tensor* t : {&std_q, &mean_p, &log_var_p}) {
        check_floating(*t, op);
        check_same_dtype(mean_q, *t, op);
        check_same_device(mean_q, *t, op);
    }
    check_same_shape(mean_q, mean_p, op);
    check_same_shape(mean_q, log_var_p, op);
    SWIRL_CHECK(broadcast_shapes(std_q.shape(), mean_q.shape(), op) == mean_q.shape(),
                "{}: std_q {} does not broadcast to {}", op, shape_str(std_q.shape()), shape_str(mean_q.shape()));
    return std_q.shape() == mean_q.shape() ? std_q : expand(std_q, mean_q.shape());
}
}  // namespace

Tensor gaussian_kl(const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    const Tensor std_full = check_gaussian_kl(mean_q, std_q, mean_p, log_var_p, "gaussian_kl");
    Tensor kl = Tensor::empty(mean_q.shape(), mean_q.dtype(), mean_q.device());
    SWIRL_DISPATCH(mean_q.device(), gaussian_kl, kl, mean_q, std_full, mean_p, log_var_p);
    return kl;
}

void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    const Tensor std_full = check_gaussian_kl(mean_q, std_q, mean_p, log_var_p, "gaussian_kl_backward");
    check_same_shape(mean_q, grad, "gaussian_kl_backward");
    check_same_dtype(mean_q, grad, "gaussian_kl_backward");
    check_same_device(mean_q, grad, "gaussian_kl_backward");
    grad_mean_p = Tensor::empty(mean_q.shape(), mean_q.dtype(), mean_q.device());
    grad_log_var_p = Tensor::empty(mean_q.shape(), mean_q.dtype(), mean_q.device());
    SWIRL_DISPATCH(mean_q.device(), gaussian_kl_backward, grad_mean_p, grad_log_var_p, grad, mean_q, std_full, mean_p,
                   log_var_p);
}

Tensor gaussian_kl_composed(const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    const Tensor std_full = check_gaussian_kl(mean_q, std_q, mean_p, log_var_p, "gaussian_kl");
    const Tensor inverse_variance = exp(neg(log_var_p));
    const Tensor mismatch = add(square(std_full), square(sub(mean_q, mean_p)));
    return add_scalar(sub(add(scale(log_var_p, 0.5), scale(mul(mismatch, inverse_variance), 0.5)), log(std_full)), -0.5);
}

void gaussian_kl_backward_composed(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad,
                                   const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p,
                                   const Tensor& log_var_p) {
    const Tensor std_full = check_gaussian_kl(mean_q, std_q, mean_p, log_var_p, "gaussian_kl_backward");
    check_same_shape(mean_q, grad, "gaussian_kl_backward");
    // d kl / d mean_p = (mean_p - mean_q) / var_p;  d kl / d log_var_p = 0.5 - (std_q^2 + (mean_q - mean_p)^2) / (2 var_p)
    const Tensor inverse_variance = exp(neg(log_var_p));
    const Tensor difference = sub(mean_p, mean_q);
    const Tensor mismatch = add(square(std_full), square(difference));
    grad_mean_p = mul(grad, mul(difference, inverse_variance));
    grad_log_var_p = mul(grad, add_scalar(scale(mul(mismatch, inverse_variance), -0.5), 0.5));
}

int64_t first_non_finite(const Tensor& x) {
    check_floating(x, "first_non_finite");
    const std::vector<double> values = x.to_vector();
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) return static_cast<int64_t>(i);
    return -1;
}

void fill_(Tensor& x, double value) {
    SWIRL_CHECK(x.defined(), "fill_: the tensor is undefined");
    SWIRL_DISPATCH(x.device(), fill, x, value);
}

void copy_(Tensor& dst, const Tensor& src) {
    SWIRL_CHECK(dst.defined() && src.defined(), "copy_: a tensor is undefined");
    check_same_shape(dst, src, "copy_");
    if (dst.device() == src.device()) {
        SWIRL_DISPATCH(dst.device(), copy, dst, src);
        return;
    }
#ifdef SWIRL_WITH_CUDA
    detail::transfers.fetch_add(1, std::memory_order_relaxed);
    detail::transfer_bytes.fetch_add(static_cast<int64_t>(src.nbytes()), std::memory_order_relaxed);
    cuda::copy_across(dst, src);
#else
    SWIRL_FAIL("copy_: cannot copy from {} to {}: this swirl was built without CUDA", device_name(src.device()),
               device_name(dst.device()));
#endif
}

void add_(Tensor& dst, const Tensor& src) {
    check_binary(dst, src, "add_");
    check_same_shape(dst, src, "add_");
    SWIRL_DISPATCH(dst.device(), add_inplace, dst, src);
}

namespace {

// The rows of a draw shaped like x: its leading axis (a scalar is one row).
int64_t leading_rows(const Tensor& x) { return x.rank() > 0 ? x.shape()[0] : 1; }

// x is rows [first_row, first_row + its rows) of a draw of total_rows rows like it (ops.h); `fill(target, first
// counter, first element)` runs the device's kernel.
template <typename Fill>
void fill_rows(Tensor& x, Generator& gen, int64_t total_rows, int64_t first_row, const char* op, Fill fill) {
    check_floating(x, op);
    const int64_t rows = leading_rows(x);
    int64_t columns = 1;  // the elements of a row, also when x has no rows
    for (int64_t axis = 1; axis < x.rank(); ++axis) columns *= x.shape()[static_cast<std::size_t>(axis)];
    SWIRL_CHECK(0 <= first_row && first_row + rows <= total_rows, "{}: rows [{}, {}) lie outside a draw of {} rows",
                op, first_row, first_row + rows, total_rows);
    const uint64_t first = gen.reserve(static_cast<uint64_t>(total_rows * columns));
    if (x.device().is_cpu() || rows == total_rows) {
        fill(x, first, static_cast<uint64_t>(first_row * columns));
        return;
    }
    // cuRAND's stream cannot start in the middle of a draw: the whole draw, then x's rows of it.
    Shape shape = x.shape();
    shape[0] = total_rows;
    Tensor all = Tensor::empty(shape, x.dtype(), x.device());
    fill(all, first, uint64_t{0});
    copy_(x, all.rows(first_row, first_row + rows));
}

}  // namespace

void uniform_(Tensor& x, Generator& gen, double low, double high) {
    uniform_rows_(x, gen, leading_rows(x), 0, low, high);
}

void normal_(Tensor& x, Generator& gen, double mean, double stddev) {
    normal_rows_(x, gen, leading_rows(x), 0, mean, stddev);
}

void uniform_rows_(Tensor& x, Generator& gen, int64_t total_rows, int64_t first_row, double low, double high) {
    fill_rows(x, gen, total_rows, first_row, "uniform_", [&](Tensor& target, uint64_t first, uint64_t element) {
        SWIRL_DISPATCH(target.device(), uniform, target, gen.seed(), first, element, low, high);
    });
}

void normal_rows_(Tensor& x, Generator& gen, int64_t total_rows, int64_t first_row, double mean, double stddev) {
    fill_rows(x, gen, total_rows, first_row, "normal_", [&](Tensor& target, uint64_t first, uint64_t element) {
        SWIRL_DISPATCH(target.device(), normal, target, gen.seed(), first, element, mean, stddev);
    });
}

void adam_update_(const std::vector<AdamTarget>& targets, const AdamOptions& options) {
    for (const AdamTarget& target : targets) {
        SWIRL_CHECK(target.param != nullptr && target.grad != nullptr && target.exp_avg != nullptr &&
                        target.exp_avg_sq != nullptr,
                    "adam_update_: a target lacks one of its four tensors (param, grad, exp_avg and exp_avg_sq must "
                    "all be given)");
        check_floating(*target.param, "adam_update_");
        for (const Tensor* t : std::initializer_list<const Tensor*>{target.grad, target.exp_avg, target.exp_avg_sq}) {
            check_binary(*target.param, *t, "adam_update_");
            check_same_shape(*target.param, *t, "adam_update_");
        }
        SWIRL_CHECK(target.step >= 1, "adam_update_: step must be >= 1, got {}", target.step);
    }
    // One kernel call per (device, dtype), the targets in their given order; empty tensors need none. One model on
    // one device is a single pass and a single call.
    std::vector<bool> done(targets.size(), false);
    std::vector<AdamTarget> group;
    group.reserve(targets.size());
    for (std::size_t first = 0; first < targets.size(); ++first) {
        if (done[first]) continue;
        const Device device = targets[first].param->device();
        const DType dtype = targets[first].param->dtype();
        group.clear();
        int64_t bytes = 0;  // reads 4 tensors, writes 3
        for (std::size_t i = first; i < targets.size(); ++i) {
            const Tensor& param = *targets[i].param;
            if (done[i] || param.dtype() != dtype || param.device() != device) continue;
            done[i] = true;
            const auto nbytes = static_cast<int64_t>(param.nbytes());
            if (nbytes > 0) group.push_back(targets[i]);
            bytes += 7 * nbytes;
        }
        if (!group.empty()) SWIRL_DISPATCH_COUNTED(bytes, device, adam_update, group, options);
    }
}

void adam_update_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamOptions& options,
                  int64_t step) {
    adam_update_({{&param, &grad, &exp_avg, &exp_avg_sq, step}}, options);
}

}  // namespace swirl
