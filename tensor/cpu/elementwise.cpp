// CPU elementwise kernels: unary maps, broadcasting binary ops, fills, copies (random fills: random.cpp).
#include <cmath>
#include <type_traits>

#include "tensor/cpu/dispatch.h"
#include "tensor/cpu/capability.h"
#include "tensor/cpu/parallel.h"
#include "tensor/cpu/vector_math.h"
#include "tensor/formulas.h"

SWIRL_CPU_TARGET_BEGIN
namespace swirl::cpu::SWIRL_CPU_NAMESPACE {

namespace {


// out[i] = f(x[i]), on one thread below `parallel_from` elements (a plain simd loop: the one-thread path of an
// OpenMP `if` clause is not always vectorised).
template <typename T, typename F>
void map_unary(T* out, const T* x, int64_t n, F f, int64_t parallel_from = kParallelElements + 1) {
    if (n < parallel_from) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
        return;
    }
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

template <typename T, typename F>
void map_binary(T* out, const T* a, const T* b, const Broadcast2D& l, F f) {
    const int64_t rows = l.rows, cols = l.cols;
    if (l.a_col_stride == 1 && l.b_col_stride == 1 && l.a_row_stride == cols && l.b_row_stride == cols) {
        const int64_t n = rows * cols;  // same shape: one flat loop the compiler vectorises
        if (n <= kParallelElements) {
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
            return;
        }
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
        return;
    }
    // Narrow operands (the diffusion step's [B, 1] columns and [B, 2] points) in loops the compiler vectorises: one
    // column, each side contiguous or one value a row; or two columns with a [B, 1] column on either side.
    if (rows * cols <= kParallelElements && cols == 1) {
        const int64_t sa = l.a_row_stride, sb = l.b_row_stride;
        for (int64_t i = 0; i < rows; ++i) out[i] = f(a[i * sa], b[i * sb]);
        return;
    }
    const bool a_whole = l.a_col_stride == 1 && l.a_row_stride == 2, b_whole = l.b_col_stride == 1 && l.b_row_stride == 2;
    const bool a_column = l.a_col_stride == 0 && l.a_row_stride == 1, b_column = l.b_col_stride == 0 && l.b_row_stride == 1;
    if (rows * cols <= kParallelElements && cols == 2 && ((a_whole && b_column) || (a_column && b_whole))) {
        if (a_whole)
            for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < 2; ++j) out[i * 2 + j] = f(a[i * 2 + j], b[i]);
        else
            for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < 2; ++j) out[i * 2 + j] = f(a[i], b[i * 2 + j]);
        return;
    }
#pragma omp parallel for schedule(static) if (rows * cols > kParallelElements)
    for (int64_t i = 0; i < rows; ++i) {
        const T* a_row = a + i * l.a_row_stride;
        const T* b_row = b + i * l.b_row_stride;
        T* out_row = out + i * cols;
        for (int64_t j = 0; j < cols; ++j) out_row[j] = f(a_row[j * l.a_col_stride], b_row[j * l.b_col_stride]);
    }
}

// sin or cos. Floats through vector_math's polynomials, which vectorise, then the elements outside their range
// (|x| > kSincosLimit, infinities, NaN) again through libm: each element's value depends on it alone.
template <typename T>
void sine_or_cosine(T* out, const T* x, int64_t n, bool sine) {
    if constexpr (std::is_same_v<T, float>) {
        auto in_range = [](float v) { return std::abs(v) <= vector_math::kSincosLimit; };  // false for NaN
        if (sine)
            map_unary(out, x, n, [&](float v) { return vector_math::sin(in_range(v) ? v : 0.0f); }, kParallelCostlyElements);
        else
            map_unary(out, x, n, [&](float v) { return vector_math::cos(in_range(v) ? v : 0.0f); }, kParallelCostlyElements);
        for (int64_t i = 0; i < n; ++i)
            if (!in_range(x[i])) out[i] = sine ? std::sin(x[i]) : std::cos(x[i]);
        return;
    }
    if (sine)
        map_unary(out, x, n, [](T v) { return std::sin(v); }, kParallelCostlyElements);
    else
        map_unary(out, x, n, [](T v) { return std::cos(v); }, kParallelCostlyElements);
}

}  // namespace

void unary(Tensor& out, const Tensor& x, UnaryOp op) {
    dispatch_floating(x.dtype(), "unary", [&](auto zero) {
        using T = decltype(zero);
        T* o = out.data<T>();
        const T* in = x.data<T>();
        const int64_t n = x.numel();
        switch (op) {
            case UnaryOp::neg: map_unary(o, in, n, [](T v) { return -v; }); break;
            // The transcendental ones cost tens of ns an element: parallel from a few thousand.
            case UnaryOp::exp: map_unary(o, in, n, [](T v) { return std::exp(v); }, kParallelCostlyElements); break;
            case UnaryOp::log: map_unary(o, in, n, [](T v) { return std::log(v); }, kParallelCostlyElements); break;
            case UnaryOp::sqrt: map_unary(o, in, n, [](T v) { return std::sqrt(v); }); break;
            case UnaryOp::square: map_unary(o, in, n, [](T v) { return v * v; }); break;
            case UnaryOp::relu: map_unary(o, in, n, [](T v) { return v > T(0) ? v : T(0); }); break;
            case UnaryOp::sigmoid: map_unary(o, in, n, [](T v) { return formulas::sigmoid(v); }, kParallelCostlyElements); break;
            case UnaryOp::sin: sine_or_cosine(o, in, n, true); break;
            case UnaryOp::cos: sine_or_cosine(o, in, n, false); break;
        }
    });
}

void affine(Tensor& out, const Tensor& x, double scale, double shift) {
    dispatch_floating(x.dtype(), "affine", [&](auto zero) {
        using T = decltype(zero);
        const T s = static_cast<T>(scale), b = static_cast<T>(shift);
        map_unary(out.data<T>(), x.data<T>(), x.numel(), [s, b](T v) { return s * v + b; });
    });
}

void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out) {
    dispatch_floating(out.dtype(), "relu_backward", [&](auto zero) {
        using T = decltype(zero);
        Broadcast2D same{1, out.numel(), 0, 1, 0, 1};
        map_binary(grad_in.data<T>(), grad_out.data<T>(), out.data<T>(), same,
                   [](T g, T y) { return y > T(0) ? g : T(0); });
    });
}

void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& layout) {
    dispatch_floating(out.dtype(), "binary", [&](auto zero) {
        using T = decltype(zero);
        T* o = out.data<T>();
        const T* pa = a.data<T>();
        const T* pb = b.data<T>();
        switch (op) {
            case BinaryOp::add: map_binary(o, pa, pb, layout, [](T u, T v) { return u + v; }); break;
            case BinaryOp::sub: map_binary(o, pa, pb, layout, [](T u, T v) { return u - v; }); break;
            case BinaryOp::mul: map_binary(o, pa, pb, layout, [](T u, T v) { return u * v; }); break;
            case BinaryOp::div: map_binary(o, pa, pb, layout, [](T u, T v) { return u / v; }); break;
        }
    });
}

void expand(Tensor& out, const Tensor& x, const Broadcast2D& layout) {
    dispatch_floating(out.dtype(), "expand", [&](auto zero) {
        using T = decltype(zero);
        // Reuse the binary loop with the second operand ignored.
        map_binary(out.data<T>(), x.data<T>(), x.data<T>(), layout, [](T u, T) { return u; });
    });
}

void fill(Tensor& x, double value) {
    const int64_t n = x.numel();
    auto fill_as = [&](auto typed_value) {
        using T = decltype(typed_value);
        T* p = static_cast<T*>(x.raw_data());
        for (int64_t i = 0; i < n; ++i) p[i] = typed_value;
    };
    switch (x.dtype()) {
        case DType::f32: fill_as(static_cast<float>(value)); break;
        case DType::f64: fill_as(value); break;
        case DType::i64: fill_as(static_cast<int64_t>(value)); break;
    }
}

namespace {
template <typename Dst>
void copy_into(Dst* dst, const Tensor& src) {
    const int64_t n = src.numel();
    auto convert = [&](const auto* s) {
        for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(s[i]);
    };
    switch (src.dtype()) {
        case DType::f32: convert(static_cast<const float*>(src.raw_data())); break;
        case DType::f64: convert(static_cast<const double*>(src.raw_data())); break;
        case DType::i64: convert(static_cast<const int64_t*>(src.raw_data())); break;
    }
}
}  // namespace

void copy(Tensor& dst, const Tensor& src) {
    switch (dst.dtype()) {
        case DType::f32: copy_into(static_cast<float*>(dst.raw_data()), src); break;
        case DType::f64: copy_into(static_cast<double*>(dst.raw_data()), src); break;
        case DType::i64: copy_into(static_cast<int64_t*>(dst.raw_data()), src); break;
    }
}

void add_inplace(Tensor& dst, const Tensor& src) {
    dispatch_floating(dst.dtype(), "add_", [&](auto zero) {
        using T = decltype(zero);
        T* d = dst.data<T>();
        const T* s = src.data<T>();
        const int64_t n = dst.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
        for (int64_t i = 0; i < n; ++i) d[i] += s[i];
    });
}

namespace {

// Adam on elements [0, n): one loop the compiler vectorises (restrict: the four arrays never overlap).
template <typename T>
void adam_elements(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                   const formulas::AdamConstants<T> c) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) formulas::adam_element(p[i], g[i], m[i], v[i], c);
}

}  // namespace

void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& options) {
    dispatch_floating(targets.front().param->dtype(), "adam_update", [&](auto zero) {
        using T = decltype(zero);
        // Work items of at most kChunk elements of one tensor; on one thread unless there is a lot of work.
        constexpr int64_t kChunk = 1 << 16;
        struct Item {
            std::size_t target;
            int64_t begin, count;
        };
        std::vector<formulas::AdamConstants<T>> constants;
        std::vector<Item> items;
        constants.reserve(targets.size());
        items.reserve(targets.size());
        int64_t total = 0;
        for (std::size_t t = 0; t < targets.size(); ++t) {
            // A model's tensors mostly share their step count: its constants (two pow calls) once per run of equals.
            if (t == 0 || targets[t].step != targets[t - 1].step)
                constants.push_back(formulas::adam_constants_at<T>(options.lr, options.beta1, options.beta2,
                                                                   options.eps, options.weight_decay, targets[t].step));
            else
                constants.push_back(constants.back());
            const int64_t n = targets[t].param->numel();
            for (int64_t begin = 0; begin < n; begin += kChunk) items.push_back({t, begin, std::min(kChunk, n - begin)});
            total += n;
        }
        auto run = [&](const Item& item) {
            const AdamTarget& t = targets[item.target];
            adam_elements(t.param->data<T>() + item.begin, t.grad->data<T>() + item.begin,
                          t.exp_avg->data<T>() + item.begin, t.exp_avg_sq->data<T>() + item.begin, item.count,
                          constants[item.target]);
        };
        const auto count = static_cast<int64_t>(items.size());
        const bool team_awake = take_parallel_products();
        if (total <= kParallelAdamElements && !(team_awake && total > kParallelAdamWarmElements)) {
            for (const Item& item : items) run(item);
            return;
        }
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < count; ++i) run(items[static_cast<std::size_t>(i)]);
    });
}

void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    dispatch_floating(kl.dtype(), "gaussian_kl", [&](auto zero) {
        using T = decltype(zero);
        T* out = kl.data<T>();
        const T *mq = mean_q.data<T>(), *sq = std_q.data<T>(), *mp = mean_p.data<T>(), *lv = log_var_p.data<T>();
        const int64_t n = kl.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelCostlyElements)
        for (int64_t i = 0; i < n; ++i) out[i] = formulas::gaussian_kl(mq[i], sq[i], mp[i], lv[i]);
    });
}

void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    dispatch_floating(grad.dtype(), "gaussian_kl_backward", [&](auto zero) {
        using T = decltype(zero);
        T *gm = grad_mean_p.data<T>(), *glv = grad_log_var_p.data<T>();
        const T *g = grad.data<T>(), *mq = mean_q.data<T>(), *sq = std_q.data<T>(), *mp = mean_p.data<T>(),
                *lv = log_var_p.data<T>();
        const int64_t n = grad.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelCostlyElements)
        for (int64_t i = 0; i < n; ++i) formulas::gaussian_kl_backward(g[i], mq[i], sq[i], mp[i], lv[i], gm[i], glv[i]);
    });
}

}  // namespace swirl::cpu::SWIRL_CPU_NAMESPACE
SWIRL_CPU_TARGET_END
