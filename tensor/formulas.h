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
