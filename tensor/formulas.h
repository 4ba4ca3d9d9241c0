// Per-element formulas that both backends compile: g++ builds them into the CPU kernels' simd loops
// (tensor/cpu/elementwise.cpp), nvcc into the CUDA kernels (tensor/cuda/elementwise.cu). One definition keeps
// the two devices computing the same expression in the same order; the results can still differ in the last
// bits (nvcc contracts a * b + c into one FMA, and the math libraries' exp and log differ by an ulp or two), well
// inside the CPU/CUDA parity tests' tolerances.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define SWIRL_HOST_DEVICE __host__ __device__
#else
#define SWIRL_HOST_DEVICE
#endif

namespace swirl::formulas {

// exp and log of the argument's own precision on either side: std:: on the host, the CUDA math library's
// expf/logf (float) and exp/log (double) on the device.
template <typename T>
SWIRL_HOST_DEVICE inline T exp_of(T x) {
#ifdef __CUDA_ARCH__
    if constexpr (std::is_same_v<T, float>) return ::expf(x);
    else return ::exp(x);
#else
    return std::exp(x);
#endif
}

template <typename T>
SWIRL_HOST_DEVICE inline T log_of(T x) {
#ifdef __CUDA_ARCH__
    if constexpr (std::is_same_v<T, float>) return ::logf(x);
    else return ::log(x);
#else
    return std::log(x);
#endif
}

template <typename T>
SWIRL_HOST_DEVICE inline T sqrt_of(T x) {
#ifdef __CUDA_ARCH__
    if constexpr (std::is_same_v<T, float>) return ::sqrtf(x);
    else return ::sqrt(x);
#else
    return std::sqrt(x);
#endif
}

// The logistic sigmoid 1 / (1 + exp(-x)) without overflow: exp of a non-positive number only, so a large |x|
// gives 0 or 1 instead of inf / inf.
template <typename T>
SWIRL_HOST_DEVICE inline T sigmoid(T x) {
    const T e = exp_of(x >= T(0) ? -x : x);  // in (0, 1]
    return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// KL(q || p) between N(mean_q, std_q^2) and N(mean_p, exp(log_var_p)), one element:
//   0.5 log_var_p - log std_q + (std_q^2 + (mean_q - mean_p)^2) / (2 exp(log_var_p)) - 0.5
template <typename T>
SWIRL_HOST_DEVICE inline T gaussian_kl(T mean_q, T std_q, T mean_p, T log_var_p) {
    const T difference = mean_q - mean_p;
    const T mismatch = std_q * std_q + difference * difference;
    return T(0.5) * log_var_p - log_of(std_q) + T(0.5) * mismatch * exp_of(-log_var_p) - T(0.5);
}

// grad * d kl / d mean_p = grad (mean_p - mean_q) / var_p and
// grad * d kl / d log_var_p = grad (0.5 - (std_q^2 + (mean_q - mean_p)^2) / (2 var_p)), from 1 / var_p; returns
// the mismatch std_q^2 + (mean_q - mean_p)^2.
template <typename T>
SWIRL_HOST_DEVICE inline T gaussian_kl_gradients(T grad, T mean_q, T std_q, T mean_p, T inverse_variance, T& grad_mean_p,
                                                 T& grad_log_var_p) {
    const T difference = mean_p - mean_q;
    const T mismatch = std_q * std_q + difference * difference;
    grad_mean_p = grad * difference * inverse_variance;
    grad_log_var_p = grad * (T(0.5) - T(0.5) * mismatch * inverse_variance);
    return mismatch;
}

template <typename T>
SWIRL_HOST_DEVICE inline void gaussian_kl_backward(T grad, T mean_q, T std_q, T mean_p, T log_var_p, T& grad_mean_p,
                                                   T& grad_log_var_p) {
    gaussian_kl_gradients(grad, mean_q, std_q, mean_p, exp_of(-log_var_p), grad_mean_p, grad_log_var_p);
}

// gaussian_kl and gaussian_kl_backward of one element at once, exp(-log_var_p) taken once: the same expressions,
// so the same values.
template <typename T>
SWIRL_HOST_DEVICE inline T gaussian_kl_and_backward(T grad, T mean_q, T std_q, T mean_p, T log_var_p, T& grad_mean_p,
                                                    T& grad_log_var_p) {
    const T inverse_variance = exp_of(-log_var_p);
    const T mismatch = gaussian_kl_gradients(grad, mean_q, std_q, mean_p, inverse_variance, grad_mean_p, grad_log_var_p);
    return T(0.5) * log_var_p - log_of(std_q) + T(0.5) * mismatch * inverse_variance - T(0.5);
}

// The diffusion objective's reverse step, row by row: rows [begin, end) of a stack's output y [rows, width] read as
// p through the head (tensor/fused/mlp.h's GaussianHead: the mean from eps, the bounded log-variance, the rotation),
// each element's KL(q || p) into kl, and the gradient of sum(grad_value * kl) with respect to y into grad [rows,
// width]. With the input gradients' pointers set, those of q and the head too. y and grad hold rows begin..end;
// the other pointers index the whole batch. The fused CPU kernel (tensor/cpu/mlp.cpp) and the reference kernel
// (tensor/reference/dense.cpp) both run it; the composition of ops in tensor/fused/mlp.cpp (CUDA's path) and the plain
// path (diffusion/parametrization.cpp) spell the same expressions in ops, and the tests hold all of them together.
template <typename T>
struct GaussianHeadRows {
    T* kl;                     // [M, d]
    const T *mean_q, *std_q;  // [M, d] each
    int64_t d;
    T grad_value;
    // The head: null pointers read y as the seed does (mean and log-variance as they are).
    const T *xt = nullptr, *eps_xt = nullptr, *eps_coef = nullptr;  // [M, d], [M, 1], [M, 1]
    const T *low = nullptr, *high = nullptr;                          // [M, 1] each
    bool rotated = false;
    // The inputs' gradients (null: not wanted): q's [M, d] each (std_q's element by element), the head's.
    T *grad_mean_q = nullptr, *grad_std_q = nullptr, *grad_xt = nullptr, *grad_eps_xt = nullptr,
      *grad_eps_coef = nullptr, *grad_low = nullptr, *grad_high = nullptr;

    // Always inlined: the CPU kernels' copies each compile it with their own instructions, and an out-of-line copy
    // would be one symbol that the linker keeps once (tests/cpu_copies_test.sh).
    [[gnu::always_inline]] inline void operator()(int64_t begin, int64_t end, const T* y, T* grad) const {
        const int64_t width = 2 * d + (rotated ? 1 : 0);
        for (int64_t i = begin; i < end; ++i) {
            const T* a = y + (i - begin) * width;
            const T* b = a + d;
            T* grad_a = grad + (i - begin) * width;
            T* grad_b = grad_a + d;
            const T *mq = mean_q + i * d, *sq = std_q + i * d;
            const T range = low != nullptr ? high[i] - low[i] : T(0);
            // p's mean and log-variance of element j, and sigmoid(b_j) when the log-variance is bounded.
            auto mean_p = [&](int64_t j) { return xt != nullptr ? eps_xt[i] * xt[i * d + j] - eps_coef[i] * a[j] : a[j]; };
            auto sigmoid_b = [&](int64_t j) { return low != nullptr ? sigmoid(b[j]) : T(0); };
            auto log_var_p = [&](T sigmoid, int64_t j) { return low != nullptr ? low[i] + sigmoid * range : b[j]; };
            // The row's sums over its elements, for the head's [M, 1] columns.
            T eps_xt_sum = T(0), eps_coef_sum = T(0), low_sum = T(0), high_sum = T(0);
            // From the gradients at mean_p and log_var_p to a's and b's, and to q's and the head's when wanted.
            auto to_outputs = [&](int64_t j, T grad_mean, T grad_log_var, T sigmoid, T log_var) {
                grad_a[j] = xt != nullptr ? -grad_mean * eps_coef[i] : grad_mean;
                grad_b[j] = low != nullptr ? grad_log_var * range * (sigmoid * (T(1) - sigmoid)) : grad_log_var;
                if (grad_mean_q == nullptr) return;
                // The KL sees mean_q - mean_p (turned, when rotated): mean_q's gradient is mean_p's, negated;
                // std_q's is grad (std_q / var_p - 1 / std_q).
                grad_mean_q[i * d + j] = -grad_mean;
                grad_std_q[i * d + j] = grad_value * (sq[j] * exp_of(-log_var) - T(1) / sq[j]);
                if (xt != nullptr) {
                    grad_xt[i * d + j] = grad_mean * eps_xt[i];
                    eps_xt_sum += grad_mean * xt[i * d + j];
                    eps_coef_sum += -grad_mean * a[j];
                }
                if (low != nullptr) {
                    const T along = grad_log_var * sigmoid;
                    low_sum += grad_log_var - along;
                    high_sum += along;
                }
            };
            if (!rotated) {
                for (int64_t j = 0; j < d; ++j) {
                    const T sigmoid = sigmoid_b(j), log_var = log_var_p(sigmoid, j);
                    T grad_mean, grad_log_var;
                    kl[i * d + j] = gaussian_kl_and_backward(grad_value, mq[j], sq[j], mean_p(j), log_var,
                                                                       grad_mean, grad_log_var);
                    to_outputs(j, grad_mean, grad_log_var, sigmoid, log_var);
                }
            } else {
                // d = 2, in p's axes: delta = rotate(mean_q - mean_p, -angle) against N(0, exp(log_var_p)).
                const T angle = a[2 * d], c = std::cos(angle), s = -std::sin(angle);
                const T u0 = mq[0] - mean_p(0), u1 = mq[1] - mean_p(1);
                const T delta0 = c * u0 - s * u1, delta1 = s * u0 + c * u1;
                const T sigmoid0 = sigmoid_b(0), sigmoid1 = sigmoid_b(1);
                const T log_var0 = log_var_p(sigmoid0, 0), log_var1 = log_var_p(sigmoid1, 1);
                T zero0, zero1, grad_log_var0, grad_log_var1;  // the KL's gradients at its zero mean: minus delta's
                kl[i * d] = gaussian_kl_and_backward(grad_value, delta0, sq[0], T(0), log_var0, zero0,
                                                               grad_log_var0);
                kl[i * d + 1] = gaussian_kl_and_backward(grad_value, delta1, sq[1], T(0), log_var1, zero1,
                                                                   grad_log_var1);
                const T g0 = -zero0, g1 = -zero1;
                // u's gradient is g turned back, mean_p's minus u's; the angle's is -(g1 delta0 - g0 delta1).
                to_outputs(0, -(c * g0 + s * g1), grad_log_var0, sigmoid0, log_var0);
                to_outputs(1, -(c * g1 - s * g0), grad_log_var1, sigmoid1, log_var1);
                grad_a[2 * d] = -(g1 * delta0 - g0 * delta1);
            }
            if (grad_mean_q == nullptr) continue;
            if (xt != nullptr) {
                grad_eps_xt[i] = eps_xt_sum;
                grad_eps_coef[i] = eps_coef_sum;
            }
            if (low != nullptr) {
                grad_low[i] = low_sum;
                grad_high[i] = high_sum;
            }
        }
    }
};

// torch.optim.Adam's single-tensor update, with its constants formed once per tensor in double and rounded
// to T, as PyTorch passes them: step_size = lr / bias_correction1, denominator = sqrt(v) / sqrt(bc2) + eps.
template <typename T>
struct AdamConstants {
    T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps, step_size, sqrt_bias_correction2;
};

template <typename T>
AdamConstants<T> adam_constants(double lr, double beta1, double beta2, double eps, double weight_decay,
                                double bias_correction1, double bias_correction2) {
    // 1 - beta in double before rounding: 1.0f - 0.999f is off by 1e-5.
    return {T(beta1),        T(beta2), T(1.0 - beta1),           T(1.0 - beta2),
            T(weight_decay), T(eps),   T(lr / bias_correction1), T(std::sqrt(bias_correction2))};
}

// The same from a step count (1 on the first update): bias corrections 1 - beta^step.
template <typename T>
AdamConstants<T> adam_constants_at(double lr, double beta1, double beta2, double eps, double weight_decay,
                                   int64_t step) {
    return adam_constants<T>(lr, beta1, beta2, eps, weight_decay, 1.0 - std::pow(beta1, static_cast<double>(step)),
                             1.0 - std::pow(beta2, static_cast<double>(step)));
}

template <typename T>
SWIRL_HOST_DEVICE inline void adam_element(T& param, T grad, T& exp_avg, T& exp_avg_sq, const AdamConstants<T>& c) {
    const T g = grad + c.weight_decay * param;
    exp_avg = c.beta1 * exp_avg + c.one_minus_beta1 * g;
    exp_avg_sq = c.beta2 * exp_avg_sq + c.one_minus_beta2 * g * g;
    param -= c.step_size * exp_avg / (sqrt_of(exp_avg_sq) / c.sqrt_bias_correction2 + c.eps);
}

}  // namespace swirl::formulas
