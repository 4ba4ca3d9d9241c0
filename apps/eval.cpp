// swirl eval: how good a trained checkpoint is: the paper's bound K on held-out data, L_null, the KL of each
// step, and the energy distance of its samples to held-out points.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/runtime.h"
#include "tensor/distributed/distributed.h"
#include "apps/figures.h"
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

}  // namespace

void run_eval(const EvalOptions& options) {
    SWIRL_CHECK(distributed::size() == 1, "swirl eval runs in one process: start it without mpirun");
    SWIRL_CHECK(options.n > 1, "--n must be at least 2, got {}", options.n);
    const Device device = parse_device(options.device);
    use_kernels(options.kernels, options.device);
    check_device_available(device);
    const Checkpoint checkpoint = read_checkpoint(options.checkpoint);
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
        BoundTerms terms;
        terms.kl_bits.assign(bound.kl_per_step_bits.begin() + 2, bound.kl_per_step_bits.end());
        double kl_sum = 0.0;
        for (double kl : terms.kl_bits) kl_sum += kl;
        terms.K_bits = bound.K_bits;
        terms.entropy_bits = bound.K_bits + kl_sum;
        terms.K_minus_L_null_bits = bound.K_minus_L_null_bits;
        draw_bound_figure(options.png, terms,
                          fmt::format("swirl eval  {}  step {}  ({} held-out points)",
                                      std::filesystem::path(options.checkpoint).filename().string(), checkpoint.info.step,
                                      options.n));
    }
    if (options.json) {
        nlohmann::ordered_json report = {
            {"checkpoint", options.checkpoint},     {"step", checkpoint.info.step},
            {"n", options.n},                       {"K_bits", bound.K_bits},
            {"K_unit_bits", bound.K_unit_bits},     {"L_null_bits", bound.L_null_bits},
            {"K_minus_L_null_bits", bound.K_minus_L_null_bits},
            {"data_std", bound.data_std},           {"energy_distance", energy},
            {"energy_points", energy_n},            {"H_q_T_nats", bound.H_q_T},
            {"H_q_1_nats", bound.H_q_1},            {"H_p_T_nats", bound.H_p_T},
            {"param", mean_param_name(checkpoint.info.model.mean_param)},
            {"variance", variance_param_name(checkpoint.info.model.variance_param)},
            {"schedule", schedule_kind_name(checkpoint.info.schedule_kind)},
            {"data_scale", checkpoint.info.model.data_scale},
            {"kl_per_step_bits", std::vector<double>(bound.kl_per_step_bits.begin() + 2, bound.kl_per_step_bits.end())}};
        fmt::print("{}\n", report.dump());
        return;
    }
    fmt::print("checkpoint {} (step {}), {} held-out points\n", options.checkpoint, checkpoint.info.step, options.n);
    fmt::print("  K (log-likelihood bound)       {:8.4f} bits/point\n", bound.K_bits);
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
