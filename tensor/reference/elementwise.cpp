// The reference elementwise kernels: one loop over the elements each, in the tensors' own precision.
#include <cmath>

#include "tensor/cpu/dispatch.h"
#include "tensor/formulas.h"
#include "tensor/reference/kernels.h"

namespace swirl::reference {

using cpu::dispatch_any;
using cpu::dispatch_floating;

void unary(Tensor& out, const Tensor& x, UnaryOp op) {
    dispatch_floating(x.dtype(), "unary", [&](auto zero) {
        using T = decltype(zero);
        const T* in = x.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
            const T v = in[i];
            switch (op) {
                case UnaryOp::neg: o[i] = -v; break;
                case UnaryOp::exp: o[i] = std::exp(v); break;
                case UnaryOp::log: o[i] = std::log(v); break;
                case UnaryOp::sqrt: o[i] = std::sqrt(v); break;
                case UnaryOp::square: o[i] = v * v; break;
                case UnaryOp::relu: o[i] = v > T(0) ? v : T(0); break;
                case UnaryOp::sigmoid: o[i] = formulas::sigmoid(v); break;
                case UnaryOp::sin: o[i] = std::sin(v); break;
                case UnaryOp::cos: o[i] = std::cos(v); break;
            }
        }
    });
}

void affine(Tensor& out, const Tensor& x, double scale, double shift) {
    dispatch_floating(x.dtype(), "affine", [&](auto zero) {
        using T = decltype(zero);
        const T s = static_cast<T>(scale), b = static_cast<T>(shift);
        const T* in = x.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) o[i] = s * in[i] + b;
    });
}

void relu_backward(Tensor& grad_in, const Tensor& grad_out, const Tensor& out) {
    dispatch_floating(out.dtype(), "relu_backward", [&](auto zero) {
        using T = decltype(zero);
        const T *g = grad_out.data<T>(), *y = out.data<T>();
        T* o = grad_in.data<T>();
        for (int64_t i = 0; i < out.numel(); ++i) o[i] = y[i] > T(0) ? g[i] : T(0);
    });
}

// Element (i, j) of the output from a[i * a_row_stride + j * a_col_stride] and b's likewise (a stride of 0 is a
// broadcast axis).
void binary(Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op, const Broadcast2D& l) {
    dispatch_floating(out.dtype(), "binary", [&](auto zero) {
        using T = decltype(zero);
        const T *pa = a.data<T>(), *pb = b.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < l.rows; ++i)
            for (int64_t j = 0; j < l.cols; ++j) {
                const T u = pa[i * l.a_row_stride + j * l.a_col_stride], v = pb[i * l.b_row_stride + j * l.b_col_stride];
                T& r = o[i * l.cols + j];
                switch (op) {
                    case BinaryOp::add: r = u + v; break;
                    case BinaryOp::sub: r = u - v; break;
                    case BinaryOp::mul: r = u * v; break;
                    case BinaryOp::div: r = u / v; break;
                }
            }
    });
}

void expand(Tensor& out, const Tensor& x, const Broadcast2D& l) {
    dispatch_floating(out.dtype(), "expand", [&](auto zero) {
        using T = decltype(zero);
        const T* in = x.data<T>();
        T* o = out.data<T>();
        for (int64_t i = 0; i < l.rows; ++i)
            for (int64_t j = 0; j < l.cols; ++j) o[i * l.cols + j] = in[i * l.a_row_stride + j * l.a_col_stride];
    });
}

void fill(Tensor& x, double value) {
    dispatch_any(x.dtype(), [&](auto zero) {
        using U = decltype(zero);
        U* o = static_cast<U*>(x.raw_data());
        for (int64_t i = 0; i < x.numel(); ++i) o[i] = static_cast<U>(value);
    });
}

void copy(Tensor& dst, const Tensor& src) {
    dispatch_any(dst.dtype(), [&](auto to) {
        dispatch_any(src.dtype(), [&](auto from) {
            using D = decltype(to);
            using S = decltype(from);
            D* d = static_cast<D*>(dst.raw_data());
            const S* s = static_cast<const S*>(src.raw_data());
            for (int64_t i = 0; i < src.numel(); ++i) d[i] = static_cast<D>(s[i]);
        });
    });
}

void add_inplace(Tensor& dst, const Tensor& src) {
    dispatch_floating(dst.dtype(), "add_", [&](auto zero) {
        using T = decltype(zero);
        T* d = dst.data<T>();
        const T* s = src.data<T>();
        for (int64_t i = 0; i < dst.numel(); ++i) d[i] += s[i];
    });
}

// The Gaussian KL and its gradients, element by element: tensor/formulas.h holds the expressions.
void gaussian_kl(Tensor& kl, const Tensor& mean_q, const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    dispatch_floating(kl.dtype(), "gaussian_kl", [&](auto zero) {
        using T = decltype(zero);
        const T *mq = mean_q.data<T>(), *sq = std_q.data<T>(), *mp = mean_p.data<T>(), *lv = log_var_p.data<T>();
        T* o = kl.data<T>();
        for (int64_t i = 0; i < kl.numel(); ++i) o[i] = formulas::gaussian_kl(mq[i], sq[i], mp[i], lv[i]);
    });
}

void gaussian_kl_backward(Tensor& grad_mean_p, Tensor& grad_log_var_p, const Tensor& grad, const Tensor& mean_q,
                          const Tensor& std_q, const Tensor& mean_p, const Tensor& log_var_p) {
    dispatch_floating(grad.dtype(), "gaussian_kl_backward", [&](auto zero) {
        using T = decltype(zero);
        const T *g = grad.data<T>(), *mq = mean_q.data<T>(), *sq = std_q.data<T>(), *mp = mean_p.data<T>(),
                *lv = log_var_p.data<T>();
        T *gm = grad_mean_p.data<T>(), *glv = grad_log_var_p.data<T>();
        for (int64_t i = 0; i < grad.numel(); ++i)
            formulas::gaussian_kl_backward(g[i], mq[i], sq[i], mp[i], lv[i], gm[i], glv[i]);
    });
}

// torch.optim.Adam, tensor by tensor, element by element (tensor/formulas.h's adam_element).
void adam_update(const std::vector<AdamTarget>& targets, const AdamOptions& o) {
    dispatch_floating(targets.front().param->dtype(), "adam_update", [&](auto zero) {
        using T = decltype(zero);
        for (const AdamTarget& t : targets) {
            const auto c = formulas::adam_constants_at<T>(o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, t.step);
            T *p = t.param->data<T>(), *m = t.exp_avg->data<T>(), *v = t.exp_avg_sq->data<T>();
            const T* g = t.grad->data<T>();
            for (int64_t i = 0; i < t.param->numel(); ++i) formulas::adam_element(p[i], g[i], m[i], v[i], c);
        }
    });
}

}  // namespace swirl::reference
