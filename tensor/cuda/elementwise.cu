// CUDA elementwise kernels: unary maps, broadcasting binary ops, fills, dtype-converting copies, Adam and the
// Gaussian KL. Grid-stride loops; one thread per element.
#include <cmath>
#include <cstdint>

#include "tensor/cuda/kernels.h"
#include "tensor/cuda/launch.cuh"
#include "tensor/formulas.h"

namespace swirl::cuda {

namespace {

template <typename T>
__device__ T apply_unary(UnaryOp op, T v) {
    switch (op) {
        case UnaryOp::neg: return -v;
        case UnaryOp::exp: return exp(v);
        case UnaryOp::log: return log(v);
        case UnaryOp::sqrt: return sqrt(v);
        case UnaryOp::square: return v * v;
        case UnaryOp::relu: return v > T(0) ? v : T(0);
        case UnaryOp::sigmoid: return formulas::sigmoid(v);
        case UnaryOp::sin: return sin(v);
        case UnaryOp::cos: return cos(v);
    }
    return v;
}

template <typename T>
__device__ T apply_binary(BinaryOp op, T a, T b) {
    switch (op) {
        case BinaryOp::add: return a + b;
        case BinaryOp::sub: return a - b;
        case BinaryOp::mul: return a * b;
        case BinaryOp::div: return a / b;
    }
    return a;
}

template <typename T>
__global__ void unary_kernel(T* out, const T* x, long long n, UnaryOp op) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = apply_unary(op, x[i]);
}

template <typename T>
__global__ void affine_kernel(T* out, const T* x, long long n, T scale, T shift) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = scale * x[i] + shift;
}

template <typename T>
__global__ void relu_backward_kernel(T* grad_in, const T* grad_out, const T* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        grad_in[i] = out[i] > T(0) ? grad_out[i] : T(0);
}

// b == nullptr: a copy of a through its strides (expand).
template <typename T>
__global__ void binary_kernel(T* out, const T* a, const T* b, Broadcast2D l, BinaryOp op) {
    const long long n = l.rows * l.cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const auto [i, j] = split_index(k, l.cols);
        const T u = a[i * l.a_row_stride + j * l.a_col_stride];
        out[k] = b == nullptr ? u : apply_binary(op, u, b[i * l.b_row_stride + j * l.b_col_stride]);
    }
}

template <typename T>
__global__ void fill_kernel(T* x, long long n, T value) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] = value;
}

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* dst, const Src* src, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = static_cast<Dst>(src[i]);
}

template <typename T>
__global__ void add_inplace_kernel(T* dst, const T* src, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] += src[i];
}

// Up to kAdamPerLaunch tensors of a multi-tensor Adam step, passed by value as the kernel's argument (well under
// the 4 KB limit): tensor s owns elements [begin[s], begin[s + 1]) of the launch's flat range.
constexpr int kAdamPerLaunch = 16;
template <typename T>
struct AdamTable {
    T* param[kAdamPerLaunch];
    const T* grad[kAdamPerLaunch];
    T* exp_avg[kAdamPerLaunch];
    T* exp_avg_sq[kAdamPerLaunch];
    formulas::AdamConstants<T> constants[kAdamPerLaunch];
    long long begin[kAdamPerLaunch + 1];
    int count;
};

static_assert(sizeof(AdamTable<double>) < 4000, "a kernel's arguments must stay under 4 KB");

template <typename T>
__global__ void adam_kernel(AdamTable<T> table) {
    const long long n = table.begin[table.count];
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        int s = 0;
        while (s + 1 < table.count && table.begin[s + 1] <= k) ++s;
        const long long i = k - table.begin[s];
        formulas::adam_element(table.param[s][i], table.grad[s][i], table.exp_avg[s][i], table.exp_avg_sq[s][i],
                               table.constants[s]);
    }
}

template <typename T>
__global__ void gaussian_kl_kernel(T* kl, const T* mean_q, const T* std_q, const T* mean_p, const T* log_var_p,
                                   long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        kl[i] = formulas::gaussian_kl(mean_q[i], std_q[i], mean_p[i], log_var_p[i]);
}

template <typename T>
__global__ void gaussian_kl_backward_kernel(T* grad_mean_p, T* grad_log_var_p, const T* grad, const T* mean_q,
                                            const T* std_q, const T* mean_p, const T* log_var_p, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        formulas::gaussian_kl_backward(grad[i], mean_q[i], std_q[i], mean_p[i], log_var_p[i], grad_mean_p[i],
                                       grad_log_var_p[i]);
}

template <typename T>
__global__ void bias_activation_kernel(T* out, const T* bias, long long rows, long long cols, bool relu) {
    const long long n = rows * cols;
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n; k += (long long)gridDim.x * blockDim.x) {
        const T v = out[k] + bias[split_index(k, cols).col];
        out[k] = relu && v < T(0) ? T(0) : v;
    }
}

}  // namespace

void unary(Tensor& out, const Tensor& x, UnaryOp op) {
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        unary_kernel<<<grid_for(x.numel()), kThreads>>>(ptr<T>(out), ptr<T>(x), x.numel(), op);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void affine(Tensor& out, const Tensor& x, double scale, double shift) {
    floating(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        affine_kernel<<<grid_for(x.numel()), kThreads>>>(ptr<T>(out), ptr<T>(x), x.numel(), T(scale), T(shift));
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out) {
    floating(out.dtype(), [&](auto zero) {
        using T = decltype(zero);
        relu_backward_kernel<<<grid_for(out.numel()), kThreads>>>(ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(out), out.numel());
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout) {
    floating(out.dtype(), [&](auto zero) {
        using T = decltype(zero);
        binary_kernel<<<grid_for(layout.rows * layout.cols), kThreads>>>(ptr<T>(out), ptr<T>(a), ptr<T>(b), layout, op);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void expand(Tensor& out, const Tensor& x, const Broadcast2D& layout) {
    floating(out.dtype(), [&](auto zero) {
        using T = decltype(zero);
        binary_kernel<<<grid_for(layout.rows * layout.cols), kThreads>>>(ptr<T>(out), ptr<T>(x), static_cast<const T*>(nullptr),
                                                                         layout, BinaryOp::add);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void bias_activation(Tensor& out, const Tensor& bias, bool fuse_relu) {
    floating(out.dtype(), [&](auto zero) {
        using T = decltype(zero);
        bias_activation_kernel<<<grid_for(out.numel()), kThreads>>>(ptr<T>(out), ptr<T>(bias), out.dim(0), out.dim(1), fuse_relu);
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void fill(Tensor& x, double value) {
    switch (x.dtype()) {
        case DType::f32: fill_kernel<<<grid_for(x.numel()), kThreads>>>(ptr<float>(x), x.numel(), float(value)); break;
        case DType::f64: fill_kernel<<<grid_for(x.numel()), kThreads>>>(ptr<double>(x), x.numel(), value); break;
        case DType::i64:
            fill_kernel<<<grid_for(x.numel()), kThreads>>>(ptr<int64_t>(x), x.numel(), static_cast<int64_t>(value));
            break;
    }
    SWIRL_CUDA_CHECK_LAUNCH();
}

namespace {
template <typename Dst>
void convert_from(Dst* dst, const Tensor& src) {
    const long long n = src.numel();
    switch (src.dtype()) {
        case DType::f32: convert_kernel<<<grid_for(n), kThreads>>>(dst, ptr<float>(src), n); break;
        case DType::f64: convert_kernel<<<grid_for(n), kThreads>>>(dst, ptr<double>(src), n); break;
        case DType::i64: convert_kernel<<<grid_for(n), kThreads>>>(dst, ptr<int64_t>(src), n); break;
    }
}
}  // namespace

void copy(Tensor& dst, const Tensor& src) {
    if (dst.dtype() == src.dtype()) {
        SWIRL_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyDeviceToDevice));
        return;
    }
    switch (dst.dtype()) {
        case DType::f32: convert_from(ptr<float>(dst), src); break;
        case DType::f64: convert_from(ptr<double>(dst), src); break;
        case DType::i64: convert_from(ptr<int64_t>(dst), src); break;
    }
    SWIRL_CUDA_CHECK_LAUNCH();
}

void add_inplace(Tensor& dst, const Tensor& src) {
    floating(dst.dtype(), [&](auto zero) {
        using T = decltype(zero);
        add_inplace_kernel<<<grid_for(dst.numel()), kThreads>>>(ptr<T>(dst), ptr<T>(src), dst.numel());
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& options) {
    floating(targets.front().param->dtype(), [&](auto zero) {
        using T = decltype(zero);
        AdamTable<T> table{};
        auto launch = [&] {
            if (table.count == 0) return;
            adam_kernel<<<grid_for(table.begin[table.count]), kThreads>>>(table);
            SWIRL_CUDA_CHECK_LAUNCH();
            table.count = 0;
        };
        for (const AdamTarget& target : targets) {
            const int s = table.count;
            table.param[s] = ptr<T>(*target.param);
            table.grad[s] = ptr<T>(*target.grad);
            table.exp_avg[s] = ptr<T>(*target.exp_avg);
            table.exp_avg_sq[s] = ptr<T>(*target.exp_avg_sq);
            table.constants[s] = formulas::adam_constants_at<T>(options.lr, options.beta1, options.beta2, options.eps,
                                                                options.weight_decay, target.step);
            if (s == 0) table.begin[0] = 0;
            table.begin[s + 1] = table.begin[s] + target.param->numel();
            table.count = s + 1;
            if (table.count == kAdamPerLaunch) launch();
        }
        launch();
    });
}

void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    floating(kl.dtype(), [&](auto zero) {
        using T = decltype(zero);
        gaussian_kl_kernel<<<grid_for(kl.numel()), kThreads>>>(ptr<T>(kl), ptr<T>(mean_q), ptr<T>(std_q), ptr<T>(mean_p),
                                                               ptr<T>(log_var_p), kl.numel());
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    floating(grad.dtype(), [&](auto zero) {
        using T = decltype(zero);
        gaussian_kl_backward_kernel<<<grid_for(grad.numel()), kThreads>>>(
            ptr<T>(grad_mean_p), ptr<T>(grad_log_var_p), ptr<T>(grad), ptr<T>(mean_q), ptr<T>(std_q), ptr<T>(mean_p),
            ptr<T>(log_var_p), grad.numel());
    });
    SWIRL_CUDA_CHECK_LAUNCH();
}

}  // namespace swirl::cuda
