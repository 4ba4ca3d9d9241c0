// The reverse model of binomial diffusion (the paper's Appendix D.1.2) and what it is trained and judged by: the
// Bernoulli KL objective, the sampler and the bound K. The network reads x_t (HeadInput) through three layers of
// `hidden` units shared by all steps (HeadActivation), then the step's own readout Linear(hidden, d):
// network_head.0, .2, .4 and network_tail.<t - 1>, the seed's naming. The readouts are free (one per step, the
// paper's heartbeat model) or mixed from a few under temporal bumps (`bumps`, the paper's image models' temporal
// basis). How the readout becomes p(x_{t-1} = 1 | x_t) is the rate parametrization (RateParam). The paper's model
// is sigmoid rate, bits input, sigmoid units, free readouts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diffusion/binomial.h"
#include "diffusion/bound.h"
#include "diffusion/schedule.h"
#include "nn/adam.h"
#include "nn/layers.h"

namespace swirl::diffusion {

// How the readout y of step t becomes the rate p(x_{t-1} = 1 | x_t):
//   sigmoid - the paper's: sigmoid(y);
//   x0      - the model's P(x_0 = 1 | x_t) per bit is pi = sigmoid((1 + L_t) y + (2 x_t - 1) L_t), L_t =
//             log((1 + abar_t) / (1 - abar_t)) (at y = 0: what the bit alone says of x_0, if x_0 were B(0.5); the
//             gain 1 + L_t lets small readouts move pi at every step), and the rate is the forward posterior
//             averaged over it: pi q(x_{t-1} = 1 | x_t, x_0 = 1) + (1 - pi) q(x_{t-1} = 1 | x_t, x_0 = 0). The best
//             rate of any model that factorises over the bits has this form, with the exact P(x_0 | x_t).
enum class RateParam { sigmoid, x0 };
RateParam parse_rate_param(const std::string& name);  // "sigmoid" or "x0"; throws otherwise
const char* rate_param_name(RateParam param);

// What the shared layers read of x_t at step t:
//   bits     - the paper's: x_t as 0/1;
//   evidence - each bit's log-likelihood ratio for x_0, (2 x_t - 1) log((1 + abar_t) / (1 - abar_t)): the log-odds
//              the forward chain gives each bit of x_0 at step t, so that sums over bits in the first layer are
//              log-odds of whole sequences at every step's own scale.
enum class HeadInput { bits, evidence };
HeadInput parse_head_input(const std::string& name);  // "bits" or "evidence"; throws otherwise
const char* head_input_name(HeadInput input);

// The shared layers' activation:
//   sigmoid - the paper's;
//   tanh    - tanh(a) = 2 sigmoid(2 a) - 1: the same functions (a tanh network's weights, rescaled and with biases
//             shifted, are a sigmoid network's; sigmoid_network_weights), with hidden units centred on 0, which
//             Adam fits far better (sigmoid units' mean of about 1/2 couples every weight's gradient to the biases').
enum class HeadActivation { sigmoid, tanh };
HeadActivation parse_head_activation(const std::string& name);  // "sigmoid" or "tanh"; throws otherwise
const char* head_activation_name(HeadActivation activation);

struct BinomialModelConfig {
    int64_t steps = 2000;  // T: one readout per step (step 1's is built and unused, as the seed's tails)
    int64_t data_dim = kHeartbeatBins;
    int64_t hidden = 50;
    RateParam rate = RateParam::x0;
    HeadInput input = HeadInput::evidence;
    HeadActivation activation = HeadActivation::tanh;
    // 0: a free readout per step. N >= 1: step t's readout is sum_j g_j(t) V_j over N readouts V_j (network_bumps)
    // with the temporal bumps g (temporal_bumps): each V_j learns from the rows of every step near its centre, where
    // a free readout sees about batch / T rows a step, and its noise stays in the bound.
    int64_t bumps = 10;
};

// The weights g_j(t), j = 0..n-1, of step t in [1, steps] (they sum to 1): Gaussian bumps
// exp(-(t - c_j)^2 / (2 w^2)) with centres c_j = 1 + j (steps - 1) / (n - 1) and width w their spacing, divided by
// their sum at t. One bump (n = 1) weighs 1 everywhere: one readout for all steps.
std::vector<double> temporal_bumps(int64_t steps, int64_t n, int64_t t);

// How many trained values (weights and biases) the model of `config` holds.
int64_t binomial_model_value_count(const BinomialModelConfig& config);

class BinomialModel : public nn::Module {
public:
    BinomialModel(const BinomialModelConfig& config, Generator& gen, DType dtype = DType::f64,
                  Device device = Device::cpu());

    // The readouts y [B, d] for the shared layers' input [B, d] (HeadInput) whose rows are grouped by step (groups
    // tile [0, B) in order): each group's rows through the shared layers and their step's readout (one
    // autograd::mlp over the groups with fusion on; slice, linear and concat per group off).
    Variable readout(const Variable& input, const std::vector<StepGroup>& groups);
    // p(x_{t-1} = 1 | x_t) [B, d] through the rate parametrization.
    Variable rate(const Variable& xt, const std::vector<StepGroup>& groups, const BinomialSchedule& schedule);
    // Step t's readout as one Linear's weight [d, hidden] and bias [d] (float64, CPU): network_tail.<t - 1>'s, or
    // with bumps their mix sum_j g_j(t) V_j, which a checkpoint stores under network_tail.<t - 1> for readers of the
    // seed's naming.
    std::pair<Tensor, Tensor> step_readout(int64_t t) const;

    const BinomialModelConfig& config() const { return config_; }
    DType dtype() const;
    Device device() const;

    std::shared_ptr<nn::Sequential> network_head;
    std::shared_ptr<nn::ModuleList<nn::Linear>> network_tail;  // free readouts (bumps = 0), else null
    std::shared_ptr<nn::Linear> network_bumps;  // bumps = N: Linear(hidden, N d), rows [j d, (j + 1) d) are V_j; else null

private:
    BinomialModelConfig config_;
};

// The paper's sigmoid network that computes the same readouts as `model` (tanh(a) = 2 sigmoid(2 a) - 1: the first
// layer's weight and bias doubled; a layer after a tanh layer reads 2 W g - W 1 + b of its sigmoid units g, so its
// weight is 4 W and its bias 2 (b - W 1), the readouts' 2 W and b - W 1; bumps' weights sum to 1, so each V_j's
// conversion converts their mix). A sigmoid model is copied as it is.
BinomialModel sigmoid_network(const BinomialModel& model);

// The reverse step as a function: p(x_{t-1} = 1 | x_t) [n, d] (float64, CPU) for rows xt [n, d] all at step t.
// The sampler and the bound take any such function: a trained model's, or an exact one in the tests.
using ReverseRate = std::function<Tensor(const Tensor& xt, int64_t t)>;
ReverseRate model_rate(BinomialModel& model, const BinomialSchedule& schedule);

// The objective for a batch x0 [B, d] (0/1, float64 CPU) whose steps are `groups`: x_t drawn from q(x_t | x_0)
// with gen, then KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) summed over the bits, averaged over the rows and
// times T - 1: an estimate of the KL sum of K per sequence, in nats (a mean over bits would leave Adam gradients
// near its eps: the KLs of one step are about 1e-5).
Variable binomial_objective(BinomialModel& model, const BinomialSchedule& schedule, const Tensor& x0,
                            const std::vector<StepGroup>& groups, Generator& gen);

// One training step: fresh heartbeat data, steps drawn per row (draw_steps), the objective, backward, Adam.
// Returns the loss (a one-element tensor).
Tensor binomial_training_step(BinomialModel& model, nn::Adam& optimizer, const BinomialSchedule& schedule,
                              int64_t batch, Generator& gen);

// The ancestral sampler: x_T ~ B(0.5), then x_{t-1} ~ B(rate(x_t, t)) for t = T..2; x_0 = x_1 (the identity step,
// as the Gaussian sampler's). One draw of n d uniforms per step from gen. binomial_sample keeps only the current
// state (memory: one [n, d] state) and returns x_0; binomial_trajectory keeps every state, trajectory[t] = x_t for
// t = 0..T ((T + 1) n d doubles: for a figure's few rows). Both float64 CPU, the same draws.
Tensor binomial_sample(const ReverseRate& rate, int64_t steps, int64_t n, int64_t d, Generator& gen);
std::vector<Tensor> binomial_trajectory(const ReverseRate& rate, int64_t steps, int64_t n, int64_t d, Generator& gen);

// K (eq. 14) for held-out sequences x0 [n, d]: for each step t = 2..T, x_t drawn from q(x_t | x_0) (one draw per
// step, in that order, from gen), the KL summed over the bits (BoundSum), K per sequence with its standard error,
// and L_null of the heartbeat data (heartbeat_null_bits; the paper's Table 1: K = -2.414, K - L_null = 12.024).
using BinomialBoundReport = BoundParts;
BinomialBoundReport binomial_bound(const ReverseRate& rate, const BinomialSchedule& schedule, const Tensor& x0,
                                   Generator& gen);

}  // namespace swirl::diffusion
