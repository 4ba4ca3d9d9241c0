// Binomial diffusion on binary data (Sohl-Dickstein et al. 2015, section 2.4.1 and Table App.1): every bit of
// x_{t-1} is kept with probability 1 - beta_t and otherwise redrawn from B(0.5),
//   q(x_t | x_{t-1}) = B(x_t; x_{t-1} (1 - beta_t) + 0.5 beta_t),
// so that q(x_t | x_0) = B(x_t; abar_t x_0 + (1 - abar_t) / 2) with abar_t = prod_{s<=t} (1 - beta_s), and the
// prior is B(0.5). The paper's schedule beta_t = 1 / (T - t + 1) gives abar_t = (T - t) / T: x_T is B(0.5) exactly.
// Also here: the paper's binary heartbeat data, the forward posterior in closed form, and the entropies of K.
// Computed in float64 on the host (the tables are small); t is 1-based, as in the paper (t = 1..T).
#pragma once

#include <cstdint>
#include <vector>

#include "diffusion/betas.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace swirl::diffusion {

class BinomialSchedule : public ForwardBetas {
public:
    // The paper's: beta_t = 1 / (T - t + 1), T >= 2.
    explicit BinomialSchedule(int64_t steps = 2000);
    // Any betas in (0, 1], beta_1 .. beta_T (T >= 2), beta_1 < 1.
    static BinomialSchedule from_betas(std::vector<double> betas);
    // steps(), betas(), beta(t) and alpha_bar(t) come from ForwardBetas.

    // q(x_t = 1 | x_0), for a bit x0 in {0, 1}.
    double marginal_rate(int64_t t, int x0) const;
    // q(x_{t-1} = 1 | x_t, x_0), t = 2..T (eq. 13's posterior for this kernel; diffusion/README.md derives it):
    //   m = q(x_{t-1} = 1 | x_0), k_b = q(x_t | x_{t-1} = b):  m k_1 / (m k_1 + (1 - m) k_0).
    double posterior_rate(int64_t t, int xt, int x0) const;

private:
    struct FromBetas {};
    BinomialSchedule(FromBetas, std::vector<double> betas);
};

// The binary entropy -p log p - (1 - p) log(1 - p), in nats (0 at p = 0 and 1).
double binary_entropy(double p);

// The terms of K (eq. 14) outside the KLs for d bits, in nats: H_q(X_T | X_0) = d H_b((1 - abar_T) / 2) (the same
// for x_0 = 0 and 1), H_q(X_1 | X_0) = d H_b(beta_1 / 2), H_p(X_T) = d log 2.
double binomial_entropy_q_final(const BinomialSchedule& schedule, int64_t d);
double binomial_entropy_q_first(const BinomialSchedule& schedule, int64_t d);
double binomial_entropy_p_final(int64_t d);

// The heartbeat data (the paper's section 3.1.2): sequences of kHeartbeatBins bits with a 1 every kHeartbeatPeriod
// bins, the first pulse uniform over the first kHeartbeatPeriod bins: 5 equally likely sequences of four 1s, so
// log p(x) = -log 5 for each and the mean activity is 1/5.
constexpr int64_t kHeartbeatBins = 20, kHeartbeatPeriod = 5;
// n sequences [n, 20] of 0/1, float64 on the CPU: one uniform of gen per row picks its phase.
Tensor sample_heartbeat(int64_t n, Generator& gen);
// The five sequences, phase 0 first [5, 20].
Tensor heartbeat_sequences();
// L_null: the independent-bits model at the data's mean activity 1/5, in bits per sequence: 20 log2 B(x; 0.2)
// averaged over the data = -20 H_b(0.2) / log 2 = -14.439.
double heartbeat_null_bits();

// Bits drawn elementwise: out[i] = 1 where a uniform of gen falls below rate[i], else 0 (float64, CPU).
Tensor draw_bits(const Tensor& rate, Generator& gen);
// x_t ~ q(x_t | x_0) for rows x0 [n, d] whose steps are steps[row] (one per row), float64 on the CPU.
Tensor binomial_forward(const BinomialSchedule& schedule, const Tensor& x0, const std::vector<int64_t>& steps,
                        Generator& gen);
// q(x_{t-1} = 1 | x_t, x_0) elementwise [n, d] for rows at steps[row]: with x0 [n, d] given, or with x_0 = x0_bit
// (0 or 1) for every element.
Tensor binomial_posterior_rate(const BinomialSchedule& schedule, const Tensor& xt, const Tensor& x0,
                               const std::vector<int64_t>& steps);
Tensor binomial_posterior_rate(const BinomialSchedule& schedule, const Tensor& xt, const std::vector<int64_t>& steps,
                               int x0_bit);

}  // namespace swirl::diffusion
