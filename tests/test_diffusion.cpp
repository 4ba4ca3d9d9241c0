// Behaviour of diffusion/: schedule and posterior against the seed's PyTorch values, the KL against Monte Carlo,
// the sampler's trajectory, the bound's entropy terms, data, step drawing, and checkpoints (with interop).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <numbers>

#include "autograd/functions.h"
#include "diffusion/bound.h"
#include "diffusion/checkpoint.h"
#include "diffusion/objective.h"
#include "diffusion/sampler.h"
#include "diffusion/swiss_roll.h"
#include "diffusion/training.h"
#include "helpers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
using namespace swirl::diffusion;
namespace ag = swirl::autograd;

TEST_CASE("the schedule matches the seed's PyTorch betas, alphas and alphas_bar") {
    const auto golden = read_safetensors(test::golden_path("schedule.safetensors"));
    const Schedule schedule;
    std::vector<double> betas, alphas, alpha_bars;
    for (int64_t t = 1; t <= 40; ++t) {
        betas.push_back(schedule.beta(t));
        alphas.push_back(schedule.alpha(t));
        alpha_bars.push_back(schedule.alpha_bar(t));
    }
    auto as_tensor = [](const std::vector<double>& v) { return Tensor::from_vector(v, {40}, DType::f64); };
    SWIRL_CHECK_CLOSE(as_tensor(betas), golden.at("f64.betas"), 1e-12, 0.0);
    SWIRL_CHECK_CLOSE(as_tensor(alphas), golden.at("f64.alphas"), 1e-12, 0.0);
    SWIRL_CHECK_CLOSE(as_tensor(alpha_bars), golden.at("f64.alphas_bar"), 1e-12, 0.0);
    // The seed computes in float32: our float64 values rounded agree to float32 precision.
    SWIRL_CHECK_CLOSE(as_tensor(betas), golden.at("f32.betas"), 1e-5, 0.0);
    SWIRL_CHECK_CLOSE(as_tensor(alpha_bars), golden.at("f32.alphas_bar"), 1e-5, 0.0);
}

TEST_CASE("the forward process constants match the seed's forward_process for t = 2..T") {
    const auto golden = read_safetensors(test::golden_path("schedule.safetensors"));
    const Schedule schedule;
    const Tensor table = schedule.coefficient_table(DType::f64, Device::cpu()).rows(2, 41);
    SWIRL_CHECK_CLOSE(slice_cols(table, 0, Schedule::kEpsXt), golden.at("f64.posterior"), 1e-12, 0.0);
}

TEST_CASE("the posterior is defined for t = 2..T only: t = 1 has no predecessor to wrap around to") {
    const Schedule schedule;
    CHECK_THROWS_WITH_AS(schedule.posterior_std(1), doctest::Contains("out of range [2, 40]"), Error);
    CHECK_THROWS_WITH_AS(schedule.beta(41), doctest::Contains("out of range"), Error);
    CHECK(schedule.alpha_bar(0) == 1.0);
}

TEST_CASE("step constants give each row its step's table column, from a fixed schedule or a table with gradients") {
    const Schedule schedule({6});
    const std::vector<StepGroup> groups = {{2, 0, 3}, {5, 3, 4}, {6, 4, 7}};
    const std::vector<int64_t> step_of_row = {2, 2, 2, 5, 6, 6, 6};
    const Tensor table = schedule.coefficient_table(DType::f64, Device::cpu());
    const Variable learned(table.clone(), true);
    const StepConstants fixed(schedule, groups, 7, DType::f64, Device::cpu()), from_table(Variable(table), groups, 7),
        with_grad(learned, groups, 7);
    for (int64_t c = 0; c < Schedule::kColumns; ++c)
        for (const StepConstants* constants : {&fixed, &from_table, &with_grad}) {
            const Tensor column = constants->column(c).data();
            REQUIRE(column.shape() == Shape{7, 1});
            for (int64_t i = 0; i < 7; ++i) CHECK(column.at(i, 0) == table.at(step_of_row[static_cast<std::size_t>(i)], c));
        }
    CHECK(schedule.coefficient_columns(DType::f32, Device::cpu()).shape() == Shape{Schedule::kColumns, 7});
    // A table's rows gather their rows' gradients: step 2's row gets three rows' worth, step 3 none.
    ag::sum(with_grad.column(Schedule::kNoise)).backward();
    CHECK(learned.grad().at(2, Schedule::kNoise) == 3.0);
    CHECK(learned.grad().at(5, Schedule::kNoise) == 1.0);
    CHECK(learned.grad().at(3, Schedule::kNoise) == 0.0);
    CHECK(learned.grad().at(2, Schedule::kSignal) == 0.0);
    // The groups must tile the batch in order, with steps in 2..T.
    CHECK_THROWS_WITH_AS(StepConstants(schedule, {{2, 0, 3}, {5, 4, 7}}, 7, DType::f64, Device::cpu()),
                         doctest::Contains("does not continue a batch of 7 at row 3"), Error);
    CHECK_THROWS_WITH_AS(StepConstants(schedule, {{2, 0, 3}}, 7, DType::f64, Device::cpu()),
                         doctest::Contains("leave rows [3, 7) of the batch without a step"), Error);
    CHECK_THROWS_WITH_AS(StepConstants(schedule, {{7, 0, 7}}, 7, DType::f64, Device::cpu()),
                         doctest::Contains("with steps 2..6"), Error);
    CHECK_THROWS_WITH_AS(StepConstants(Variable(slice_cols(table, 0, 4)), groups, 7),
                         doctest::Contains("expected a table [T + 1, 9]"), Error);
    CHECK_THROWS_WITH_AS(fixed.column(Schedule::kColumns), doctest::Contains("column 9 is not one of"), Error);
}

TEST_CASE("the fused Gaussian KL equals the seed's form composed of autograd ops, values and gradients") {
    // The seed: std_p = sqrt(exp(log_var)); kl = log std_p - log std_q + (std_q^2 + (mean_q - mean_p)^2) / (2 std_p^2) - 1/2.
    Generator gen(31);
    for (const Shape& std_shape : {Shape{50, 1}, Shape{}}) {
        const Tensor mean_q = Tensor::randn({50, 2}, gen, DType::f64);
        const Tensor std_q = add_scalar(Tensor::rand(std_shape, gen, DType::f64), 0.1);
        Variable mean_p(Tensor::randn({50, 2}, gen, DType::f64), true), log_var_p(Tensor::randn({50, 2}, gen, DType::f64), true);
        Variable fused = ag::sum(ag::square(ag::gaussian_kl(Variable(mean_q), Variable(std_q), mean_p, log_var_p)));
        fused.backward();
        const Tensor fused_mean_grad = mean_p.grad().clone(), fused_log_var_grad = log_var_p.grad().clone();
        mean_p.zero_grad();
        log_var_p.zero_grad();
        Variable std_p = ag::sqrt(ag::exp(log_var_p));
        Variable mismatch = ag::add(ag::square(ag::sub(Variable(mean_q), mean_p)), Variable(square(std_q)));
        Variable composite = ag::sub(ag::add(ag::log(std_p), ag::div(mismatch, ag::scale(ag::square(std_p), 2.0))),
                                     Variable(add_scalar(log(std_q), 0.5)));
        Variable reference = ag::sum(ag::square(composite));
        reference.backward();
        CHECK(fused.data().item() == doctest::Approx(reference.data().item()).epsilon(1e-12));
        SWIRL_CHECK_CLOSE(fused_mean_grad, mean_p.grad(), 1e-10, 1e-12);
        SWIRL_CHECK_CLOSE(fused_log_var_grad, log_var_p.grad(), 1e-10, 1e-12);
    }
}

TEST_CASE("the closed-form Gaussian KL agrees with a Monte-Carlo estimate") {
    const double mean_q = 0.3, std_q = 0.5;
    const std::vector<double> mean_p = {0.1, -0.4}, std_p = {0.7, 0.45};
    const std::vector<double> log_var_p = {2 * std::log(std_p[0]), 2 * std::log(std_p[1])};
    Variable kl = ag::gaussian_kl(Variable(Tensor::full({1, 2}, mean_q, DType::f64)), Variable(Tensor::full({}, std_q, DType::f64)),
                                  Variable(Tensor::from_vector(mean_p, {1, 2}, DType::f64)),
                                  Variable(Tensor::from_vector(log_var_p, {1, 2}, DType::f64)));
    Generator gen(5);
    const int64_t n = 400000;
    const auto eps = Tensor::randn({n}, gen, DType::f64).to_vector();
    for (int dim = 0; dim < 2; ++dim) {
        // E_q[log q(x) - log p(x)] with x = mean_q + std_q eps.
        double total = 0.0, total_sq = 0.0;
        for (double e : eps) {
            const double x = mean_q + std_q * e;
            const double zp = (x - mean_p[dim]) / std_p[dim];
            const double log_ratio = -std::log(std_q) - 0.5 * e * e + std::log(std_p[dim]) + 0.5 * zp * zp;
            total += log_ratio;
            total_sq += log_ratio * log_ratio;
        }
        const double mc = total / n, standard_error = std::sqrt((total_sq / n - mc * mc) / n);
        CAPTURE(dim);
        CHECK(std::abs(kl.data().at(0, dim) - mc) < 5 * standard_error);
    }
}

TEST_CASE("the swiss roll lies on the seed's curve (t sin t, -t cos t) / 10 with t in [1.5 pi, 4.5 pi]") {
    Generator gen(2);
    const auto xy = sample_swiss_roll(2000, gen, 0.0, DType::f64).to_vector();
    for (std::size_t i = 0; i < xy.size(); i += 2) {
        const double radius = 10.0 * std::hypot(xy[i], xy[i + 1]);  // = t
        CHECK(radius >= 1.5 * std::numbers::pi - 1e-9);
        CHECK(radius <= 4.5 * std::numbers::pi + 1e-9);
        CHECK(xy[i] == doctest::Approx(radius * std::sin(radius) / 10).epsilon(1e-9));
        CHECK(xy[i + 1] == doctest::Approx(-radius * std::cos(radius) / 10).epsilon(1e-9));
    }
}

TEST_CASE("steps are drawn uniformly from 2..T, one per batch or grouped one per sample") {
    Generator gen(3);
    const auto batch_groups = draw_steps(100, 40, TSampling::batch, gen);
    REQUIRE(batch_groups.size() == 1);
    CHECK(batch_groups[0].begin == 0);
    CHECK(batch_groups[0].end == 100);
    const auto groups = draw_steps(39000, 40, TSampling::sample, gen);
    CHECK(groups.size() == 39);
    int64_t expected_begin = 0;
    for (const StepGroup& g : groups) {
        CHECK(g.begin == expected_begin);
        CHECK(g.end - g.begin == doctest::Approx(1000).epsilon(0.15));  // 1000 expected, sd ~31
        expected_begin = g.end;
    }
    CHECK(groups.front().t == 2);
    CHECK(groups.back().t == 40);
}

TEST_CASE("the per-sample objective equals the mean of per-step objectives over its groups") {
    Generator init(1);
    ReverseModel model({6, 2, 8}, init, DType::f64);
    const Schedule schedule({6});
    Generator data_gen(2);
    const Tensor x0 = sample_swiss_roll(30, data_gen, 0.0, DType::f64);
    const std::vector<StepGroup> groups = {{2, 0, 10}, {4, 10, 22}, {6, 22, 30}};
    Generator a(9), b(9);
    const double grouped = kl_objective(model, schedule, x0, groups, a).data().item();
    // The same noise, one group at a time: the objective is a weighted mean of per-group objectives.
    const Tensor eps = Tensor::randn({30, 2}, b, DType::f64);
    double weighted = 0.0;
    for (const StepGroup& g : groups) {
        ForwardSample q = forward_process(schedule, x0.rows(g.begin, g.end), eps.rows(g.begin, g.end), g.t);
        ReverseStep p = model.forward(Variable(q.xt), g.t, schedule);
        const Variable std_q(Tensor::full({}, q.posterior_std, DType::f64));
        weighted += sum(ag::gaussian_kl(Variable(q.posterior_mean), std_q, p.mean, p.log_var).data()).item();
    }
    CHECK(grouped == doctest::Approx(weighted / 60.0).epsilon(1e-12));
}

TEST_CASE("the plain path (fusion off) gives the fused path's loss and gradients in both t-sampling modes") {
    // Fused, the objective is one op (mlp_gaussian_kl) in every parametrization; plain, the layers and the
    // reverse step's ops one by one.
    const std::pair<MeanParam, VarianceParam> params[] = {
        {MeanParam::mean, VarianceParam::free}, {MeanParam::eps, VarianceParam::bounded}, {MeanParam::eps, VarianceParam::full}};
    for (const auto& [mean_param, variance_param] : params) {
        for (DType dtype : {DType::f64, DType::f32}) {
            const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
            for (TSampling mode : {TSampling::batch, TSampling::sample}) {
                CAPTURE(mean_param_name(mean_param));
                CAPTURE(variance_param_name(variance_param));
                CAPTURE(dtype_name(dtype));
                CAPTURE(t_sampling_name(mode));
                Generator init(4);
                ReverseModel model({8, 2, 16, mean_param, variance_param}, init, dtype);
                const Schedule schedule({8});
                auto loss_and_gradients = [&](bool fused) {
                    nn::set_fusion_enabled(fused);
                    Generator gen(6);
                    const Tensor x0 = sample_swiss_roll(300, gen, 0.0, dtype);
                    const std::vector<StepGroup> groups = draw_steps(300, 8, mode, gen);
                    const std::string last_op = model.network(Variable(x0), groups).grad_fn()->name;
                    CHECK((last_op == "mlp") == fused);  // plain: the last tail's linear, or concat_rows of the tails
                    model.zero_grad();
                    Variable loss = kl_objective(model, schedule, x0, groups, gen);
                    CHECK((loss.grad_fn()->name == "mlp_gaussian_kl") == fused);
                    loss.backward();
                    nn::set_fusion_enabled(true);
                    std::vector<Tensor> grads{loss.data()};
                    for (const Variable& p : model.parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
                    return grads;
                };
                const std::vector<Tensor> fused = loss_and_gradients(true), plain = loss_and_gradients(false);
                REQUIRE(fused.size() == plain.size());
                for (std::size_t i = 0; i < fused.size(); ++i) {
                    REQUIRE(plain[i].defined() == fused[i].defined());  // a tail no row used has no gradient either way
                    if (fused[i].defined()) SWIRL_CHECK_CLOSE(plain[i], fused[i], tol, tol);
                }
            }
        }
    }
}

TEST_CASE("a training step reads nothing back to the host: on a GPU each read would be a transfer and a stall") {
    // op_traffic counts host reads on every device, so this CPU test sees what a GPU step would wait for.
    for (bool fused : {true, false}) {
        for (TSampling mode : {TSampling::batch, TSampling::sample}) {
            for (int64_t shards : {1, 2}) {
                CAPTURE(fused);
                CAPTURE(t_sampling_name(mode));
                CAPTURE(shards);
                nn::set_fusion_enabled(fused);
                Generator gen(3);
                ReverseModel model({8, 2, 16, MeanParam::eps, VarianceParam::bounded}, gen, DType::f32);
                nn::Adam adam(model.parameters(), {.lr = 1e-3});
                const Schedule schedule({8});
                training_step(model, adam, schedule, nullptr, 256, mode, gen, shards);  // Adam's state exists now
                const OpTraffic before = op_traffic();
                training_step(model, adam, schedule, nullptr, 256, mode, gen, shards);
                CHECK(op_traffic().host_reads == before.host_reads);
                nn::set_fusion_enabled(true);
            }
        }
    }
}

TEST_CASE("the one-op objective scales its gradients by the incoming gradient without reading it") {
    Generator init(4);
    ReverseModel model({8, 2, 16, MeanParam::eps, VarianceParam::bounded}, init, DType::f64);
    const Schedule schedule({8});
    auto gradients = [&](const Tensor* seed) {
        Generator gen(6);
        const Tensor x0 = sample_swiss_roll(64, gen, 0.0, DType::f64);
        model.zero_grad();
        Variable loss = kl_objective(model, schedule, x0, draw_steps(64, 8, TSampling::sample, gen), gen);
        REQUIRE(loss.grad_fn()->name == std::string("mlp_gaussian_kl"));
        const OpTraffic before = op_traffic();
        seed == nullptr ? loss.backward() : loss.backward(*seed);
        CHECK(op_traffic().host_reads == before.host_reads);
        std::vector<double> all;
        for (const Variable& p : model.parameters())
            if (p.grad().defined())
                for (double g : p.grad().to_vector()) all.push_back(g);
        return all;
    };
    const std::vector<double> unit = gradients(nullptr);
    const Tensor three = Tensor::full({}, -3.0, DType::f64);
    const std::vector<double> scaled = gradients(&three);
    REQUIRE(unit.size() == scaled.size());
    REQUIRE(!unit.empty());
    for (std::size_t i = 0; i < unit.size(); ++i) CHECK(scaled[i] == doctest::Approx(-3.0 * unit[i]).epsilon(1e-15));
}

TEST_CASE("under a learned schedule the one-op objective gives the plain path's loss and gradients, the betas' too") {
    // The schedule's constants carry gradients: the one op hands on those of x_t, q and the head's columns.
    for (VarianceParam variance : {VarianceParam::free, VarianceParam::full}) {
        for (TSampling mode : {TSampling::batch, TSampling::sample}) {
            CAPTURE(variance_param_name(variance));
            CAPTURE(t_sampling_name(mode));
            Generator init(5);
            ReverseModel model({8, 2, 16, MeanParam::eps, variance}, init, DType::f64);
            LearnedSchedule learned(Schedule({8}));
            auto loss_and_gradients = [&](bool fused) {
                nn::set_fusion_enabled(fused);
                Generator gen(6);
                const Tensor x0 = sample_swiss_roll(300, gen, 0.0, DType::f64);
                const std::vector<StepGroup> groups = draw_steps(300, 8, mode, gen);
                model.zero_grad();
                learned.logits().zero_grad();
                Variable loss = kl_objective(model, learned.coefficient_table(), x0, groups,
                                             Tensor::randn({300, 2}, gen, DType::f64));
                CHECK((loss.grad_fn()->name == "mlp_gaussian_kl") == fused);
                loss.backward();
                nn::set_fusion_enabled(true);
                std::vector<Tensor> grads{loss.data(), learned.logits().grad().clone()};
                for (const Variable& p : model.parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
                return grads;
            };
            const std::vector<Tensor> fused = loss_and_gradients(true), plain = loss_and_gradients(false);
            REQUIRE(fused.size() == plain.size());
            for (std::size_t i = 0; i < fused.size(); ++i) {
                CAPTURE(i);
                REQUIRE(plain[i].defined() == fused[i].defined());
                if (fused[i].defined()) SWIRL_CHECK_CLOSE(plain[i], fused[i], 1e-10, 1e-12);
            }
        }
    }
}

TEST_CASE("the sampler runs t = T..2 through the heads and leaves t = 1 as the identity") {
    Generator init(4);
    ReverseModel model({10, 2, 16}, init);
    Generator gen(7), reference(7);
    const auto trajectory = sample_trajectory(model, Schedule({10}), 50, gen);
    REQUIRE(trajectory.size() == 11);
    CHECK(trajectory[0].to_vector() == trajectory[1].to_vector());
    CHECK(trajectory[10].to_vector() == Tensor::randn({50, 2}, reference).to_vector());  // x_T ~ N(0, I)
    for (int64_t t = 10; t >= 2; --t) CHECK(trajectory[t - 1].to_vector() != trajectory[t].to_vector());
    CHECK(gen.offset() == 50 * 2 * 10);  // x_T plus one noise draw for each of the T - 1 steps
    CHECK(ag::grad_mode_enabled());  // the sampler's NoGradGuard is gone again
}

TEST_CASE("sampling in chunks gives the bits of one chunk: each row's noise does not depend on the chunk size") {
    // The CPU's fused layers round a row alike wherever it sits in a chunk of a multiple of their 256-row block.
    constexpr int64_t n = 1100;
    Generator init(4);
    ReverseModel model({10, 2, 16, MeanParam::eps, VarianceParam::bounded, 2.0}, init);
    const Schedule schedule({10});
    const std::vector<int64_t> times{0, 5, 10};
    Generator whole_gen(9);
    const std::vector<Tensor> whole = sample_states(model, schedule, n, whole_gen, times);
    REQUIRE(whole.size() == 3);
    for (int64_t chunk : {int64_t{256}, int64_t{512}, int64_t{1024}, n, int64_t{4096}}) {
        CAPTURE(chunk);
        Generator gen(9);
        std::vector<std::vector<double>> pieces(times.size());
        int64_t next_row = 0;
        sample_chunks(model, schedule, n, gen, times, chunk, [&](int64_t first, const std::vector<Tensor>& states) {
            CHECK(first == next_row);  // in row order, each row once
            next_row += states[0].dim(0);
            CHECK(states[0].dim(0) <= chunk);
            for (std::size_t i = 0; i < times.size(); ++i)
                for (double v : states[i].to_vector()) pieces[i].push_back(v);
        });
        CHECK(next_row == n);
        for (std::size_t i = 0; i < times.size(); ++i) CHECK(pieces[i] == whole[i].to_vector());
        CHECK(gen.offset() == whole_gen.offset());
    }
    CHECK(whole_gen.offset() == n * 2 * 10);
    CHECK_THROWS_WITH_AS(sample_states(model, schedule, 5, whole_gen, {11}), doctest::Contains("x_11"), Error);
}

TEST_CASE("the bound's entropy terms are those of Gaussians with the schedule's variances") {
    const Schedule schedule;
    const double two_pi_e = 2.0 * std::numbers::pi * std::exp(1.0);
    // H(N(0, s^2 I_d)) = d/2 log(2 pi e s^2)
    CHECK(entropy_p_final(2) == doctest::Approx(std::log(two_pi_e)).epsilon(1e-14));
    CHECK(entropy_q_final(schedule, 2) ==
          doctest::Approx(std::log(two_pi_e * (1.0 - schedule.alpha_bar(40)))).epsilon(1e-14));
    CHECK(entropy_q_first(schedule, 2) == doctest::Approx(std::log(two_pi_e * schedule.beta(1))).epsilon(1e-14));
}

TEST_CASE("K, K_unit and L_null for one step of known Gaussians, computed here from the definitions") {
    // T = 2 and a model whose only non-zero parameters are the last bias of step 2's tail: p(x_1 | x_2) is
    // N(m, diag(v)) for every x_2. The test writes out q(x_1 | x_2, x_0), the Gaussian KL and the entropies itself.
    const double m[2] = {0.3, -0.2}, v[2] = {0.5, 0.8};
    const std::vector<double> points = {0.9, -0.4, -1.1, 0.2, 0.35, 1.3, -0.6, -0.7};  // x_0, 4 points of 2-D data
    const std::vector<double> eps = {0.5, -1.2, 0.1, 0.8, -0.3, 0.0, 1.7, -0.9};      // the forward noise of t = 2
    for (double data_scale : {1.0, 2.0}) {
        CAPTURE(data_scale);
        Generator init(5);
        ReverseModel model({2, 2, 8, MeanParam::mean, VarianceParam::free, data_scale}, init, DType::f64);
        for (auto& [name, parameter] : model.named_parameters()) {
            fill_(parameter.data(), 0.0);
            if (name == "network_tail.1.2.bias")
                parameter.data() = Tensor::from_vector({m[0], m[1], std::log(v[0]), std::log(v[1])}, {4}, DType::f64);
        }
        const Schedule schedule({2});
        const BoundReport report = likelihood_bound(model, schedule, Tensor::from_vector(points, {4, 2}, DType::f64),
                                                    {Tensor::from_vector(eps, {4, 2}, DType::f64)});
        const double pi = std::numbers::pi, e = std::exp(1.0), ln2 = std::log(2.0);
        const double beta1 = schedule.beta(1), beta2 = schedule.beta(2);
        const double abar1 = 1 - beta1, abar2 = (1 - beta1) * (1 - beta2);
        // q(x_1 | x_2, x_0) (Ho et al. 2020, eq. 7) on the model's scale of the data
        const double c0 = std::sqrt(abar1) * beta2 / (1 - abar2), c2 = std::sqrt(1 - beta2) * (1 - abar1) / (1 - abar2);
        const double var_q = (1 - abar1) * beta2 / (1 - abar2);
        double kl = 0;
        for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 2; ++k) {
                const double x0 = data_scale * points[2 * i + k];
                const double x2 = std::sqrt(abar2) * x0 + std::sqrt(1 - abar2) * eps[2 * i + k];
                const double mean_q = c0 * x0 + c2 * x2;
                kl += 0.5 * (std::log(v[k] / var_q) + (var_q + (mean_q - m[k]) * (mean_q - m[k])) / v[k] - 1) / 4;
            }
        const double h_q_2 = std::log(2 * pi * e * (1 - abar2)), h_q_1 = std::log(2 * pi * e * beta1),
                     h_p_2 = std::log(2 * pi * e);  // d/2 log(2 pi e var), d = 2
        const double k_nats = -kl + h_q_2 - h_q_1 - h_p_2 + 2 * std::log(data_scale);
        CHECK(report.kl_per_step_bits[2] == doctest::Approx(kl / ln2).epsilon(1e-12));
        CHECK(report.K_bits == doctest::Approx(k_nats / ln2).epsilon(1e-12));
        // Standardised with one constant: the data's per-dimension variance, averaged.
        double mean[2] = {0, 0}, variance = 0;
        for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 2; ++k) mean[k] += points[2 * i + k] / 4;
        for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 2; ++k) variance += (points[2 * i + k] - mean[k]) * (points[2 * i + k] - mean[k]) / 8;
        CHECK(report.data_std == doctest::Approx(std::sqrt(variance)).epsilon(1e-12));
        CHECK(report.K_unit_bits == doctest::Approx((k_nats + std::log(variance)) / ln2).epsilon(1e-12));
        // L_null: the mean log-density of the standardised points under N(0, I), summed here point by point.
        double l_null = 0;
        for (int i = 0; i < 4; ++i)
            for (int k = 0; k < 2; ++k) {
                const double y = (points[2 * i + k] - mean[k]) / std::sqrt(variance);
                l_null += (-0.5 * std::log(2 * pi) - 0.5 * y * y) / 4;
            }
        CHECK(report.L_null_bits == doctest::Approx(l_null / ln2).epsilon(1e-12));
        CHECK(report.K_minus_L_null_bits == doctest::Approx((k_nats + std::log(variance) - l_null) / ln2).epsilon(1e-12));
    }
}

TEST_CASE("energy distance: 2 E|X - Y| - E|X - X'| - E|Y - Y'| with Euclidean distances, by hand and in closed form") {
    // a = {(0, 0), (1, 0)}, b = {(0, 1)}: E|X - Y| = (1 + sqrt 2) / 2, E|X - X'| = 1/2 (pairs with themselves
    // count), E|Y - Y'| = 0. Squared or L1 distances would give 2.5 and 2.5.
    const Tensor a = Tensor::from_vector({0, 0, 1, 0}, {2, 2}, DType::f64), b = Tensor::from_vector({0, 1}, {1, 2}, DType::f64);
    CHECK(energy_distance(a, b) == doctest::Approx(1.0 + std::sqrt(2.0) - 0.5).epsilon(1e-14));
    CHECK(energy_distance(b, a) == doctest::Approx(1.0 + std::sqrt(2.0) - 0.5).epsilon(1e-14));
    CHECK(std::abs(energy_distance(a, a)) < 1e-15);
    // N(0, I) against N(mu, I) in 2-D, |mu| = sqrt 2: 2 E|Z + mu| - 2 E|Z| with Z ~ N(0, 2 I) in the first term's
    // difference, E|Z| = sqrt(2) sqrt(pi / 2) for Z ~ N(0, 2 I); E|Z + mu| by the Rice distribution's mean,
    // sigma sqrt(pi/2) L_{1/2}(-|mu|^2 / 2 sigma^2) with sigma^2 = 2: 0.8351 in all, within sampling noise.
    Generator gen(8);
    const Tensor x = Tensor::randn({3000, 2}, gen, DType::f64), y = add_scalar(Tensor::randn({3000, 2}, gen, DType::f64), 1.0);
    const double nu2 = 2.0, sigma2 = 2.0, z = -nu2 / (2 * sigma2);  // L_{1/2}(z) = e^{z/2} ((1 - z) I0(-z/2) - z I1(-z/2))
    const double laguerre = std::exp(z / 2) * ((1 - z) * std::cyl_bessel_i(0.0, -z / 2) - z * std::cyl_bessel_i(1.0, -z / 2));
    const double expected = 2 * std::sqrt(sigma2) * std::sqrt(std::numbers::pi / 2) * (laguerre - 1.0);
    CHECK(expected == doctest::Approx(0.8351).epsilon(1e-3));
    CHECK(energy_distance(x, y) == doctest::Approx(expected).epsilon(0.1));
}

TEST_CASE("a checkpoint round-trips the model, Adam's state and the training state") {
    Generator init(10);
    ReverseModel model({5, 2, 8}, init);
    nn::Adam adam(model.parameters(), {.lr = 1e-3});
    Generator gen(11);
    const Schedule schedule({5});
    Variable loss = kl_objective(model, schedule, sample_swiss_roll(16, gen), draw_steps(16, 5, TSampling::sample, gen), gen);
    loss.backward();
    adam.step();
    const std::string path = (std::filesystem::temp_directory_path() / fmt::format("swirl_ckpt_{}.safetensors", ::getpid())).string();
    save_checkpoint(path, model, &adam, {model.config(), {5}, ScheduleKind::seed, 1, gen.seed(), gen.offset(), {{"batch", "16"}}});
    const Checkpoint checkpoint = read_checkpoint(path);
    CHECK(checkpoint.info.step == 1);
    CHECK(checkpoint.info.generator_offset == gen.offset());
    CHECK(checkpoint.info.model.hidden == 8);
    CHECK(checkpoint.info.options.at("batch") == "16");
    ReverseModel restored = model_from_checkpoint(checkpoint, DType::f32, Device::cpu());
    for (std::size_t i = 0; i < model.parameters().size(); ++i)
        CHECK(restored.parameters()[i].data().to_vector() == model.parameters()[i].data().to_vector());
    nn::Adam restored_adam(restored.parameters(), {.lr = 1e-3});
    load_optimizer_state(checkpoint, restored_adam);
    const NamedTensors before = adam.state("s."), after = restored_adam.state("s.");
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(before[i].second.to_vector() == after[i].second.to_vector());
    std::filesystem::remove(path);
}

TEST_CASE("a checkpoint of another architecture is refused with both shapes named") {
    Generator init(12);
    ReverseModel small({4, 2, 8}, init), large({4, 2, 16}, init);
    const Schedule schedule({4});
    const std::string path = (std::filesystem::temp_directory_path() / fmt::format("swirl_arch_{}.safetensors", ::getpid())).string();
    save_checkpoint(path, large, nullptr, {large.config(), {4}, ScheduleKind::seed, 0, 0, 0, {}});
    const Checkpoint checkpoint = read_checkpoint(path);
    CHECK_THROWS_WITH_AS(load_model_weights(checkpoint, small), doctest::Contains("[16, 2]"), Error);
    CHECK_THROWS_WITH_AS(load_model_weights(checkpoint, small), doctest::Contains("[8, 2]"), Error);
    std::filesystem::remove(path);
}

TEST_CASE("a learned schedule whose logits are not finite or disagree with its betas is refused in one line") {
    // By learned_schedule (a resumed run) and by checkpoint_schedule (sample, eval) alike.
    Generator init(13);
    ReverseModel model({6, 2, 8}, init);
    LearnedSchedule learned{Schedule({6})};
    NoGradGuard no_grad;
    Tensor logits = learned.logits().data();  // [5, 1] float64 on the CPU, shared with the schedule
    logits.data<double>()[2] += 0.25;  // a schedule that training moved away from its start
    const std::string path =
        (std::filesystem::temp_directory_path() / fmt::format("swirl_learned_{}.safetensors", ::getpid())).string();
    save_checkpoint(path, model, nullptr, {model.config(), {6}, ScheduleKind::learned, 3, 0, 0, {}}, &learned);
    const SafetensorsContents good = read_safetensors(path);
    const LearnedSchedule restored = learned_schedule(read_checkpoint(path));
    CHECK(restored.logits().data().to_vector() == learned.logits().data().to_vector());
    // Damaged behind valid checksums: the file is rewritten whole, so only the checkpoint layer can notice.
    auto damaged = [&](const std::string& name, int64_t i, double value) {
        NamedTensors tensors = good.tensors;
        for (auto& [tensor_name, tensor] : tensors)
            if (tensor_name == name) {
                tensor = tensor.clone();
                tensor.data<double>()[i] = value;
            }
        write_safetensors(path, tensors, good.metadata);
        return read_checkpoint(path);
    };
    const double logit_4 = logits.data<double>()[2];
    CHECK_THROWS_WITH_AS(learned_schedule(damaged("schedule.logits", 2, std::nan(""))),
                         doctest::Contains("'schedule.logits' holds nan for step 4: the logits must be finite"), Error);
    CHECK_THROWS_WITH_AS(learned_schedule(damaged("schedule.logits", 2, INFINITY)),
                         doctest::Contains("the logits must be finite"), Error);
    CHECK_THROWS_WITH_AS(learned_schedule(damaged("schedule.logits", 2, logit_4 + 1e-6)),
                         doctest::Contains("'schedule.logits' and 'schedule.betas' disagree at step 4"), Error);
    CHECK_THROWS_WITH_AS(checkpoint_schedule(damaged("schedule.logits", 2, logit_4 + 1e-6)),
                         doctest::Contains("disagree at step 4"), Error);
    CHECK_THROWS_WITH_AS(learned_schedule(damaged("schedule.betas", 0, Schedule({6}).beta(1) * 1.5)),
                         doctest::Contains("'schedule.betas' has beta_1"), Error);
    CHECK_NOTHROW(learned_schedule(damaged("schedule.logits", 2, logit_4)));  // the same values again: accepted
    std::filesystem::remove(path);
}

TEST_CASE("a checkpoint written by PyTorch from the seed's model loads and reproduces PyTorch's outputs") {
    const Checkpoint checkpoint = read_checkpoint(test::golden_path("interop_checkpoint.safetensors"));
    ReverseModel model = model_from_checkpoint(checkpoint, DType::f32, Device::cpu());
    const Schedule schedule = checkpoint_schedule(checkpoint);
    const auto expected = read_safetensors(test::golden_path("interop_expected.safetensors"));
    for (int64_t t = 2; t <= 4; ++t) {
        CAPTURE(t);
        ReverseStep p = model.forward(Variable(expected.at("xt")), t, schedule);
        SWIRL_CHECK_CLOSE(p.mean.data(), expected.at(fmt::format("t{}.mu", t)), 1e-5, 1e-6);
        SWIRL_CHECK_CLOSE(p.std().data(), expected.at(fmt::format("t{}.std", t)), 1e-5, 1e-6);
    }
}
