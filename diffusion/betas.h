// What every forward chain of swirl shares: the betas beta_1..beta_T and their running products
// alpha_bar_t = prod_{s <= t} (1 - beta_s). Gaussian diffusion keeps sqrt(1 - beta_t) of x_{t-1}, binomial diffusion
// keeps each bit with probability 1 - beta_t; both schedules (schedule.h, binomial.h) are these betas with the
// constants of their own kernel on top. Float64; t is 1-based (t = 1..T).
#pragma once

#include <cstdint>
#include <vector>

namespace swirl::diffusion {

class ForwardBetas {
public:
    int64_t steps() const { return static_cast<int64_t>(betas_.size()); }
    const std::vector<double>& betas() const { return betas_; }
    double beta(int64_t t) const;       // t = 1..T
    double alpha_bar(int64_t t) const;  // t = 0..T; alpha_bar(0) = 1

protected:
    // `betas` already checked by the kernel's schedule (each kernel has its own range).
    explicit ForwardBetas(std::vector<double> betas);
    // Throws unless first <= t <= T.
    void check_step(int64_t t, int64_t first) const;

private:
    std::vector<double> betas_, alpha_bars_;  // index t - 1
};

}  // namespace swirl::diffusion
