// swirl bench: times real training steps (data, forward, loss, backward, Adam: all that `swirl train` does per
// step) after a warm-up, and reports throughput, achieved GFLOP/s against the machine's measured FMA peak, and
// peak memory. The reference it is compared with is scripts/torch_reference.py (scripts/bench-vs-torch.sh).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>
#include <nlohmann/json.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "apps/commands.h"
#include "apps/runtime.h"
#include "diffusion/training.h"
#include "tensor/cpu/kernels.h"
#include "tensor/distributed/distributed.h"
#include "tensor/error.h"
#include "tensor/host_allocator.h"
#include "tensor/ops.h"
#include "tensor/instruments/probe.h"
#include "tensor/instruments/profile.h"

namespace swirl::app {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

}  // namespace

void run_bench(const BenchOptions& options) {
    SWIRL_CHECK(options.batch > 0 && options.steps > 0, "--batch and --steps must be positive");
    SWIRL_CHECK(options.warmup >= 0 && options.warmup_seconds >= 0 && std::isfinite(options.warmup_seconds),
                "--warmup and --warmup-seconds must be >= 0, got {} and {}", options.warmup, options.warmup_seconds);
    const Device device = distributed::rank_device(options.device);
    use_kernels(options.kernels, options.device);
    check_device_available(device);
    SWIRL_CHECK(!options.tf32 || !device.is_cpu(), "--tf32 needs --device cuda: the CPU has no TF32");
    set_cuda_allow_tf32(options.tf32);
    nn::set_fusion_enabled(!options.no_fuse);
    const diffusion::TSampling t_sampling = diffusion::parse_t_sampling(options.t_sampling);
    set_threads(options.threads);
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
#else
    const int threads = 1;
#endif
    Generator gen(options.seed);
    const diffusion::ModelConfig config{.hidden = options.hidden,
                                        .mean_param = diffusion::parse_mean_param(options.param),
                                        .variance_param = diffusion::parse_variance_param(options.variance)};
    diffusion::ReverseModel model(config, gen, DType::f32, device);
    const diffusion::Schedule schedule;
    // A learned schedule trains its betas with the model, as in swirl train.
    std::optional<diffusion::LearnedSchedule> learned;
    if (diffusion::parse_schedule_kind(options.schedule) == diffusion::ScheduleKind::learned) learned.emplace(schedule);
    std::vector<Variable> parameters = model.parameters();
    if (learned) parameters.push_back(learned->logits());
    nn::Adam adam(parameters, {.lr = options.lr});
    const diffusion::LearnedSchedule* learned_schedule = learned ? &*learned : nullptr;
    const int ranks = distributed::size();
    const int64_t shards = options.shards > 0 ? options.shards : ranks;
    diffusion::check_shards(shards, options.batch, ranks);
    auto step = [&] {
        return diffusion::training_step(model, adam, schedule, learned_schedule, options.batch, t_sampling, gen, shards);
    };
    // Warm-up: --warmup steps, and more until --warmup-seconds have passed on every rank (the ranks agree on each
    // step, since a step's gradient sum needs them all). Each step's loss is read, so a GPU has finished it.
    int64_t warmup_steps = 0;
    const auto warmup_start = Clock::now();
    while (warmup_steps < options.warmup ||
           distributed::max_over_ranks(seconds_since(warmup_start) < options.warmup_seconds ? 1 : 0) == 1) {
        step().item();
        ++warmup_steps;
    }

    // The losses stay on the device, as in `swirl train`, and are read after the clock stops; reading the last one
    // inside the timed span waits for the GPU to finish the steps.
    const OpTraffic traffic_before = op_traffic();
    const double reduce_before = distributed::reduce_seconds(), reduce_bytes_before = distributed::reduce_bytes();
    distributed::max_over_ranks(0);  // the ranks start the clock together
    const auto start = Clock::now();
    std::vector<Tensor> losses;
    for (int64_t i = 0; i < options.steps; ++i)
        losses.push_back(step());
    losses.back().item();
    const double seconds = seconds_since(start);
    const double reduce_ms = 1e3 * (distributed::reduce_seconds() - reduce_before) / static_cast<double>(options.steps);
    const double reduce_mb =
        (distributed::reduce_bytes() - reduce_bytes_before) / static_cast<double>(options.steps) / 1e6;
    distributed::max_over_ranks(0);

    // --profile: as many steps again, each phase timed between waits for the device (which slow the step: this
    // pass is not the timed one above). The rest is the step's time outside every phase.
    double profile_step_ms = 0.0;
    std::vector<profile::PhaseTime> phases;
    if (options.profile) {
        profile::enable(device);
        distributed::max_over_ranks(0);
        synchronize(device);
        const auto profile_start = Clock::now();
        for (int64_t i = 0; i < options.steps; ++i) step();
        synchronize(device);
        profile_step_ms = 1e3 * seconds_since(profile_start) / static_cast<double>(options.steps);
        profile::disable();
        phases = profile::phases();
        distributed::max_over_ranks(0);
    }
    auto phase_ms = [&](const profile::PhaseTime& phase) { return 1e3 * phase.seconds / static_cast<double>(options.steps); };
    double phases_ms = 0.0;
    for (const profile::PhaseTime& phase : phases) phases_ms += phase_ms(phase);

    if (distributed::rank() != 0) return;  // rank 0 reports (and probes the machine, the others done)
    const OpTraffic traffic_after = op_traffic();
    double loss_sum = 0.0;
    for (const Tensor& loss : losses) loss_sum += loss.item();

    const double steps = static_cast<double>(options.steps);
    const double steps_per_s = steps / seconds;
    const double samples_per_s = steps_per_s * static_cast<double>(options.batch);
    const double flops_per_step = diffusion::training_flops_per_sample(config) * static_cast<double>(options.batch);
    const double gflops = steps_per_s * flops_per_step / 1e9;
    const double kernels_per_step = static_cast<double>(traffic_after.kernels - traffic_before.kernels) / steps;
    const double bytes_per_step = static_cast<double>(traffic_after.bytes - traffic_before.bytes) / steps;
    const double rss_mb = peak_rss_mb();  // before the probes, whose buffers are not the step's
    const double device_peak_mb =
        device.is_cpu() ? 0.0 : static_cast<double>(device_memory_peak(device)) / (1 << 20);
    // The step's floor: its FLOPs at the measured FMA peak, or the bytes its ops move at the measured bandwidth,
    // whichever takes longer. Measured after the timed steps, so the probes cannot disturb them.
    const double peak = measure_fma_peak_gflops(device, threads);
    const double bandwidth = measure_copy_bandwidth_gbs(device, threads);
    const double compute_floor_ms = 1e3 * flops_per_step / (peak * 1e9);
    const double memory_floor_ms = 1e3 * bytes_per_step / (bandwidth * 1e9);
    const double floor_ms = std::max(compute_floor_ms, memory_floor_ms);
    const double step_ms = 1e3 * seconds / steps;
    const cpu::Kernels& cpu_kernels = cpu::kernels();  // the CPU kernels that ran (and that the FMA probe measured)
    if (options.json) {
        nlohmann::ordered_json report = {
            {"impl", "swirl"}, {"device", device_name(device)}, {"cpu_capability", cpu_kernels.capability},
            {"vector_floats", cpu_kernels.vector_floats}, {"threads", threads}, {"tf32", options.tf32},
            {"fused", !options.no_fuse}, {"batch", options.batch}, {"ranks", ranks}, {"shards", shards},
            {"samples_per_s_per_rank", samples_per_s / ranks}, {"allreduce_ms_per_step", reduce_ms},
            {"allreduce_mb_per_step", reduce_mb}, {"allreduce_transport", distributed::transport()},
            {"steps", options.steps}, {"warmup_steps", warmup_steps}, {"t_sampling", options.t_sampling}, {"seconds", seconds},
            {"steps_per_s", steps_per_s}, {"samples_per_s", samples_per_s}, {"gflops", gflops},
            {"fma_peak_gflops", peak}, {"peak_share", gflops / peak}, {"bandwidth_gbs", bandwidth},
            {"flops_per_step", flops_per_step}, {"bytes_per_step", bytes_per_step},
            {"kernels_per_step", kernels_per_step}, {"step_ms", step_ms}, {"compute_floor_ms", compute_floor_ms},
            {"memory_floor_ms", memory_floor_ms}, {"floor_ms", floor_ms}, {"floor_share", floor_ms / step_ms},
            {"peak_rss_mb", rss_mb}, {"device_peak_mb", device_peak_mb},
            {"host_tensor_peak_mb", static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20)},
            {"loss_mean", loss_sum / steps}, {"param", options.param}, {"variance", options.variance},
            {"schedule", options.schedule}};
        if (options.profile) {
            nlohmann::ordered_json by_phase = nlohmann::ordered_json::object();
            for (const profile::PhaseTime& phase : phases) by_phase[phase.name] = phase_ms(phase);
            report["profile"] = {{"steps", options.steps}, {"step_ms", profile_step_ms}, {"phases_ms", by_phase},
                                 {"rest_ms", profile_step_ms - phases_ms}};
        }
        fmt::print("{}\n", report.dump());
        return;
    }
    fmt::print("swirl bench: device {}{}, CPU kernels {} ({} floats a vector), {} thread{}, batch {}, t-sampling {}, "
               "param {}, variance {}, schedule {}, {} path, {} steps after {} warm-up\n",
               device_name(device), options.tf32 ? " (tf32)" : "", cpu_kernels.capability, cpu_kernels.vector_floats,
               threads, threads == 1 ? "" : "s", options.batch,
               options.t_sampling, options.param, options.variance, options.schedule,
               options.no_fuse ? "plain" : "fused", options.steps, warmup_steps);
    fmt::print("  {:.2f} steps/s, {:.0f} samples/s, {:.3f} s\n", steps_per_s, samples_per_s, seconds);
    if (ranks > 1)
        fmt::print("  {} ranks, {} shards: {:.0f} samples/s a rank; the sum over ranks ({}) {:.3f} ms a step ({:.1f}%), "
                   "{:.2f} MB sent a rank\n",
                   ranks, shards, samples_per_s / ranks, distributed::transport(), reduce_ms,
                   100.0 * reduce_ms / (1e3 * seconds / steps), reduce_mb);
    fmt::print("  {:.2f} GFLOP/s at {:.0f} FLOP/sample = {:.1f}% of the measured FMA peak ({:.1f} GFLOP/s)\n", gflops,
               diffusion::training_flops_per_sample(config), 100.0 * gflops / peak, peak);
    fmt::print("  a step: {:.3f} ms, {:.0f} kernels, {:.1f} MB through its ops' operands\n", step_ms,
               kernels_per_step, bytes_per_step / 1e6);
    fmt::print("  floor {:.3f} ms = max(FLOPs at the FMA peak {:.3f} ms, bytes at {:.1f} GB/s {:.3f} ms): "
               "the step runs at {:.1f}% of its floor's speed\n",
               floor_ms, compute_floor_ms, bandwidth, memory_floor_ms, 100.0 * floor_ms / step_ms);
    fmt::print("  peak RSS {:.1f} MB (host tensors at most {:.1f} MB at once)", rss_mb,
               static_cast<double>(host_memory_stats().peak_in_use) / (1 << 20));
    if (device_peak_mb > 0) fmt::print(", device memory peak {:.1f} MB", device_peak_mb);
    fmt::print("\n  mean loss {:.5f}\n", loss_sum / steps);
    if (!options.profile) return;
    fmt::print("  profile ({} more steps, waiting for the device at each phase's ends): {:.3f} ms a step\n", options.steps,
               profile_step_ms);
    for (const profile::PhaseTime& phase : phases)
        fmt::print("    {:<20} {:8.3f} ms  {:5.1f}%\n", phase.name, phase_ms(phase), 100.0 * phase_ms(phase) / profile_step_ms);
    fmt::print("    {:<20} {:8.3f} ms  {:5.1f}%\n", "rest", profile_step_ms - phases_ms,
               100.0 * (profile_step_ms - phases_ms) / profile_step_ms);
}

}  // namespace swirl::app
