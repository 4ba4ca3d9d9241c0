// Binomial diffusion and the heartbeat (diffusion/binomial.h, diffusion/binomial_model.h): the schedule and the
// posterior against the forward chain iterated by hand, the entropies, the data, the KL, the model's two rates,
// gradient checks, the bound with the exact reverse rate of a factorised model, the sampler, and checkpoints.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "diffusion/binomial_model.h"
#include "diffusion/checkpoint.h"
#include "diffusion/objective.h"
#include "helpers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
using namespace swirl::diffusion;
namespace ag = swirl::autograd;

namespace {

// P(x_t = 1 | x_0) by running the forward chain's transition t times on the distribution of one bit.
double chain_marginal(const BinomialSchedule& schedule, int64_t t, int x0) {
    double p1 = x0;
    for (int64_t s = 1; s <= t; ++s) p1 = p1 * (1.0 - schedule.beta(s)) + 0.5 * schedule.beta(s);
    return p1;
}

// q(x_t = b | x_{t-1} = a): keep with 1 - beta, else a fair coin.
double transition(const BinomialSchedule& schedule, int64_t t, int a, int b) {
    const double to_one = a * (1.0 - schedule.beta(t)) + 0.5 * schedule.beta(t);
    return b == 1 ? to_one : 1.0 - to_one;
}

// The five sequences' posterior given x_t, and from it the best rate of a factorised reverse model:
// sum_k P(s_k | x_t) q(x_{t-1} = 1 | x_t, x_0 = s_k), bit by bit.
ReverseRate exact_factorised_rate(const BinomialSchedule& schedule) {
    return [&schedule](const Tensor& xt, int64_t t) {
        const std::vector<double> truth = heartbeat_sequences().to_vector(), x = xt.to_vector();
        const int64_t n = xt.dim(0), d = xt.dim(1);
        std::vector<double> rate(static_cast<std::size_t>(n * d));
        const double high = schedule.marginal_rate(t, 1), low = schedule.marginal_rate(t, 0);
        for (int64_t row = 0; row < n; ++row) {
            std::array<double, kHeartbeatPeriod> log_w{}, w{};
            double top = -1e300, total = 0.0;
            for (int64_t k = 0; k < kHeartbeatPeriod; ++k) {
                for (int64_t j = 0; j < d; ++j) {
                    const double p1 = truth[static_cast<std::size_t>(k * d + j)] != 0.0 ? high : low;
                    log_w[static_cast<std::size_t>(k)] += std::log(x[static_cast<std::size_t>(row * d + j)] != 0.0 ? p1 : 1.0 - p1);
                }
                top = std::max(top, log_w[static_cast<std::size_t>(k)]);
            }
            for (std::size_t k = 0; k < w.size(); ++k) total += w[k] = std::exp(log_w[k] - top);
            for (int64_t j = 0; j < d; ++j) {
                const int b = x[static_cast<std::size_t>(row * d + j)] != 0.0 ? 1 : 0;
                double r = 0.0;
                for (int64_t k = 0; k < kHeartbeatPeriod; ++k)
                    r += w[static_cast<std::size_t>(k)] / total *
                         schedule.posterior_rate(t, b, truth[static_cast<std::size_t>(k * d + j)] != 0.0 ? 1 : 0);
                rate[static_cast<std::size_t>(row * d + j)] = r;
            }
        }
        return Tensor::from_vector(rate, xt.shape(), DType::f64);
    };
}

std::string temp_file(const char* name) {
    return (std::filesystem::temp_directory_path() / fmt::format("swirl_{}_{}.safetensors", name, ::getpid())).string();
}

// The checkpoint's model has the weights of `model`, and Adam's state loads into an optimizer of its parameters.
void check_restores(const BinomialCheckpoint& checkpoint, const BinomialModel& model) {
    BinomialModel restored = binomial_model_from_checkpoint(checkpoint, DType::f64, Device::cpu());
    REQUIRE(restored.parameters().size() == model.parameters().size());
    for (std::size_t i = 0; i < model.parameters().size(); ++i)
        CHECK(restored.parameters()[i].data().to_vector() == model.parameters()[i].data().to_vector());
    nn::Adam restored_adam(restored.parameters(), {.lr = 1e-3});
    load_binomial_optimizer_state(checkpoint, restored_adam);
}

}  // namespace

TEST_CASE("the paper's binomial schedule: beta_t = 1 / (T - t + 1), abar_t = (T - t) / T, x_T is B(0.5) exactly") {
    const BinomialSchedule schedule(2000);
    CHECK(schedule.steps() == 2000);
    CHECK(schedule.beta(1) == doctest::Approx(1.0 / 2000).epsilon(1e-15));
    CHECK(schedule.beta(2000) == 1.0);
    for (int64_t t : {0, 1, 2, 7, 1000, 1999})
        CHECK(schedule.alpha_bar(t) == doctest::Approx(static_cast<double>(2000 - t) / 2000).epsilon(1e-12));
    CHECK(schedule.alpha_bar(2000) == 0.0);
    CHECK(schedule.marginal_rate(2000, 0) == 0.5);
    CHECK(schedule.marginal_rate(2000, 1) == 0.5);
    CHECK_THROWS_WITH_AS(BinomialSchedule::from_betas({0.1, 0.0}), doctest::Contains("beta_2 = 0"), Error);
    CHECK_THROWS_WITH_AS(BinomialSchedule::from_betas({1.0, 0.5}), doctest::Contains("beta_1 = 1"), Error);
    CHECK_THROWS_WITH_AS(BinomialSchedule(1), doctest::Contains("at least 2 steps"), Error);
    CHECK_THROWS_AS(schedule.posterior_rate(1, 0, 0), Error);
}

TEST_CASE("the marginal and the posterior equal the forward chain's, iterated and inverted by Bayes' rule") {
    const BinomialSchedule schedule = BinomialSchedule::from_betas({0.05, 0.3, 0.12, 0.6, 1.0});
    for (int64_t t = 1; t <= 5; ++t)
        for (int x0 : {0, 1}) CHECK(schedule.marginal_rate(t, x0) == doctest::Approx(chain_marginal(schedule, t, x0)).epsilon(1e-14));
    for (int64_t t = 2; t <= 5; ++t)
        for (int xt : {0, 1})
            for (int x0 : {0, 1}) {
                // q(x_{t-1} = a | x_t, x_0) ∝ q(x_t | x_{t-1} = a) q(x_{t-1} = a | x_0)
                const double m = chain_marginal(schedule, t - 1, x0);
                const double one = transition(schedule, t, 1, xt) * m, zero = transition(schedule, t, 0, xt) * (1.0 - m);
                CHECK(schedule.posterior_rate(t, xt, x0) == doctest::Approx(one / (one + zero)).epsilon(1e-14));
            }
}

TEST_CASE("the entropies of K for the paper's schedule: d log 2, d H_b(1 / 2T), d log 2") {
    const BinomialSchedule schedule(2000);
    CHECK(binomial_entropy_q_final(schedule, 20) == doctest::Approx(20 * std::log(2.0)).epsilon(1e-15));
    CHECK(binomial_entropy_p_final(20) == doctest::Approx(20 * std::log(2.0)).epsilon(1e-15));
    const double p = 1.0 / 4000;
    CHECK(binomial_entropy_q_first(schedule, 20) ==
          doctest::Approx(-20 * (p * std::log(p) + (1 - p) * std::log(1 - p))).epsilon(1e-13));
    CHECK(binary_entropy(0.0) == 0.0);
    CHECK(binary_entropy(1.0) == 0.0);
    CHECK(binary_entropy(0.5) == doctest::Approx(std::log(2.0)).epsilon(1e-15));
}

TEST_CASE("heartbeat data: every row is one of the five sequences, each phase about a fifth, L_null -14.439 bits") {
    Generator gen(3);
    const int64_t n = 20000;
    const std::vector<double> x = sample_heartbeat(n, gen).to_vector(), truth = heartbeat_sequences().to_vector();
    std::array<int64_t, kHeartbeatPeriod> count{};
    for (int64_t row = 0; row < n; ++row) {
        int matches = 0;
        for (int64_t k = 0; k < kHeartbeatPeriod; ++k)
            if (std::equal(x.begin() + row * 20, x.begin() + row * 20 + 20, truth.begin() + k * 20)) {
                ++matches;
                ++count[static_cast<std::size_t>(k)];
            }
        REQUIRE(matches == 1);
    }
    // Binomial(n, 1/5): sd 56.6; five sd either side.
    for (int64_t c : count) CHECK(std::abs(static_cast<double>(c) - n / 5.0) < 5 * std::sqrt(n * 0.2 * 0.8));
    // Sequence k has its 1s at k, k + 5, k + 10, k + 15.
    CHECK(truth[0] == 1.0);
    CHECK(truth[5] == 1.0);
    CHECK(truth[1] == 0.0);
    CHECK(truth[1 * 20 + 1] == 1.0);
    CHECK(truth[4 * 20 + 19] == 1.0);
    const double h = -(0.2 * std::log2(0.2) + 0.8 * std::log2(0.8));
    CHECK(heartbeat_null_bits() == doctest::Approx(-20 * h).epsilon(1e-14));
    CHECK(heartbeat_null_bits() == doctest::Approx(-14.439).epsilon(1e-4));
}

TEST_CASE("bernoulli_kl is the KL of two Bernoullis, zero at equal rates") {
    const Tensor q = Tensor::from_vector({0.2, 0.5, 0.9}, {3}, DType::f64), p = Tensor::from_vector({0.2, 0.1, 0.99}, {3}, DType::f64);
    const std::vector<double> kl = ag::bernoulli_kl(Variable(q), Variable(p)).data().to_vector();
    CHECK(kl[0] == doctest::Approx(0.0).epsilon(1e-15));
    CHECK(kl[1] == doctest::Approx(0.5 * std::log(5.0) + 0.5 * std::log(0.5 / 0.9)).epsilon(1e-14));
    CHECK(kl[2] == doctest::Approx(0.9 * std::log(0.9 / 0.99) + 0.1 * std::log(0.1 / 0.01)).epsilon(1e-14));
}

TEST_CASE("the model's rates, with either input and readout: sigmoid is the readout's sigmoid, x0 mixes the posterior "
          "through pi") {
    const BinomialSchedule schedule(6);
    Generator gen(5), values(6);
    for (int64_t bumps : {0, 3})
    for (HeadInput input : {HeadInput::bits, HeadInput::evidence})
        for (RateParam param : {RateParam::sigmoid, RateParam::x0}) {
            BinomialModel model(
                {.steps = 6, .data_dim = 4, .hidden = 3, .rate = param, .input = input, .bumps = bumps}, gen);
            for (const Variable& v : model.parameters()) {  // the bumps' readouts apart, as after training
                Tensor data = v.data();
                normal_(data, values, 0.0, 1.0);
            }
            const Tensor xt = Tensor::from_vector({1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0}, {3, 4}, DType::f64);
            const std::vector<StepGroup> groups{{2, 0, 1}, {4, 1, 3}};
            const std::vector<double> bits = xt.to_vector();
            auto step_of = [](std::size_t i) -> int64_t { return i < 4 ? 2 : 4; };
            auto log_odds = [&](int64_t t) {
                const double abar = schedule.alpha_bar(t);
                return std::log((1 + abar) / (1 - abar));
            };
            // The shared layers' input: the bits, or each bit's evidence +-L_t.
            std::vector<double> head_input = bits;
            if (input == HeadInput::evidence)
                for (std::size_t i = 0; i < bits.size(); ++i)
                    head_input[i] = (bits[i] != 0.0 ? 1.0 : -1.0) * log_odds(step_of(i));
            const Tensor in = Tensor::from_vector(head_input, {3, 4}, DType::f64);
            const std::vector<double> y = model.readout(Variable(in), groups).data().to_vector();
            const std::vector<double> rate = model.rate(Variable(xt), groups, schedule).data().to_vector();
            for (std::size_t i = 0; i < rate.size(); ++i) {
                const int64_t t = step_of(i);
                const int b = bits[i] != 0.0 ? 1 : 0;
                double expected = 1.0 / (1.0 + std::exp(-y[i]));
                if (param == RateParam::x0) {
                    const double l = log_odds(t);
                    const double pi = 1.0 / (1.0 + std::exp(-(y[i] * (1 + l) + (b ? l : -l))));
                    expected = pi * schedule.posterior_rate(t, b, 1) + (1 - pi) * schedule.posterior_rate(t, b, 0);
                }
                CHECK(rate[i] == doctest::Approx(expected).epsilon(1e-13));
            }
            // The readout of a row is its own step's Linear (step_readout: with bumps their mix, summed in a plain
            // loop) on the shared layers.
            const std::vector<double> h = model.network_head->forward(Variable(in)).data().to_vector();
            for (std::size_t row = 0; row < 3; ++row) {
                const auto [weight, bias] = model.step_readout(step_of(row * 4));
                const std::vector<double> w = weight.to_vector(), b = bias.to_vector();
                for (std::size_t i = 0; i < 4; ++i) {
                    double expected = b[i];
                    for (std::size_t k = 0; k < 3; ++k) expected += w[i * 3 + k] * h[row * 3 + k];
                    CHECK(y[row * 4 + i] == doctest::Approx(expected).epsilon(1e-13));
                }
            }
            // Fused and plain agree.
            nn::set_fusion_enabled(false);
            const std::vector<double> plain = model.readout(Variable(in), groups).data().to_vector();
            nn::set_fusion_enabled(true);
            for (std::size_t i = 0; i < y.size(); ++i) CHECK(plain[i] == doctest::Approx(y[i]).epsilon(1e-13));
        }
}

TEST_CASE("temporal bumps: positive weights summing to 1, Gaussians of their spacing's width around their centres") {
    CHECK(temporal_bumps(2000, 1, 1) == std::vector<double>{1.0});
    CHECK(temporal_bumps(2000, 1, 2000) == std::vector<double>{1.0});
    // steps 3, 3 bumps: centres 1, 2, 3 with width 1; at t = 2 the weights are e^-1/2, 1, e^-1/2 over their sum.
    const std::vector<double> middle = temporal_bumps(3, 3, 2);
    const double side = std::exp(-0.5), total = 1.0 + 2.0 * side;
    REQUIRE(middle.size() == 3);
    CHECK(middle[0] == doctest::Approx(side / total).epsilon(1e-15));
    CHECK(middle[1] == doctest::Approx(1.0 / total).epsilon(1e-15));
    CHECK(middle[2] == doctest::Approx(side / total).epsilon(1e-15));
    for (int64_t t : {1, 2, 500, 999, 1000, 1001, 1777, 2000}) {
        const std::vector<double> g = temporal_bumps(2000, 10, t), mirrored = temporal_bumps(2000, 10, 2001 - t);
        double sum = 0.0;
        for (std::size_t j = 0; j < g.size(); ++j) {
            CHECK(g[j] > 0.0);
            CHECK(g[j] == doctest::Approx(mirrored[g.size() - 1 - j]).epsilon(1e-13));  // the centres are symmetric
            sum += g[j];
        }
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-15));
    }
    // At a centre its own bump weighs most; halfway between two centres the two weigh the same.
    const std::vector<double> at_centre = temporal_bumps(10, 4, 4), halfway = temporal_bumps(10, 4, 7);  // centres 1, 4, 7, 10
    CHECK(std::max_element(at_centre.begin(), at_centre.end()) - at_centre.begin() == 1);
    CHECK(std::max_element(halfway.begin(), halfway.end()) - halfway.begin() == 2);
    const std::vector<double> between = temporal_bumps(11, 3, 4);  // centres 1, 6, 11: t = 4 is nearer 6
    CHECK(between[1] > between[0]);
    CHECK_THROWS_WITH_AS(temporal_bumps(2000, 0, 5), doctest::Contains("needs n >= 1"), Error);
    CHECK_THROWS_WITH_AS(temporal_bumps(2000, 10, 2001), doctest::Contains("[1, 2000]"), Error);
}

TEST_CASE("a model with bumps starts as the model with a readout per step: the same rates from the same seed") {
    const BinomialSchedule schedule(7);
    Generator free_init(21), bumps_init(21), data(22);
    BinomialModel free({.steps = 7, .data_dim = 5, .hidden = 4, .bumps = 0}, free_init);
    BinomialModel mixed({.steps = 7, .data_dim = 5, .hidden = 4, .bumps = 3}, bumps_init);
    CHECK(mixed.network_tail == nullptr);
    CHECK(free.network_bumps == nullptr);
    CHECK(binomial_model_value_count(mixed.config()) == (5 * 4 + 4) + 2 * (4 * 4 + 4) + 3 * (4 * 5 + 5));
    const Tensor xt = draw_bits(Tensor::full({6, 5}, 0.5, DType::f64), data);
    const std::vector<StepGroup> groups{{2, 0, 2}, {5, 2, 3}, {7, 3, 6}};
    const std::vector<double> a = free.rate(Variable(xt), groups, schedule).data().to_vector();
    const std::vector<double> b = mixed.rate(Variable(xt), groups, schedule).data().to_vector();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-14));
    CHECK_THROWS_WITH_AS(BinomialModel({.steps = 7, .bumps = 8}, data), doctest::Contains("0 <= bumps <= steps"), Error);
}

TEST_CASE("a tanh model is the paper's sigmoid network with other weights: sigmoid_network gives the same rates") {
    const BinomialSchedule schedule(5);
    Generator init(11), data(12);
    for (int64_t bumps : {0, 3})
    for (HeadInput input : {HeadInput::bits, HeadInput::evidence}) {
        BinomialModel model({.steps = 5, .data_dim = 6, .hidden = 4, .input = input, .bumps = bumps}, init);
        REQUIRE(model.config().activation == HeadActivation::tanh);
        for (const Variable& v : model.parameters()) {
            Tensor values = v.data();
            normal_(values, data, 0.0, 1.5);  // far from the initial scale
        }
        BinomialModel sigmoid = sigmoid_network(model);
        CHECK(sigmoid.config().activation == HeadActivation::sigmoid);
        CHECK(dynamic_cast<nn::Sigmoid*>(&(*sigmoid.network_head)[1]) != nullptr);
        const Tensor xt = draw_bits(Tensor::full({9, 6}, 0.5, DType::f64), data);
        const std::vector<StepGroup> groups{{2, 0, 3}, {3, 3, 5}, {5, 5, 9}};
        const std::vector<double> from_tanh = model.rate(Variable(xt), groups, schedule).data().to_vector();
        const std::vector<double> from_sigmoid =
            sigmoid.rate(Variable(xt), groups, schedule).data().to_vector();
        for (std::size_t i = 0; i < from_tanh.size(); ++i)
            CHECK(from_sigmoid[i] == doctest::Approx(from_tanh[i]).epsilon(1e-12));
        const std::vector<double> y = model.readout(Variable(xt), groups).data().to_vector();
        double spread = 0.0;
        for (double v : y) spread = std::max(spread, std::abs(v));
        CHECK(spread > 1.0);  // the weights are far from 0, where any two models would agree
    }
}

TEST_CASE("the binomial objective passes gradcheck in every parameter, every rate, input, activation and readout, "
          "fused and plain") {
    const BinomialSchedule schedule(4);
    for (int64_t bumps : {0, 3})
    for (HeadActivation activation : {HeadActivation::sigmoid, HeadActivation::tanh})
    for (HeadInput input : {HeadInput::bits, HeadInput::evidence})
    for (RateParam param : {RateParam::sigmoid, RateParam::x0})
        for (bool fused : {true, false}) {
            nn::set_fusion_enabled(fused);
            Generator init(7);
            BinomialModel model({.steps = 4, .data_dim = 3, .hidden = 2, .rate = param, .input = input,
                                 .activation = activation, .bumps = bumps},
                                init);
            std::vector<Tensor> values;
            for (const Variable& v : model.parameters()) values.push_back(v.data().clone());
            Generator data_gen(8);
            const Tensor x0 = Tensor::from_vector({1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0}, {4, 3}, DType::f64);
            const std::vector<StepGroup> groups{{2, 0, 2}, {3, 2, 3}, {4, 3, 4}};
            const ag::GradcheckFunction objective = [&](const std::vector<Variable>& in) {
                    // The inputs themselves become the layers' weights and biases (in named_parameters' order), so
                    // that the gradients reach them.
                    std::size_t next = 0;
                    auto take = [&](nn::Linear& linear) {
                        linear.weight = in[next++];
                        linear.bias = in[next++];
                    };
                    for (std::size_t layer = 0; layer < 6; layer += 2) take(dynamic_cast<nn::Linear&>((*model.network_head)[layer]));
                    if (model.network_bumps) take(*model.network_bumps);
                    else
                        for (std::size_t step = 0; step < 4; ++step) take((*model.network_tail)[step]);
                    Generator gen = data_gen;  // the same x_t every call
                    return binomial_objective(model, schedule, x0, groups, gen);
            };
            const ag::GradcheckReport report = ag::gradcheck(objective, values);
            // The check has something to compare: every layer the rows reach gets a gradient that is not zero (a
            // function that ignored its inputs would pass with zeros on both sides).
            std::vector<Variable> inputs;
            for (const Tensor& v : values) inputs.emplace_back(v.clone(), true);
            objective(inputs).backward();
            nn::set_fusion_enabled(true);
            CHECK_MESSAGE(report.ok, rate_param_name(param), " ", head_input_name(input), " ",
                          head_activation_name(activation), " bumps ", bumps, fused ? " fused: " : " plain: ",
                          report.summary());
            // The shared layers, and the readouts of steps 2..4 (step 1's is unused) or the bumps' readout.
            std::vector<std::size_t> reached{0, 1, 2, 3, 4, 5};
            if (bumps == 0) reached.insert(reached.end(), {8, 9, 10, 11, 12, 13});
            else reached.insert(reached.end(), {6, 7});
            for (std::size_t i : reached) {
                REQUIRE(inputs[i].grad().defined());
                double norm = 0.0;
                for (double g : inputs[i].grad().to_vector()) norm += g * g;
                CHECK(norm > 0.0);
            }
            // Every bump's rows of the readout (its block of d = 3) get a gradient.
            if (bumps > 0)
                for (int64_t j = 0; j < bumps; ++j) {
                    double norm = 0.0;
                    const std::vector<double> grad = inputs[6].grad().to_vector();
                    for (int64_t k = j * 3 * 2; k < (j + 1) * 3 * 2; ++k) norm += grad[static_cast<std::size_t>(k)] * grad[static_cast<std::size_t>(k)];
                    CHECK(norm > 0.0);
                }
        }
}

TEST_CASE("the bound with the exact factorised reverse rate is within a bit's hundredths of -log2 5, and below it") {
    // K <= E log p(x_0) <= -log2 5 for any model; the best factorised reverse model loses little of it.
    const BinomialSchedule schedule(2000);
    Generator data_gen(21), noise_gen(22);
    const Tensor x0 = sample_heartbeat(200, data_gen);
    const BinomialBoundReport report = binomial_bound(exact_factorised_rate(schedule), schedule, x0, noise_gen);
    const double exact = -std::log2(5.0);
    CHECK(report.K_se_bits > 0.0);
    CHECK(report.K_se_bits < 0.03);
    CHECK(report.K_bits < exact + 3 * report.K_se_bits);
    CHECK(report.K_bits > exact - 0.1);
    CHECK(report.K_minus_L_null_bits == doctest::Approx(report.K_bits + 14.4385).epsilon(1e-4));
    // The entropy terms are those of the paper's schedule, and the per-step KLs add up to the rest of K.
    double kl = 0.0;
    for (double v : report.kl_per_step_bits) kl += v;
    CHECK(report.K_bits == doctest::Approx(-kl + (report.H_q_T - report.H_q_1 - report.H_p_T) / std::log(2.0)).epsilon(1e-12));
    // A model that knows only each bit (x0 rate, readout 0) is far worse: K near L_null's side.
    Generator init(23);
    BinomialModel blind({.rate = RateParam::x0}, init);
    for (const Variable& parameter : blind.parameters()) {
        Tensor values = parameter.data();  // shares the parameter's storage
        fill_(values, 0.0);
    }
    Generator noise_again(22);
    const BinomialBoundReport blind_report =
        binomial_bound(model_rate(blind, schedule), schedule, x0.rows(0, 50).clone(), noise_again);
    CHECK(blind_report.K_bits < report.K_bits - 5.0);
}

TEST_CASE("the sampler with the exact factorised rate draws true heartbeats, each phase about a fifth") {
    const BinomialSchedule schedule(2000);
    Generator gen(31);
    const std::vector<Tensor> trajectory = binomial_trajectory(exact_factorised_rate(schedule), 2000, 300, 20, gen);
    REQUIRE(trajectory.size() == 2001);
    CHECK(trajectory[0].to_vector() == trajectory[1].to_vector());
    // x_T is fair coins.
    double ones = 0.0;
    for (double v : trajectory[2000].to_vector()) ones += v;
    CHECK(std::abs(ones / 6000.0 - 0.5) < 0.03);
    const std::vector<double> x = trajectory[0].to_vector(), truth = heartbeat_sequences().to_vector();
    std::array<int64_t, kHeartbeatPeriod> count{};
    int64_t exact = 0;
    for (int64_t row = 0; row < 300; ++row)
        for (int64_t k = 0; k < kHeartbeatPeriod; ++k)
            if (std::equal(x.begin() + row * 20, x.begin() + row * 20 + 20, truth.begin() + k * 20)) {
                ++exact;
                ++count[static_cast<std::size_t>(k)];
            }
    CHECK(exact >= 294);
    // binomial_sample draws the same chain, keeping only its current state.
    Generator again(31);
    CHECK(binomial_sample(exact_factorised_rate(schedule), 2000, 300, 20, again).to_vector() == x);
    for (int64_t c : count) CHECK(std::abs(static_cast<double>(c) - 60.0) < 5 * std::sqrt(300 * 0.2 * 0.8));
}

TEST_CASE("a binomial checkpoint round-trips the model, Adam and the schedule, and each reader refuses the other kind") {
    const BinomialSchedule schedule(5);
    Generator init(41), gen(42);
    BinomialModel model({.steps = 5, .hidden = 6, .rate = RateParam::x0, .input = HeadInput::bits,
                         .activation = HeadActivation::sigmoid, .bumps = 0},
                        init);
    nn::Adam adam(model.parameters(), {.lr = 1e-3});
    binomial_training_step(model, adam, schedule, 16, gen);
    const std::string path = temp_file("binomial");
    save_binomial_checkpoint(path, model, &adam, schedule, {model.config(), 1, gen.seed(), gen.offset(), {{"batch", "16"}}});
    const BinomialCheckpoint checkpoint = read_binomial_checkpoint(path);
    CHECK(checkpoint.info.step == 1);
    CHECK(checkpoint.info.model.hidden == 6);
    CHECK(checkpoint.info.model.rate == RateParam::x0);
    CHECK(checkpoint.info.generator_offset == gen.offset());
    CHECK(checkpoint.schedule.betas() == schedule.betas());
    CHECK(checkpoint.contents.metadata.at("kernel") == "binomial");
    CHECK(checkpoint.contents.metadata.at("data") == "heartbeat");
    CHECK(checkpoint.contents.metadata.at("rate") == "x0");
    CHECK(checkpoint.info.model.input == HeadInput::bits);
    CHECK(checkpoint.contents.metadata.at("input") == "bits");
    CHECK(checkpoint.info.model.activation == HeadActivation::sigmoid);
    CHECK(checkpoint.contents.metadata.at("activation") == "sigmoid");
    CHECK(checkpoint.contents.metadata.at("bumps") == "0");
    CHECK(checkpoint.info.model.bumps == 0);
    CHECK(checkpoint.contents.contains("network_head.4.weight"));
    CHECK(checkpoint.contents.contains("network_tail.4.bias"));
    check_restores(checkpoint, model);
    CHECK_THROWS_WITH_AS(read_checkpoint(path), doctest::Contains("a binomial model's checkpoint"), Error);

    Generator swiss(43);
    ReverseModel gaussian({5, 2, 8}, swiss);
    const std::string gaussian_path = temp_file("gaussian");
    save_checkpoint(gaussian_path, gaussian, nullptr, {gaussian.config(), {5}, ScheduleKind::seed, 0, 0, 0, {}});
    CHECK(read_safetensors(gaussian_path).metadata.count("kernel") == 0);  // a Gaussian checkpoint's bytes are as before
    CHECK_THROWS_WITH_AS(read_binomial_checkpoint(gaussian_path), doctest::Contains("a Gaussian model's checkpoint"), Error);
    std::filesystem::remove(path);
    std::filesystem::remove(gaussian_path);
}

TEST_CASE("a checkpoint of a model with bumps holds each step's mixed readout under the seed's names, checked on read") {
    const BinomialSchedule schedule(6);
    Generator init(51), gen(52);
    BinomialModel model({.steps = 6, .hidden = 5, .bumps = 3}, init);
    nn::Adam adam(model.parameters(), {.lr = 1e-2});
    for (int step = 0; step < 3; ++step) binomial_training_step(model, adam, schedule, 32, gen);  // the bumps apart
    const std::string path = temp_file("bumps");
    save_binomial_checkpoint(path, model, &adam, schedule, {model.config(), 3, gen.seed(), gen.offset(), {}});
    const BinomialCheckpoint checkpoint = read_binomial_checkpoint(path);
    CHECK(checkpoint.info.model.bumps == 3);
    CHECK(checkpoint.contents.metadata.at("bumps") == "3");
    CHECK(checkpoint.contents.contains("network_bumps.weight"));
    check_restores(checkpoint, model);

    // A reader of the seed's naming: a model with a readout per step, loaded from the head and network_tail.<i>,
    // gives the model's rates at every step.
    BinomialModelConfig free_config = model.config();
    free_config.bumps = 0;
    Generator unused(0);
    BinomialModel free(free_config, unused);
    NamedTensors seed_names;
    for (const auto& [name, tensor] : checkpoint.contents.tensors)
        if (name.rfind("network_", 0) == 0 && name.rfind("network_bumps", 0) != 0) seed_names.emplace_back(name, tensor);
    free.load_state_dict(seed_names);
    const Tensor xt = draw_bits(Tensor::full({10, kHeartbeatBins}, 0.5, DType::f64), gen);
    for (int64_t t = 2; t <= 6; ++t) {
        const std::vector<double> a = model.rate(Variable(xt), {{t, 0, 10}}, schedule).data().to_vector();
        const std::vector<double> b = free.rate(Variable(xt), {{t, 0, 10}}, schedule).data().to_vector();
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-13));
    }

    // A step's readout that is not the bumps' mix is refused (the writer recomputes the CRCs: only the check sees it).
    NamedTensors edited = checkpoint.contents.tensors;
    for (auto& [name, tensor] : edited)
        if (name == "network_tail.3.bias") tensor = add_scalar(tensor, 1e-6);
    write_safetensors(path, edited, checkpoint.contents.metadata);
    CHECK_THROWS_WITH_AS(binomial_model_from_checkpoint(read_binomial_checkpoint(path), DType::f64, Device::cpu()),
                         doctest::Contains("'network_tail.3.bias' is not the bumps' mix at step 4"), Error);
    // Written before bumps existed: no key means a readout per step, whose count the file's tensors must then match.
    Metadata old = checkpoint.contents.metadata;
    old.erase("bumps");
    write_safetensors(path, checkpoint.contents.tensors, old);
    CHECK_THROWS_WITH_AS(read_binomial_checkpoint(path), doctest::Contains("bumps=0"), Error);
    std::filesystem::remove(path);
}
