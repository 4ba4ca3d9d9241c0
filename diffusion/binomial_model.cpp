// The binomial reverse model, its objective, sampler and bound.
#include "diffusion/binomial_model.h"

#include <cmath>

#include "autograd/functions.h"
#include "diffusion/bound.h"
#include "diffusion/model.h"
#include "diffusion/objective.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

namespace ag = swirl::autograd;

namespace {

// Each row's step, from groups that tile [0, rows) in order.
std::vector<int64_t> row_steps(const std::vector<StepGroup>& groups, int64_t rows) {
    std::vector<int64_t> steps;
    steps.reserve(static_cast<std::size_t>(rows));
    for (const StepGroup& group : groups) {
        SWIRL_CHECK(group.begin == static_cast<int64_t>(steps.size()) && group.end >= group.begin,
                    "binomial model: step groups must tile the rows in order");
        steps.insert(steps.end(), static_cast<std::size_t>(group.end - group.begin), group.t);
    }
    SWIRL_CHECK(static_cast<int64_t>(steps.size()) == rows, "binomial model: step groups cover {} of {} rows",
                steps.size(), rows);
    return steps;
}

}  // namespace

RateParam parse_rate_param(const std::string& name) {
    if (name == "sigmoid") return RateParam::sigmoid;
    if (name == "x0") return RateParam::x0;
    throw Error(fmt::format("unknown rate parametrization '{}': expected sigmoid or x0", name));
}

const char* rate_param_name(RateParam param) { return param == RateParam::sigmoid ? "sigmoid" : "x0"; }

HeadInput parse_head_input(const std::string& name) {
    if (name == "bits") return HeadInput::bits;
    if (name == "evidence") return HeadInput::evidence;
    throw Error(fmt::format("unknown head input '{}': expected bits or evidence", name));
}

const char* head_input_name(HeadInput input) { return input == HeadInput::bits ? "bits" : "evidence"; }

HeadActivation parse_head_activation(const std::string& name) {
    if (name == "sigmoid") return HeadActivation::sigmoid;
    if (name == "tanh") return HeadActivation::tanh;
    throw Error(fmt::format("unknown head activation '{}': expected sigmoid or tanh", name));
}

const char* head_activation_name(HeadActivation activation) {
    return activation == HeadActivation::sigmoid ? "sigmoid" : "tanh";
}

std::vector<double> temporal_bumps(int64_t steps, int64_t n, int64_t t) {
    SWIRL_CHECK(n >= 1 && steps >= 2 && 1 <= t && t <= steps,
                "temporal_bumps: needs n >= 1 bumps and a step t in [1, {}]; got n = {}, t = {}", steps, n, t);
    if (n == 1) return {1.0};
    const double spacing = static_cast<double>(steps - 1) / static_cast<double>(n - 1);
    std::vector<double> g(static_cast<std::size_t>(n));
    double total = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double z = (static_cast<double>(t) - (1.0 + static_cast<double>(j) * spacing)) / spacing;
        total += g[static_cast<std::size_t>(j)] = std::exp(-0.5 * z * z);
    }
    for (double& weight : g) weight /= total;  // the nearest centre is within half a spacing: total >= exp(-1/8)
    return g;
}

int64_t binomial_model_value_count(const BinomialModelConfig& config) {
    const int64_t d = config.data_dim, h = config.hidden;
    const int64_t readouts = config.bumps > 0 ? config.bumps : config.steps;
    return (d * h + h) + 2 * (h * h + h) + readouts * (h * d + d);
}

BinomialModel::BinomialModel(const BinomialModelConfig& config, Generator& gen, DType dtype, Device device)
    : config_(config) {
    SWIRL_CHECK(config.steps >= 2 && config.data_dim >= 1 && config.hidden >= 1 && config.bumps >= 0 &&
                    config.bumps <= config.steps,
                "BinomialModel: needs steps >= 2, data_dim >= 1, hidden >= 1, 0 <= bumps <= steps; got {}, {}, {}, {}",
                config.steps, config.data_dim, config.hidden, config.bumps);
    network_head = register_module("network_head", std::make_shared<nn::Sequential>());
    int64_t in = config.data_dim;
    for (int layer = 0; layer < 3; ++layer) {
        network_head->push_back(std::make_shared<nn::Linear>(in, config.hidden, gen, dtype, device));
        if (config.activation == HeadActivation::sigmoid)
            network_head->push_back(std::make_shared<nn::Sigmoid>());
        else
            network_head->push_back(std::make_shared<nn::Tanh>());
        in = config.hidden;
    }
    // Every step's readout (every bump's) starts from one draw (torch.nn.Linear's): the shared layers then get one
    // consistent signal from the start, where 2000 independent readouts pull them apart (training stalls for
    // thousands of steps at the loss of a model that reads each bit alone).
    const nn::Linear first(config.hidden, config.data_dim, gen, dtype, device);
    Generator overwritten(0);  // the copies' own draws are replaced by the first's
    if (config.bumps > 0) {
        network_bumps = register_module(
            "network_bumps", std::make_shared<nn::Linear>(config.hidden, config.bumps * config.data_dim, overwritten,
                                                          dtype, device));
        auto repeated = [&](const Tensor& block, const Shape& shape) {  // the block stacked `bumps` times
            const std::vector<double> values = block.to_vector();
            std::vector<double> stacked;
            for (int64_t j = 0; j < config.bumps; ++j) stacked.insert(stacked.end(), values.begin(), values.end());
            return Tensor::from_vector(stacked, shape, dtype, device);
        };
        Tensor weight = network_bumps->weight.data(), bias = network_bumps->bias.data();
        copy_(weight, repeated(first.weight.data(), weight.shape()));
        copy_(bias, repeated(first.bias.data(), bias.shape()));
        return;
    }
    network_tail = register_module("network_tail", std::make_shared<nn::ModuleList<nn::Linear>>());
    for (int64_t t = 1; t <= config.steps; ++t) {
        auto readout = std::make_shared<nn::Linear>(config.hidden, config.data_dim, overwritten, dtype, device);
        Tensor weight = readout->weight.data(), bias = readout->bias.data();
        copy_(weight, first.weight.data());
        copy_(bias, first.bias.data());
        network_tail->push_back(readout);
    }
}

namespace {
const nn::Linear& first_layer(const BinomialModel& model) { return dynamic_cast<nn::Linear&>((*model.network_head)[0]); }
}  // namespace

DType BinomialModel::dtype() const { return first_layer(*this).weight.data().dtype(); }
Device BinomialModel::device() const { return first_layer(*this).weight.data().device(); }

Variable BinomialModel::readout(const Variable& input, const std::vector<StepGroup>& groups) {
    SWIRL_CHECK(!groups.empty(), "BinomialModel: no step groups");
    for (const StepGroup& group : groups)
        SWIRL_CHECK(2 <= group.t && group.t <= config_.steps, "BinomialModel: step t = {} is out of range [2, {}]",
                    group.t, config_.steps);
    const Variable h = network_head->forward(input);
    if (network_bumps) {
        // Every bump's readout of every row, [B, N d], weighed by the row's step's g_j (each weight repeated over
        // bump j's d columns), then the N blocks summed by a stack of identities [N d, d].
        const int64_t n = config_.bumps, d = config_.data_dim, rows = input.data().dim(0);
        Tensor weights = Tensor::empty({rows, n * d}, DType::f64);
        double* w = weights.data<double>();
        for (const StepGroup& group : groups) {
            const std::vector<double> g = temporal_bumps(config_.steps, n, group.t);
            for (int64_t row = group.begin; row < group.end; ++row)
                for (int64_t j = 0; j < n; ++j) std::fill_n(w + (row * n + j) * d, d, g[static_cast<std::size_t>(j)]);
        }
        Tensor blocks = Tensor::zeros({n * d, d}, DType::f64);
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < d; ++i) blocks.data<double>()[(j * d + i) * d + i] = 1.0;
        const DType dtype = this->dtype();
        const Device device = this->device();
        return ag::matmul(ag::mul(network_bumps->forward(h), Variable(weights.to(dtype).to(device))),
                          Variable(blocks.to(dtype).to(device)));
    }
    auto tail = [&](int64_t t) -> nn::Linear& { return (*network_tail)[static_cast<std::size_t>(t - 1)]; };
    if (!nn::fusion_enabled()) return forward_by_step(h, groups, [&](int64_t t) -> nn::Layer& { return tail(t); });
    // Every group's readout as a one-layer path of one autograd::mlp.
    std::vector<ag::DenseLayer> layers;
    std::vector<MlpGroup> rows;
    for (const StepGroup& group : groups) {
        rows.push_back({group.begin, group.end, {layers.size()}});
        layers.push_back({tail(group.t).weight, tail(group.t).bias, false});
    }
    return ag::mlp(h, layers, rows);
}

Variable BinomialModel::rate(const Variable& xt, const std::vector<StepGroup>& groups, const BinomialSchedule& schedule) {
    SWIRL_CHECK(schedule.steps() == config_.steps, "BinomialModel: a schedule of {} steps for a model of {}",
                schedule.steps(), config_.steps);
    const Tensor x = xt.data().to(DType::f64).to(Device::cpu());
    const std::vector<int64_t> steps = row_steps(groups, x.dim(0));
    const DType dtype = xt.data().dtype();
    const Device device = xt.data().device();
    const bool x0_rate = config_.rate == RateParam::x0;
    const int64_t rows = x.dim(0), d = x.dim(1);
    // Each bit's evidence for x_0 = 1, +-L_t with L_t = log((1 + abar_t) / (1 - abar_t)): the head's input with
    // HeadInput::evidence, and the x0 rate's prior term; the x0 rate's gain is 1 + L_t. Built only where read.
    Tensor evidence, gain;
    if (config_.input == HeadInput::evidence || x0_rate) {
        evidence = Tensor::empty(x.shape(), DType::f64);
        if (x0_rate) gain = Tensor::empty(x.shape(), DType::f64);
        const double* bits = x.data<double>();
        double *e = evidence.data<double>(), *g = x0_rate ? gain.data<double>() : nullptr;
        for (int64_t row = 0; row < rows; ++row) {
            const double keep = schedule.alpha_bar(steps[static_cast<std::size_t>(row)]);
            const double log_odds = std::log1p(keep) - std::log1p(-keep);
            for (int64_t j = row * d; j < (row + 1) * d; ++j) {
                e[j] = bits[j] != 0.0 ? log_odds : -log_odds;
                if (g != nullptr) g[j] = 1.0 + log_odds;
            }
        }
    }
    const Variable evidence_in = evidence.defined() ? Variable(evidence.to(dtype).to(device)) : Variable();
    const Variable y = readout(config_.input == HeadInput::bits ? xt : evidence_in, groups);
    if (!x0_rate) return ag::sigmoid(y);
    // x0: pi = sigmoid((1 + L_t) y + the bit's evidence), then the posterior's rate at x_0 = 0 plus pi times the
    // step to x_0 = 1.
    const Tensor low = binomial_posterior_rate(schedule, x, steps, 0);
    const Tensor high = binomial_posterior_rate(schedule, x, steps, 1);
    const Variable pi = ag::sigmoid(ag::add(ag::mul(y, Variable(gain.to(dtype).to(device))), evidence_in));
    return ag::add(Variable(low.to(dtype).to(device)), ag::mul(pi, Variable(sub(high, low).to(dtype).to(device))));
}

std::pair<Tensor, Tensor> BinomialModel::step_readout(int64_t t) const {
    SWIRL_CHECK(1 <= t && t <= config_.steps, "BinomialModel: step t = {} is out of range [1, {}]", t, config_.steps);
    if (!network_bumps) {
        const nn::Linear& tail = (*network_tail)[static_cast<std::size_t>(t - 1)];
        return {tail.weight.data().to(DType::f64).to(Device::cpu()), tail.bias.data().to(DType::f64).to(Device::cpu())};
    }
    const int64_t d = config_.data_dim, h = config_.hidden;
    const Tensor all_w = network_bumps->weight.data().to(DType::f64).to(Device::cpu());
    const Tensor all_b = network_bumps->bias.data().to(DType::f64).to(Device::cpu());
    Tensor weight = Tensor::zeros({d, h}, DType::f64), bias = Tensor::zeros({d}, DType::f64);
    const std::vector<double> g = temporal_bumps(config_.steps, config_.bumps, t);
    for (int64_t j = 0; j < config_.bumps; ++j) {
        const double gj = g[static_cast<std::size_t>(j)];
        for (int64_t k = 0; k < d * h; ++k) weight.data<double>()[k] += gj * all_w.data<double>()[j * d * h + k];
        for (int64_t i = 0; i < d; ++i) bias.data<double>()[i] += gj * all_b.data<double>()[j * d + i];
    }
    return {weight, bias};
}

BinomialModel sigmoid_network(const BinomialModel& model) {
    BinomialModelConfig config = model.config();
    config.activation = HeadActivation::sigmoid;
    Generator unused(0);  // every value is set below
    BinomialModel out(config, unused, model.dtype(), model.device());
    const bool from_tanh = model.config().activation == HeadActivation::tanh;
    // weight' = weight_scale W, bias' = bias_scale (b - shift W 1).
    auto convert = [&](const nn::Linear& from, nn::Linear& to, double weight_scale, double bias_scale, bool shift) {
        const Tensor w = from.weight.data(), b = from.bias.data();
        Tensor weight = to.weight.data(), bias = to.bias.data();
        copy_(weight, from_tanh ? scale(w, weight_scale) : w);
        copy_(bias, from_tanh ? scale(shift ? sub(b, sum(w, 1).reshape(b.shape())) : b, bias_scale) : b);
    };
    auto head = [](const BinomialModel& m, std::size_t layer) -> nn::Linear& {
        return dynamic_cast<nn::Linear&>((*m.network_head)[2 * layer]);
    };
    for (std::size_t layer = 0; layer < 3; ++layer)
        convert(head(model, layer), head(out, layer), layer == 0 ? 2.0 : 4.0, 2.0, layer > 0);
    if (model.network_bumps) convert(*model.network_bumps, *out.network_bumps, 2.0, 1.0, true);  // row by row
    else
        for (std::size_t t = 0; t < out.network_tail->size(); ++t)
            convert((*model.network_tail)[t], (*out.network_tail)[t], 2.0, 1.0, true);
    return out;
}

ReverseRate model_rate(BinomialModel& model, const BinomialSchedule& schedule) {
    return [&model, &schedule](const Tensor& xt, int64_t t) {
        NoGradGuard no_grad;
        const Variable x(xt.to(model.dtype()).to(model.device()));
        return model.rate(x, {{t, 0, xt.dim(0)}}, schedule).data().to(DType::f64).to(Device::cpu());
    };
}

Variable binomial_objective(BinomialModel& model, const BinomialSchedule& schedule, const Tensor& x0,
                            const std::vector<StepGroup>& groups, Generator& gen) {
    const std::vector<int64_t> steps = row_steps(groups, x0.dim(0));
    const Tensor xt = binomial_forward(schedule, x0, steps, gen);
    const Tensor rate_q = binomial_posterior_rate(schedule, xt, x0, steps);
    const DType dtype = model.dtype();
    const Device device = model.device();
    const Variable rate_p = model.rate(Variable(xt.to(dtype).to(device)), groups, schedule);
    // sum over bits, mean over rows, times the T - 1 steps: sum_t KL_t per sequence, as in K.
    const double scale = static_cast<double>(x0.dim(1) * (schedule.steps() - 1));
    return ag::scale(ag::mean(ag::bernoulli_kl(Variable(rate_q.to(dtype).to(device)), rate_p)), scale);
}

Tensor binomial_training_step(BinomialModel& model, nn::Adam& optimizer, const BinomialSchedule& schedule,
                              int64_t batch, Generator& gen) {
    const Tensor x0 = sample_heartbeat(batch, gen);
    const std::vector<StepGroup> groups = draw_steps(batch, schedule.steps(), TSampling::sample, gen);
    optimizer.zero_grad();
    Variable loss = binomial_objective(model, schedule, x0, groups, gen);
    loss.backward();
    optimizer.step();
    return loss.data();
}

namespace {
// The chain from x_T down to x_1, calling visit(t, x_t) for t = T..1.
void run_chain(const ReverseRate& rate, int64_t steps, int64_t n, int64_t d, Generator& gen,
               const std::function<void(int64_t, const Tensor&)>& visit) {
    SWIRL_CHECK(steps >= 2 && n >= 0 && d >= 1, "binomial sampler: needs steps >= 2, n >= 0, d >= 1; got {}, {}, {}",
                steps, n, d);
    Tensor xt = draw_bits(Tensor::full({n, d}, 0.5, DType::f64), gen);
    visit(steps, xt);
    for (int64_t t = steps; t >= 2; --t) {
        const Tensor p = rate(xt, t);
        SWIRL_CHECK(p.shape() == xt.shape(), "binomial sampler: the rate of step {} is {}, expected {}", t,
                    shape_str(p.shape()), shape_str(xt.shape()));
        xt = draw_bits(p, gen);
        visit(t - 1, xt);
    }
}
}  // namespace

Tensor binomial_sample(const ReverseRate& rate, int64_t steps, int64_t n, int64_t d, Generator& gen) {
    Tensor last;
    run_chain(rate, steps, n, d, gen, [&](int64_t, const Tensor& xt) { last = xt; });
    return last;
}

std::vector<Tensor> binomial_trajectory(const ReverseRate& rate, int64_t steps, int64_t n, int64_t d, Generator& gen) {
    std::vector<Tensor> trajectory(static_cast<std::size_t>(steps + 1));
    run_chain(rate, steps, n, d, gen, [&](int64_t t, const Tensor& xt) { trajectory[static_cast<std::size_t>(t)] = xt; });
    trajectory[0] = trajectory[1];
    return trajectory;
}

BinomialBoundReport binomial_bound(const ReverseRate& rate, const BinomialSchedule& schedule, const Tensor& x0,
                                   Generator& gen) {
    SWIRL_CHECK(x0.rank() == 2 && x0.dim(0) >= 2, "binomial_bound: expected at least 2 sequences [n, d], got {}",
                shape_str(x0.shape()));
    const int64_t n = x0.dim(0), d = x0.dim(1), steps = schedule.steps();
    BinomialBoundReport report;
    report.H_q_T = binomial_entropy_q_final(schedule, d);
    report.H_q_1 = binomial_entropy_q_first(schedule, d);
    report.H_p_T = binomial_entropy_p_final(d);
    BoundSum bound(n, steps);
    NoGradGuard no_grad;
    for (int64_t t = 2; t <= steps; ++t) {
        const std::vector<int64_t> at_t(static_cast<std::size_t>(n), t);
        const Tensor xt = binomial_forward(schedule, x0, at_t, gen);
        const Tensor q = binomial_posterior_rate(schedule, xt, x0, at_t);
        bound.add_step(t, swirl::sum(ag::bernoulli_kl(Variable(q), Variable(rate(xt, t))).data(), 1).to_vector());
    }
    bound.finish(report);
    report.L_null_bits = heartbeat_null_bits();
    report.K_minus_L_null_bits = report.K_bits - report.L_null_bits;
    return report;
}

}  // namespace swirl::diffusion
