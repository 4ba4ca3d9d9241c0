// The binomial kernel's schedule, posterior and entropies, and the heartbeat data.
#include "diffusion/binomial.h"

#include <cmath>
#include <utility>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

namespace {

std::vector<double> paper_betas(int64_t steps) {
    SWIRL_CHECK(steps >= 2, "BinomialSchedule: needs at least 2 steps, got {}", steps);
    std::vector<double> betas(static_cast<std::size_t>(steps));
    for (int64_t t = 1; t <= steps; ++t) betas[static_cast<std::size_t>(t - 1)] = 1.0 / static_cast<double>(steps - t + 1);
    return betas;
}

// The binomial kernel's betas: at least 2, each in (0, 1], beta_1 < 1 (beta_T = 1 makes x_T exactly B(0.5)).
std::vector<double> checked_binomial_betas(std::vector<double> betas) {
    SWIRL_CHECK(betas.size() >= 2, "BinomialSchedule: needs at least 2 steps, got {}", betas.size());
    for (std::size_t i = 0; i < betas.size(); ++i)
        SWIRL_CHECK(betas[i] > 0.0 && betas[i] <= 1.0 && (i > 0 || betas[i] < 1.0),
                    "BinomialSchedule: beta_{} = {} must be in (0, 1] (beta_1 in (0, 1))", i + 1, betas[i]);
    return betas;
}

void check_shape(const Tensor& x, const char* what, int64_t rows) {
    SWIRL_CHECK(x.rank() == 2 && x.dim(0) == rows && x.dtype() == DType::f64 && x.device().is_cpu(),
                "{}: expected float64 [{}, d] on the CPU, got {} {} on {}", what, rows, dtype_name(x.dtype()),
                shape_str(x.shape()), device_name(x.device()));
}

}  // namespace

BinomialSchedule::BinomialSchedule(int64_t steps) : BinomialSchedule(FromBetas{}, paper_betas(steps)) {}

BinomialSchedule BinomialSchedule::from_betas(std::vector<double> betas) { return {FromBetas{}, std::move(betas)}; }

BinomialSchedule::BinomialSchedule(FromBetas, std::vector<double> betas)
    : ForwardBetas(checked_binomial_betas(std::move(betas))) {}

double BinomialSchedule::marginal_rate(int64_t t, int x0) const {
    const double keep = alpha_bar(t);
    return keep * x0 + 0.5 * (1.0 - keep);
}

double BinomialSchedule::posterior_rate(int64_t t, int xt, int x0) const {
    check_step(t, 2);
    const double m = marginal_rate(t - 1, x0), beta = this->beta(t);
    const double stay = 1.0 - 0.5 * beta, flip = 0.5 * beta;  // q(x_t = b | x_{t-1} = b), q(x_t = 1 - b | x_{t-1} = b)
    const double k1 = xt == 1 ? stay : flip, k0 = xt == 1 ? flip : stay;
    return m * k1 / (m * k1 + (1.0 - m) * k0);
}

double binary_entropy(double p) {
    double h = 0.0;
    if (p > 0.0) h -= p * std::log(p);
    if (p < 1.0) h -= (1.0 - p) * std::log1p(-p);
    return h;
}

double binomial_entropy_q_final(const BinomialSchedule& schedule, int64_t d) {
    return static_cast<double>(d) * binary_entropy(0.5 * (1.0 - schedule.alpha_bar(schedule.steps())));
}

double binomial_entropy_q_first(const BinomialSchedule& schedule, int64_t d) {
    return static_cast<double>(d) * binary_entropy(0.5 * schedule.beta(1));
}

double binomial_entropy_p_final(int64_t d) { return static_cast<double>(d) * std::log(2.0); }

Tensor sample_heartbeat(int64_t n, Generator& gen) {
    SWIRL_CHECK(n >= 0, "sample_heartbeat: n must be >= 0, got {}", n);
    Tensor phase = Tensor::empty({n}, DType::f64);
    uniform_(phase, gen);
    Tensor x = Tensor::zeros({n, kHeartbeatBins}, DType::f64);
    const double* u = phase.data<double>();
    double* bits = x.data<double>();
    for (int64_t row = 0; row < n; ++row) {
        const auto first = static_cast<int64_t>(u[row] * kHeartbeatPeriod);
        for (int64_t bin = first; bin < kHeartbeatBins; bin += kHeartbeatPeriod) bits[row * kHeartbeatBins + bin] = 1.0;
    }
    return x;
}

Tensor heartbeat_sequences() {
    Tensor x = Tensor::zeros({kHeartbeatPeriod, kHeartbeatBins}, DType::f64);
    double* bits = x.data<double>();
    for (int64_t phase = 0; phase < kHeartbeatPeriod; ++phase)
        for (int64_t bin = phase; bin < kHeartbeatBins; bin += kHeartbeatPeriod) bits[phase * kHeartbeatBins + bin] = 1.0;
    return x;
}

double heartbeat_null_bits() {
    const double activity = 1.0 / static_cast<double>(kHeartbeatPeriod);
    return -static_cast<double>(kHeartbeatBins) * binary_entropy(activity) / std::log(2.0);
}

Tensor draw_bits(const Tensor& rate, Generator& gen) {
    SWIRL_CHECK(rate.dtype() == DType::f64 && rate.device().is_cpu(), "draw_bits: expected float64 rates on the CPU");
    Tensor u = Tensor::empty(rate.shape(), DType::f64);
    uniform_(u, gen);
    Tensor bits = Tensor::empty(rate.shape(), DType::f64);
    const Tensor& r = rate;
    const double *p = r.data<double>(), *v = u.data<double>();
    double* out = bits.data<double>();
    for (int64_t i = 0; i < rate.numel(); ++i) out[i] = v[i] < p[i] ? 1.0 : 0.0;
    return bits;
}

Tensor binomial_forward(const BinomialSchedule& schedule, const Tensor& x0, const std::vector<int64_t>& steps,
                        Generator& gen) {
    const auto n = static_cast<int64_t>(steps.size());
    check_shape(x0, "binomial_forward: x0", n);
    const int64_t d = x0.dim(1);
    Tensor rate = Tensor::empty(x0.shape(), DType::f64);
    const Tensor& x = x0;
    const double* bits = x.data<double>();
    double* r = rate.data<double>();
    for (int64_t row = 0; row < n; ++row) {
        const double low = schedule.marginal_rate(steps[static_cast<std::size_t>(row)], 0);
        const double high = schedule.marginal_rate(steps[static_cast<std::size_t>(row)], 1);
        for (int64_t j = 0; j < d; ++j) r[row * d + j] = bits[row * d + j] != 0.0 ? high : low;
    }
    return draw_bits(rate, gen);
}

namespace {
// The posterior's rate for x_0 from x0_bits (n d bits) or, where x0_bits is null, x0_bit everywhere.
Tensor posterior_rate(const BinomialSchedule& schedule, const Tensor& xt, const double* x0_bits, int x0_bit,
                      const std::vector<int64_t>& steps) {
    const auto n = static_cast<int64_t>(steps.size());
    const int64_t d = xt.dim(1);
    const double* xt_bits = xt.data<double>();
    Tensor rate = Tensor::empty(xt.shape(), DType::f64);
    double* r = rate.data<double>();
    for (int64_t row = 0; row < n; ++row) {
        const int64_t t = steps[static_cast<std::size_t>(row)];
        // The four posteriors of this step, [xt][x0].
        const double table[2][2] = {{schedule.posterior_rate(t, 0, 0), schedule.posterior_rate(t, 0, 1)},
                                    {schedule.posterior_rate(t, 1, 0), schedule.posterior_rate(t, 1, 1)}};
        for (int64_t j = 0; j < d; ++j) {
            const int b = xt_bits[row * d + j] != 0.0 ? 1 : 0;
            const int a = x0_bits == nullptr ? x0_bit : (x0_bits[row * d + j] != 0.0 ? 1 : 0);
            r[row * d + j] = table[b][a];
        }
    }
    return rate;
}
}  // namespace

Tensor binomial_posterior_rate(const BinomialSchedule& schedule, const Tensor& xt, const Tensor& x0,
                               const std::vector<int64_t>& steps) {
    const auto n = static_cast<int64_t>(steps.size());
    check_shape(xt, "binomial_posterior_rate: xt", n);
    check_shape(x0, "binomial_posterior_rate: x0", n);
    SWIRL_CHECK(x0.dim(1) == xt.dim(1), "binomial_posterior_rate: x0 {} and xt {} differ", shape_str(x0.shape()),
                shape_str(xt.shape()));
    return posterior_rate(schedule, xt, x0.data<double>(), 0, steps);
}

Tensor binomial_posterior_rate(const BinomialSchedule& schedule, const Tensor& xt, const std::vector<int64_t>& steps,
                               int x0_bit) {
    check_shape(xt, "binomial_posterior_rate: xt", static_cast<int64_t>(steps.size()));
    SWIRL_CHECK(x0_bit == 0 || x0_bit == 1, "binomial_posterior_rate: x0_bit must be 0 or 1, got {}", x0_bit);
    return posterior_rate(schedule, xt, nullptr, x0_bit, steps);
}

}  // namespace swirl::diffusion
