// swirl eval: how good a trained checkpoint is: the paper's bound K on held-out data, L_null, the KL of each
// step, and the energy distance of its samples to held-out points.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/runtime.h"
#include "tensor/distributed/distributed.h"
#include "apps/figures.h"
#include "diffusion/binomial_model.h"
#include "diffusion/bound.h"
#include "diffusion/checkpoint.h"
#include "diffusion/sampler.h"
#include "diffusion/swiss_roll.h"
#include "tensor/error.h"

namespace swirl::app {

using namespace swirl::diffusion;

namespace {

// Held-out data comes from its own stream: seed and offset never used by training's generator.
constexpr uint64_t kHeldOutSeedOffset = 0x4E1D'0000'0000'0001ull;
// The energy distance is O(n^2): it uses at most this many points of each set.
constexpr int64_t kEnergyPoints = 5000;
// A heartbeat evaluation's defaults: each sequence runs all T = 2000 steps, so fewer than the swiss roll's points
// (the standard error says what they buy); the samples checked for being a true sequence.
constexpr int64_t kHeartbeatEvalSequences = 2000, kHeartbeatEvalSamples = 2000;

// The bound's terms as the figure draws them: the per-step KLs (t = 2..T) and the rest, per `unit`.
BoundTerms bound_terms(const BoundParts& bound, const char* unit) {
    BoundTerms terms;
    terms.kl_bits.assign(bound.kl_per_step_bits.begin() + 2, bound.kl_per_step_bits.end());
    double kl_sum = 0.0;
    for (double kl : terms.kl_bits) kl_sum += kl;
    terms.K_bits = bound.K_bits;
    terms.entropy_bits = bound.K_bits + kl_sum;
    terms.K_minus_L_null_bits = bound.K_minus_L_null_bits;
    terms.unit = unit;
    return terms;
}

// What either kernel's report says in JSON, after the checkpoint's and n: K, its error, L_null, the entropy terms,
// the per-step KLs and their errors.
nlohmann::ordered_json bound_json(const std::string& checkpoint, int64_t step, int64_t n, const BoundParts& bound) {
    auto steps = [](const std::vector<double>& per_t) { return std::vector<double>(per_t.begin() + 2, per_t.end()); };
    return {{"checkpoint", checkpoint},
            {"step", step},
            {"n", n},
            {"K_bits", bound.K_bits},
            {"K_se_bits", bound.K_se_bits},
            {"L_null_bits", bound.L_null_bits},
            {"K_minus_L_null_bits", bound.K_minus_L_null_bits},
            {"H_q_T_nats", bound.H_q_T},
            {"H_q_1_nats", bound.H_q_1},
            {"H_p_T_nats", bound.H_p_T},
            {"kl_per_step_bits", steps(bound.kl_per_step_bits)},
            {"kl_se_per_step_bits", steps(bound.kl_se_per_step_bits)}};
}

// A binomial model on held-out heartbeat sequences: K with its standard error, L_null, the per-step KLs, and how
// many of its samples are one of the five true sequences.
void eval_binomial(const EvalOptions& options, const BinomialCheckpoint& checkpoint, Device device) {
    BinomialModel model = binomial_model_from_checkpoint(checkpoint, DType::f64, device);
    const ReverseRate rate = model_rate(model, checkpoint.schedule);
    const int64_t n = options.n_given ? options.n : kHeartbeatEvalSequences;
    Generator data_gen(options.seed + kHeldOutSeedOffset);
    const Tensor held_out = sample_heartbeat(n, data_gen);
    Generator noise_gen(options.seed);
    const BinomialBoundReport bound = binomial_bound(rate, checkpoint.schedule, held_out, noise_gen);
    // Samples that are exactly a heartbeat: one 1 every kHeartbeatPeriod bins, nothing else.
    const int64_t sample_n = std::min<int64_t>(n, kHeartbeatEvalSamples), d = checkpoint.info.model.data_dim;
    const std::vector<double> bits =
        binomial_sample(rate, checkpoint.schedule.steps(), sample_n, d, noise_gen).to_vector();
    const std::vector<double> truth = heartbeat_sequences().to_vector();
    int64_t exact = 0;
    for (int64_t row = 0; row < sample_n; ++row)
        for (int64_t phase = 0; phase < kHeartbeatPeriod; ++phase)
            if (std::equal(bits.begin() + row * d, bits.begin() + (row + 1) * d, truth.begin() + phase * d)) ++exact;
    const double exact_share = static_cast<double>(exact) / static_cast<double>(sample_n);

    if (!options.png.empty())
        draw_bound_figure(options.png, bound_terms(bound, "sequence"),
                          fmt::format("swirl eval  {}  step {}  ({} held-out sequences)",
                                      std::filesystem::path(options.checkpoint).filename().string(),
                                      checkpoint.info.step, n));
    if (options.json) {
        nlohmann::ordered_json report = bound_json(options.checkpoint, checkpoint.info.step, n, bound);
        report["kernel"] = "binomial";
        report["data"] = "heartbeat";
        report["rate"] = rate_param_name(checkpoint.info.model.rate);
        report["input"] = head_input_name(checkpoint.info.model.input);
        report["activation"] = head_activation_name(checkpoint.info.model.activation);
        report["bumps"] = checkpoint.info.model.bumps;
        report["samples"] = sample_n;
        report["samples_exact_share"] = exact_share;
        fmt::print("{}\n", report.dump());
        return;
    }
    fmt::print("checkpoint {} (step {}, heartbeat, binomial diffusion), {} held-out sequences\n", options.checkpoint,
               checkpoint.info.step, n);
    fmt::print("  K (log-likelihood bound)       {:8.4f} +- {:.4f} bits/sequence   (exact: -log2 5 = -2.3219)\n",
               bound.K_bits, bound.K_se_bits);
    fmt::print("  L_null (independent bits, 0.2) {:8.4f} bits/sequence\n", bound.L_null_bits);
    fmt::print("  K - L_null                     {:8.4f} +- {:.4f} bits/sequence   (paper, Table 1: K = -2.414, "
               "K - L_null = 12.024)\n",
               bound.K_minus_L_null_bits, bound.K_se_bits);
    fmt::print("  samples that are a heartbeat   {:8.4f}              ({} samples)\n", exact_share, sample_n);
    fmt::print("  KL per step (bits), summed over blocks of steps:");
    const int64_t steps = checkpoint.schedule.steps(), block = std::max<int64_t>(1, steps / 10);
    for (int64_t first = 2; first <= steps; first += block) {
        const int64_t last = std::min(steps, first + block - 1);
        double kl = 0.0;
        for (int64_t t = first; t <= last; ++t) kl += bound.kl_per_step_bits[static_cast<std::size_t>(t)];
        fmt::print("{}t={}..{} {:.4f}", (first - 2) / block % 4 == 0 ? "\n    " : "  ", first, last, kl);
    }
    fmt::print("\n");
}

}  // namespace

void run_eval(const EvalOptions& options) {
    SWIRL_CHECK(distributed::size() == 1, "swirl eval runs in one process: start it without mpirun");
    SWIRL_CHECK(options.n > 1, "--n must be at least 2, got {}", options.n);
    const Device device = parse_device(options.device);
    use_kernels(options.kernels, options.device);
    check_device_available(device);
    SafetensorsContents contents = read_safetensors(options.checkpoint);
    if (checkpoint_kernel(contents, options.checkpoint) == KernelKind::binomial)
        return eval_binomial(options, read_binomial_checkpoint(std::move(contents), options.checkpoint), device);
    const Checkpoint checkpoint = read_checkpoint(std::move(contents), options.checkpoint);
    ReverseModel model = model_from_checkpoint(checkpoint, DType::f32, device);
    const Schedule schedule = checkpoint_schedule(checkpoint);

    Generator data_gen(options.seed + kHeldOutSeedOffset);
    const Tensor held_out = sample_swiss_roll(options.n, data_gen, 0.0, DType::f32, device);
    Generator noise_gen(options.seed);
    const BoundReport bound = likelihood_bound(model, schedule, held_out, noise_gen);
    const int64_t energy_n = std::min(options.n, kEnergyPoints);
    const Tensor samples = sample_states(model, schedule, energy_n, noise_gen, {0})[0];
    const double energy = energy_distance(samples, held_out.rows(0, energy_n));

    if (!options.png.empty()) {
        draw_bound_figure(options.png, bound_terms(bound, "point"),
                          fmt::format("swirl eval  {}  step {}  ({} held-out points)",
                                      std::filesystem::path(options.checkpoint).filename().string(), checkpoint.info.step,
                                      options.n));
    }
    if (options.json) {
        nlohmann::ordered_json report = bound_json(options.checkpoint, checkpoint.info.step, options.n, bound);
        report["kernel"] = "gaussian";
        report["K_unit_bits"] = bound.K_unit_bits;
        report["data_std"] = bound.data_std;
        report["energy_distance"] = energy;
        report["energy_points"] = energy_n;
        report["param"] = mean_param_name(checkpoint.info.model.mean_param);
        report["variance"] = variance_param_name(checkpoint.info.model.variance_param);
        report["schedule"] = schedule_kind_name(checkpoint.info.schedule_kind);
        report["data_scale"] = checkpoint.info.model.data_scale;
        fmt::print("{}\n", report.dump());
        return;
    }
    fmt::print("checkpoint {} (step {}), {} held-out points\n", options.checkpoint, checkpoint.info.step, options.n);
    fmt::print("  K (log-likelihood bound)       {:8.4f} +- {:.4f} bits/point\n", bound.K_bits, bound.K_se_bits);
    fmt::print("  K, unit-variance data          {:8.4f} bits/point   (data std {:.4f})\n", bound.K_unit_bits, bound.data_std);
    fmt::print("  L_null (isotropic Gaussian)    {:8.4f} bits/point\n", bound.L_null_bits);
    fmt::print("  K - L_null                     {:8.4f} bits/point   (paper, Table 1: K = 2.35, K - L_null = 6.45)\n",
               bound.K_minus_L_null_bits);
    fmt::print("  energy distance to held-out    {:8.5f}              ({} points each)\n", energy, energy_n);
    fmt::print("  KL per step (bits): ");
    for (int64_t t = 2; t <= schedule.steps(); ++t)
        fmt::print("{}t={} {:.4f}", (t - 2) % 6 == 0 ? "\n    " : "  ", t, bound.kl_per_step_bits[static_cast<std::size_t>(t)]);
    fmt::print("\n");
}

}  // namespace swirl::app
