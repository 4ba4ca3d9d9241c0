// The training recipes beyond the seed's: the reverse step's parametrizations, unit-variance data, the learned
// forward schedule, and checkpoints that record them (diffusion/parametrization.h, diffusion/schedule.h).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "diffusion/bound.h"
#include "diffusion/checkpoint.h"
#include "diffusion/objective.h"
#include "diffusion/swiss_roll.h"
#include "helpers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
using namespace swirl::diffusion;
namespace ag = swirl::autograd;

namespace {

// Each row's constants for steps `steps` (one row each) from a schedule: [n, kColumns].
Tensor rows_of(const Schedule& schedule, const std::vector<int64_t>& steps) {
    const Tensor table = schedule.coefficient_table(DType::f64, Device::cpu());
    std::vector<Tensor> rows;
    for (int64_t t : steps) rows.push_back(table.rows(t, t + 1));
    return concat_rows(rows);
}

// The constants of rows at `steps` (a group a row) from a table [T + 1, kColumns], or from the schedule's.
StepConstants constants_of(const Variable& table, const std::vector<int64_t>& steps) {
    std::vector<StepGroup> groups;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto row = static_cast<int64_t>(i);
        groups.push_back({steps[i], row, row + 1});
    }
    return StepConstants(table, groups, static_cast<int64_t>(steps.size()));
}
StepConstants constants_of(const Schedule& schedule, const std::vector<int64_t>& steps) {
    return constants_of(Variable(schedule.coefficient_table(DType::f64, Device::cpu())), steps);
}

std::string temp_path(const char* stem) {
    return (std::filesystem::temp_directory_path() / fmt::format("swirl_{}_{}.safetensors", stem, ::getpid())).string();
}

}  // namespace

TEST_CASE("the eps mean is (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(alpha_t), the seed's mean is the output") {
    const Schedule schedule;
    const std::vector<int64_t> steps = {2, 7, 21, 40};
    Generator gen(1);
    const Tensor out = Tensor::randn({4, 4}, gen, DType::f64), xt = Tensor::randn({4, 2}, gen, DType::f64);
    const StepConstants constants = constants_of(schedule, steps);
    const ReverseStep eps = reverse_step(Variable(out), Variable(xt), constants, MeanParam::eps, VarianceParam::free);
    const ReverseStep seed = reverse_step(Variable(out), Variable(xt), constants, MeanParam::mean, VarianceParam::free);
    for (int64_t i = 0; i < 4; ++i) {
        const int64_t t = steps[static_cast<std::size_t>(i)];
        for (int64_t k = 0; k < 2; ++k) {
            const double expected = (xt.at(i, k) - schedule.beta(t) / schedule.noise_scale(t) * out.at(i, k)) /
                                    std::sqrt(schedule.alpha(t));
            CHECK(eps.mean.data().at(i, k) == doctest::Approx(expected).epsilon(1e-14));
            CHECK(seed.mean.data().at(i, k) == out.at(i, k));
            CHECK(eps.log_var.data().at(i, k) == out.at(i, 2 + k));  // free: the second half as it is
        }
    }
}

TEST_CASE("the eps mean with the true noise is the posterior mean") {
    // eps_hat = eps gives x0_hat = x0, so the mean is q(x_{t-1} | x_t, x0)'s.
    const Schedule schedule;
    Generator gen(2);
    const Tensor x0 = sample_swiss_roll(5, gen, 0.0, DType::f64), eps = Tensor::randn({5, 2}, gen, DType::f64);
    for (int64_t t : {2, 15, 40}) {
        const ForwardSample q = forward_process(schedule, x0, eps, t);
        const Tensor out = concat_cols({eps, Tensor::zeros({5, 2}, DType::f64)});
        const ReverseStep p = reverse_step(Variable(out), Variable(q.xt), constants_of(schedule, {t, t, t, t, t}),
                                           MeanParam::eps, VarianceParam::free);
        SWIRL_CHECK_CLOSE(p.mean.data(), q.posterior_mean, 1e-10, 1e-13);
    }
}

TEST_CASE("the bounded variance lies between the posterior's and beta_t, at their geometric mean for b = 0") {
    const Schedule schedule;
    Generator gen(3);
    Tensor out = Tensor::randn({3, 4}, gen, DType::f64);
    out = concat_cols({slice_cols(out, 0, 2), scale(slice_cols(out, 2, 4), 30.0)});  // saturate some sigmoids
    const std::vector<int64_t> steps = {2, 20, 40};
    const ReverseStep p = reverse_step(Variable(out), Variable(Tensor::zeros({3, 2}, DType::f64)),
                                       constants_of(schedule, steps), MeanParam::mean, VarianceParam::bounded);
    for (int64_t i = 0; i < 3; ++i) {
        const int64_t t = steps[static_cast<std::size_t>(i)];
        const double low = 2 * std::log(schedule.posterior_std(t)), high = std::log(schedule.beta(t));
        for (int64_t k = 0; k < 2; ++k) {
            CHECK(p.log_var.data().at(i, k) >= low - 1e-12);
            CHECK(p.log_var.data().at(i, k) <= high + 1e-12);
        }
    }
    const ReverseStep middle = reverse_step(Variable(Tensor::zeros({1, 4}, DType::f64)), Variable(Tensor::zeros({1, 2}, DType::f64)),
                                            constants_of(schedule, {9}), MeanParam::eps, VarianceParam::bounded);
    CHECK(middle.log_var.data().at(0, 0) ==
          doctest::Approx(0.5 * (2 * std::log(schedule.posterior_std(9)) + std::log(schedule.beta(9)))).epsilon(1e-13));
}

TEST_CASE("reverse_step passes gradcheck in every parametrization, through the output, x_t and the constants") {
    const Schedule schedule({6});
    const Tensor table = schedule.coefficient_table(DType::f64, Device::cpu());
    for (MeanParam mean : {MeanParam::mean, MeanParam::eps})
        for (VarianceParam variance : {VarianceParam::free, VarianceParam::bounded, VarianceParam::full}) {
            CAPTURE(mean_param_name(mean));
            CAPTURE(variance_param_name(variance));
            auto f = [&](const std::vector<Variable>& in) {
                // The table moves around the schedule's own values (their logs stay defined); its rows reach the
                // step through StepConstants' index_select.
                const StepConstants c = constants_of(ag::mul(in[2], Variable(table)), {2, 4, 6});
                const ReverseStep p = reverse_step(in[0], in[1], c, mean, variance);
                return p.angle.defined() ? ag::concat({p.mean, p.log_var, p.angle}) : ag::concat({p.mean, p.log_var});
            };
            Generator gen(4);
            Tensor factors = Tensor::empty({7, Schedule::kColumns}, DType::f64);
            uniform_(factors, gen, 0.8, 1.2);
            const ag::GradcheckReport report = ag::gradcheck(
                f, {Tensor::randn({3, output_width(2, variance)}, gen, DType::f64), Tensor::randn({3, 2}, gen, DType::f64), factors});
            CHECK_MESSAGE(report.ok, report.summary());
        }
}

namespace {
// The full covariance's Gaussian written with 2x2 matrices: Sigma = R diag(v) R^T, R the rotation by angle.
struct Gaussian2 {
    double m[2], S[2][2];
};
Gaussian2 full_gaussian(const ReverseStep& p, int64_t i) {
    const double a = p.angle.data().at(i, 0), c = std::cos(a), s = std::sin(a);
    const double v0 = std::exp(p.log_var.data().at(i, 0)), v1 = std::exp(p.log_var.data().at(i, 1));
    const double R[2][2] = {{c, -s}, {s, c}};
    Gaussian2 g{{p.mean.data().at(i, 0), p.mean.data().at(i, 1)}, {}};
    for (int r = 0; r < 2; ++r)
        for (int k = 0; k < 2; ++k) g.S[r][k] = R[r][0] * v0 * R[k][0] + R[r][1] * v1 * R[k][1];
    return g;
}
}  // namespace

TEST_CASE("the full covariance: its KL is that of 2x2 matrices, its draws are mean + R (std * eps), angle 0 is bounded") {
    const Schedule schedule;
    Generator gen(9);
    const std::vector<int64_t> steps = {2, 11, 25, 40};
    Tensor out = Tensor::randn({4, 5}, gen, DType::f64);
    out = concat_cols({slice_cols(out, 0, 4), scale(slice_cols(out, 4, 5), 3.0)});  // angles around the circle
    const Tensor xt = Tensor::randn({4, 2}, gen, DType::f64), mean_q = Tensor::randn({4, 2}, gen, DType::f64);
    const Tensor coefficients = rows_of(schedule, steps);
    const ReverseStep p = reverse_step(Variable(out), Variable(xt), constants_of(schedule, steps), MeanParam::eps, VarianceParam::full);
    const Tensor std_q = slice_cols(coefficients, Schedule::kPosteriorStd, Schedule::kPosteriorStd + 1);
    const Tensor kl = sum(p.kl_from(Variable(mean_q), Variable(std_q)).data(), 1);  // [4, 1]
    const Tensor eps = Tensor::randn({4, 2}, gen, DType::f64);
    const Tensor drawn = p.draw(eps);
    for (int64_t i = 0; i < 4; ++i) {
        const Gaussian2 g = full_gaussian(p, i);
        const double det = g.S[0][0] * g.S[1][1] - g.S[0][1] * g.S[1][0];
        const double inv[2][2] = {{g.S[1][1] / det, -g.S[0][1] / det}, {-g.S[1][0] / det, g.S[0][0] / det}};
        const double var_q = std::pow(std_q.at(i, 0), 2.0);
        const double delta[2] = {mean_q.at(i, 0) - g.m[0], mean_q.at(i, 1) - g.m[1]};
        double quadratic = 0;
        for (int r = 0; r < 2; ++r)
            for (int k = 0; k < 2; ++k) quadratic += delta[r] * inv[r][k] * delta[k];
        const double expected = 0.5 * ((inv[0][0] + inv[1][1]) * var_q + quadratic - 2 + std::log(det) - 2 * std::log(var_q));
        CHECK(kl.at(i, 0) == doctest::Approx(expected).epsilon(1e-12));
        // mean + R diag(std) eps, element by element.
        const double a = p.angle.data().at(i, 0);
        const double u0 = std::exp(0.5 * p.log_var.data().at(i, 0)) * eps.at(i, 0),
                     u1 = std::exp(0.5 * p.log_var.data().at(i, 1)) * eps.at(i, 1);
        CHECK(drawn.at(i, 0) == doctest::Approx(g.m[0] + std::cos(a) * u0 - std::sin(a) * u1).epsilon(1e-13));
        CHECK(drawn.at(i, 1) == doctest::Approx(g.m[1] + std::sin(a) * u0 + std::cos(a) * u1).epsilon(1e-13));
    }
    // With every angle 0 the full covariance is the bounded diagonal one.
    const Tensor flat = concat_cols({slice_cols(out, 0, 4), Tensor::zeros({4, 1}, DType::f64)});
    const ReverseStep turned = reverse_step(Variable(flat), Variable(xt), constants_of(schedule, steps), MeanParam::eps, VarianceParam::full);
    const ReverseStep bounded = reverse_step(Variable(slice_cols(out, 0, 4)), Variable(xt), constants_of(schedule, steps), MeanParam::eps,
                                             VarianceParam::bounded);
    SWIRL_CHECK_CLOSE(turned.kl_from(Variable(mean_q), Variable(std_q)).data(),
                      bounded.kl_from(Variable(mean_q), Variable(std_q)).data(), 1e-14, 1e-15);
    CHECK(turned.draw(eps).to_vector() == bounded.draw(eps).to_vector());
    // The covariance is for 2-D data, and the output must carry the angle.
    CHECK_THROWS_WITH_AS(output_width(3, VarianceParam::full), doctest::Contains("2-D data, got 3"), Error);
    CHECK_THROWS_WITH_AS(reverse_step(Variable(slice_cols(out, 0, 4)), Variable(xt), constants_of(schedule, steps), MeanParam::eps,
                                      VarianceParam::full),
                         doctest::Contains("expected out [B, 2d + 1]"), Error);
}

TEST_CASE("the full covariance's KL passes gradcheck through both means, the posterior's std and the output") {
    const Schedule schedule({6});
    const StepConstants constants = constants_of(schedule, {2, 4, 6});
    auto f = [&](const std::vector<Variable>& in) {
        const ReverseStep p = reverse_step(in[0], in[1], constants, MeanParam::eps, VarianceParam::full);
        return p.kl_from(in[2], in[3]);
    };
    Generator gen(10);
    Tensor std_q = Tensor::empty({3, 1}, DType::f64);
    uniform_(std_q, gen, 0.05, 0.2);
    const ag::GradcheckReport report = ag::gradcheck(f, {Tensor::randn({3, 5}, gen, DType::f64), Tensor::randn({3, 2}, gen, DType::f64),
                                                         Tensor::randn({3, 2}, gen, DType::f64), std_q});
    CHECK_MESSAGE(report.ok, report.summary());
}

TEST_CASE("the differentiable schedule table equals the float64 one, and passes gradcheck in the betas") {
    const Schedule schedule;
    const Variable betas(Tensor::from_vector(schedule.betas(), {40, 1}, DType::f64));
    SWIRL_CHECK_CLOSE(coefficient_table(betas).data(), schedule.coefficient_table(DType::f64, Device::cpu()), 1e-9, 1e-15);
    const Schedule small({5});
    const ag::GradcheckReport report = ag::gradcheck([](const std::vector<Variable>& in) { return coefficient_table(in[0]); },
                                             {Tensor::from_vector({0.01, 0.05, 0.1, 0.2, 0.3}, {5, 1}, DType::f64)});
    CHECK_MESSAGE(report.ok, report.summary());
}

TEST_CASE("a learned schedule starts at its initial betas, keeps beta_1, and stays in (0, 1)") {
    const Schedule seed;
    LearnedSchedule learned(seed);
    CHECK(learned.steps() == 40);
    const Schedule now = learned.current();
    for (int64_t t = 1; t <= 40; ++t) CHECK(now.beta(t) == doctest::Approx(seed.beta(t)).epsilon(1e-12));
    // Far logits approach 0 and 1 without reaching them; past what float64 resolves the schedule refuses them.
    fill_(learned.logits().data(), 30.0);
    CHECK(learned.current().beta(40) < 1.0);
    fill_(learned.logits().data(), -30.0);
    CHECK(learned.current().beta(40) > 0.0);
    fill_(learned.logits().data(), -800.0);
    CHECK_THROWS_WITH_AS(learned.current(), doctest::Contains("outside (0, 1)"), Error);  // underflows to 0
    CHECK(learned.betas().data().at(0, 0) == seed.beta(1));
}

TEST_CASE("the learned schedule's gradient matches finite differences of K") {
    // K = -(T - 1) d (kl_objective + final_entropy_term) + constant when every step has the same rows and noise:
    // the gradient that training follows (with frozen data and noise) is that of K itself.
    const int64_t T = 6, per_step = 20, d = 2;
    for (VarianceParam variance : {VarianceParam::bounded, VarianceParam::full}) {
        CAPTURE(variance_param_name(variance));
        Generator init(5);
        ReverseModel model({T, d, 8, MeanParam::eps, variance, 1.0 / swiss_roll_std()}, init, DType::f64);
        Generator data_gen(6);
        const Tensor x0_one = scale(sample_swiss_roll(per_step, data_gen, 0.0, DType::f64), model.config().data_scale);
        std::vector<Tensor> noise, x0_rows;
        std::vector<StepGroup> groups;
        for (int64_t t = 2; t <= T; ++t) {
            noise.push_back(Tensor::randn({per_step, d}, data_gen, DType::f64));
            x0_rows.push_back(x0_one);
            groups.push_back({t, (t - 2) * per_step, (t - 1) * per_step});
        }
        const Tensor x0 = concat_rows(x0_rows), eps = concat_rows(noise);
        auto loss_of = [&](const std::vector<Variable>& in) {
            const Variable betas = ag::concat_rows({Variable(Tensor::full({1, 1}, 1e-5, DType::f64)), ag::sigmoid(in[0])});
            const Variable table = coefficient_table(betas);
            return ag::add(kl_objective(model, table, x0, groups, eps), final_entropy_term(table));
        };
        Tensor logits = Tensor::from_vector({-9.0, -6.0, -3.0, -1.0, 0.5}, {T - 1, 1}, DType::f64);
        const ag::GradcheckReport report = ag::gradcheck(loss_of, {logits});
        CHECK_MESSAGE(report.ok, report.summary());
        // And the loss is K's: -(T - 1) d loss + H_q(X_1 | X_0) - H_p(X_T) + d log data_scale = K, with the same noise.
        std::vector<double> betas{1e-5};
        for (double l : logits.to_vector()) betas.push_back(1.0 / (1.0 + std::exp(-l)));
        const Schedule schedule = Schedule::from_betas(betas);
        const BoundReport bound = likelihood_bound(model, schedule, scale(x0_one, 1.0 / model.config().data_scale), noise);
        const double loss = loss_of({Variable(logits)}).data().item();
        const double K = -static_cast<double>((T - 1) * d) * loss - entropy_q_first(schedule, d) - entropy_p_final(d) +
                         static_cast<double>(d) * std::log(model.config().data_scale);
        CHECK(K / std::log(2.0) == doctest::Approx(bound.K_bits).epsilon(1e-10));
    }
}

TEST_CASE("K of a checkpoint with param eps, bounded or full variance, a learned schedule and unit data matches PyTorch") {
    // bound_full_*: the full covariance, whose KL bound_torch.py computes with 2x2 matrices.
    for (const std::string stem : {"bound", "bound_full"}) {
        CAPTURE(stem);
        const Checkpoint checkpoint = read_checkpoint(test::golden_path(stem + "_checkpoint.safetensors"));
        CHECK(checkpoint.info.model.mean_param == MeanParam::eps);
        CHECK(checkpoint.info.model.variance_param == (stem == "bound" ? VarianceParam::bounded : VarianceParam::full));
        CHECK(checkpoint.info.schedule_kind == ScheduleKind::learned);
        CHECK(checkpoint.info.model.data_scale == doctest::Approx(1.0 / swiss_roll_std()).epsilon(1e-15));
        ReverseModel model = model_from_checkpoint(checkpoint, DType::f64, Device::cpu());
        const Schedule schedule = checkpoint_schedule(checkpoint);
        const auto expected = read_safetensors(test::golden_path(stem + "_expected.safetensors"));
        std::vector<Tensor> noise;
        for (int64_t t = 2; t <= 40; ++t) noise.push_back(expected.at("noise").rows(t - 2, t - 1).reshape({64, 2}));
        const BoundReport report = likelihood_bound(model, schedule, expected.at("x0"), noise);
        const Tensor kl = Tensor::from_vector(std::vector<double>(report.kl_per_step_bits.begin() + 2, report.kl_per_step_bits.end()),
                                              {39}, DType::f64);
        SWIRL_CHECK_CLOSE(kl, expected.at("kl_per_step_bits"), 1e-9, 1e-12);
        CHECK(report.K_bits == doctest::Approx(expected.at("K_bits").item()).epsilon(1e-10));
    }
}

TEST_CASE("a learned schedule and the parametrization round-trip through a checkpoint") {
    Generator init(7);
    ReverseModel model({5, 2, 8, MeanParam::eps, VarianceParam::full, 1.25}, init);
    LearnedSchedule learned(Schedule({5}));
    fill_(learned.logits().data(), -2.0);
    const std::string path = temp_path("learned");
    save_checkpoint(path, model, nullptr, {model.config(), {5}, ScheduleKind::learned, 3, 0, 0, {}}, &learned);
    const Checkpoint checkpoint = read_checkpoint(path);
    CHECK(checkpoint.info.model.mean_param == MeanParam::eps);
    CHECK(checkpoint.info.model.variance_param == VarianceParam::full);
    CHECK(checkpoint.contents.at("network_tail.4.2.weight").shape() == Shape{5, 8});  // the angle's row
    CHECK(checkpoint.info.model.data_scale == 1.25);
    CHECK(checkpoint_schedule(checkpoint).betas() == learned.current().betas());
    CHECK(learned_schedule(checkpoint).logits().data().to_vector() == learned.logits().data().to_vector());
    CHECK(checkpoint.contents.at("schedule.betas").dtype() == DType::f64);
    std::filesystem::remove(path);
}

TEST_CASE("a checkpoint whose learned betas have the wrong shape or leave (0, 1) is refused in one line") {
    Generator init(8);
    ReverseModel model({5, 2, 8}, init);
    LearnedSchedule learned(Schedule({5}));
    const std::string path = temp_path("bad_betas");
    save_checkpoint(path, model, nullptr, {model.config(), {5}, ScheduleKind::learned, 0, 0, 0, {}}, &learned);
    SafetensorsContents contents = read_checkpoint(path).contents;
    auto rewrite_betas = [&](const Tensor& betas) {
        NamedTensors tensors;
        for (const auto& [name, tensor] : contents.tensors) tensors.emplace_back(name, name == "schedule.betas" ? betas : tensor);
        Metadata metadata = contents.metadata;
        metadata.erase(kDataChecksumKey);
        metadata.erase(kHeaderChecksumKey);
        write_safetensors(path, tensors, metadata);
        return read_checkpoint(path);
    };
    CHECK_THROWS_WITH_AS(checkpoint_schedule(rewrite_betas(Tensor::full({4}, 0.1, DType::f64))),
                         doctest::Contains("'schedule.betas' is f64 [4], expected float64 [5]"), Error);
    CHECK_THROWS_WITH_AS(checkpoint_schedule(rewrite_betas(Tensor::from_vector({1e-5, 0.1, 1.5, 0.2, 0.3}, {5}, DType::f64))),
                         doctest::Contains("beta_3 = 1.5, outside (0, 1)"), Error);
    CHECK_THROWS_WITH_AS(checkpoint_schedule(rewrite_betas(Tensor::full({5}, 0.1, DType::f32))),
                         doctest::Contains("expected float64 [5]"), Error);
    std::filesystem::remove(path);
}
