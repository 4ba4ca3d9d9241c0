// swirl train: the seed's training loop — draw a batch, KL objective, backward, Adam — with checkpoints,
// figures, a loss log, a progress bar and exact resumption.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <csignal>
#include <cmath>
#include <numbers>
#include <optional>
#include <filesystem>
#include <fstream>
#include <sstream>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "apps/commands.h"
#include "apps/runtime.h"
#include "apps/figures.h"
#include "apps/model_figure.h"
#include "apps/progress.h"
#include "diffusion/checkpoint.h"
#include "diffusion/objective.h"
#include "diffusion/swiss_roll.h"
#include "diffusion/training.h"
#include "tensor/io/atomic_file.h"
#include "tensor/cpu/kernels.h"
#include "tensor/distributed/distributed.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::app {

namespace fs = std::filesystem;
using namespace swirl::diffusion;

namespace {

// Figures draw from their own stream, so plotting more or less often never changes the training run.
constexpr uint64_t kFigureSeedOffset = 0x5157'1F16'0000'0001ull;
// Losses stay on the device and are read back this many at a time: no host synchronisation per step.
constexpr int64_t kLossReadEvery = 25;

void check_options(const TrainOptions& o) {
    SWIRL_CHECK(o.steps > 0, "--steps must be positive, got {}", o.steps);
    SWIRL_CHECK(o.batch > 0, "--batch must be positive, got {}", o.batch);
    SWIRL_CHECK(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive finite number, got {}", o.lr);
    SWIRL_CHECK(o.hidden > 0, "--hidden must be positive, got {}", o.hidden);
    SWIRL_CHECK(o.save_every >= 0 && o.plot_every >= 0, "--save-every and --plot-every must be >= 0");
    SWIRL_CHECK(o.threads >= 0, "--threads must be >= 0, got {}", o.threads);
    SWIRL_CHECK(o.stop_at >= 0, "--stop-at must be >= 0, got {}", o.stop_at);
    SWIRL_CHECK(o.figure_points > 0, "--figure-points must be positive, got {}", o.figure_points);
    parse_t_sampling(o.t_sampling);
    parse_mean_param(o.param);
    parse_variance_param(o.variance);
    parse_schedule_kind(o.schedule);
    parse_data_scale(o.data);
    SWIRL_CHECK(o.lr_schedule == "constant" || o.lr_schedule == "cosine",
                "unknown --lr-schedule '{}': expected constant or cosine", o.lr_schedule);
    const Device device = parse_device(o.device);
    SWIRL_CHECK(!o.tf32 || !device.is_cpu(), "--tf32 needs --device cuda: the CPU has no TF32");
}

// Creates DIR and DIR/figures and proves DIR is writable before any work starts.
void prepare_output(const fs::path& out) {
    std::error_code error;
    fs::create_directories(out / "figures", error);
    SWIRL_CHECK(!error, "cannot create output directory {}: {}", (out / "figures").string(), error.message());
    const fs::path probe = out / ".swirl-write-test";
    {
        std::ofstream file(probe);
        SWIRL_CHECK(file.good(), "output directory {} is not writable", out.string());
    }
    fs::remove(probe, error);
}

// The learning rate of step `step` (1-based) of `steps`: constant, or a cosine from lr down to 0 at the last step.
double learning_rate(const TrainOptions& o, int64_t step) {
    if (o.lr_schedule == "constant") return o.lr;
    const double progress = static_cast<double>(step - 1) / static_cast<double>(o.steps);
    return 0.5 * o.lr * (1.0 + std::cos(std::numbers::pi * progress));
}

// The options a run trains with: a resumed run takes the checkpoint's, except those given on the command line.
// What the model is (its width, parametrization, data scale and kind of schedule) cannot change on resume.
TrainOptions merge_with_checkpoint(TrainOptions options, const CheckpointInfo& info) {
    auto same = [&](const char* flag, const std::string& given, const std::string& trained) {
        SWIRL_CHECK(!options.given.count(flag) || given == trained,
                    "{} {} differs from the checkpoint's {} {}: a resumed run keeps what the model was trained with",
                    flag, given, flag, trained);
    };
    same("--hidden", std::to_string(options.hidden), std::to_string(info.model.hidden));
    same("--param", options.param, mean_param_name(info.model.mean_param));
    same("--variance", options.variance, variance_param_name(info.model.variance_param));
    same("--schedule", options.schedule, schedule_kind_name(info.schedule_kind));
    const std::string trained_data = info.model.data_scale == 1.0 ? "seed" : "unit";
    same("--data", options.data, trained_data);
    options.param = mean_param_name(info.model.mean_param);
    options.variance = variance_param_name(info.model.variance_param);
    options.schedule = schedule_kind_name(info.schedule_kind);
    options.data = trained_data;
    auto keep = [&](const char* flag, const char* key, auto& field) {
        auto found = info.options.find(key);
        if (options.given.count(flag) || found == info.options.end()) return;
        std::istringstream text(found->second);
        text >> field;
    };
    keep("--batch", "batch", options.batch);
    keep("--lr", "lr", options.lr);
    keep("--t-sampling", "t_sampling", options.t_sampling);
    keep("--seed", "seed", options.seed);
    keep("--lr-schedule", "lr_schedule", options.lr_schedule);
    keep("--shards", "shards", options.shards);
    // An interrupted run resumes to its own total. The cosine's horizon is --steps: a cosine run that goes on
    // with cosine keeps it (another --steps would bend the curve it is halfway down); a constant lr may extend.
    auto trained_steps = info.options.find("train_steps");
    auto trained_lr_schedule = info.options.find("lr_schedule");
    if (trained_steps != info.options.end()) {
        const bool cosine_goes_on = options.lr_schedule == "cosine" && trained_lr_schedule != info.options.end() &&
                                    trained_lr_schedule->second == "cosine";
        SWIRL_CHECK(!cosine_goes_on || !options.given.count("--steps") ||
                        std::to_string(options.steps) == trained_steps->second,
                    "--steps {} differs from the checkpoint's --steps {}: the cosine lr schedule runs over the whole "
                    "run's --steps (to train further, resume with --lr-schedule constant)",
                    options.steps, trained_steps->second);
        keep("--steps", "train_steps", options.steps);
    }
    options.hidden = info.model.hidden;
    return options;
}

// The signal that asked training to stop (SIGINT or SIGTERM), or 0. The handler only stores it: the loop
// finishes its step, writes a checkpoint and returns 128 + the signal.
std::atomic<int> stop_signal{0};
extern "C" void request_stop(int signal) { stop_signal.store(signal); }

// Installs the handlers for the lifetime of a training run and restores the previous ones afterwards.
class StopOnSignal {
public:
    StopOnSignal() {
        stop_signal.store(0);
        previous_int_ = std::signal(SIGINT, request_stop);
        previous_term_ = std::signal(SIGTERM, request_stop);
    }
    ~StopOnSignal() {
        std::signal(SIGINT, previous_int_);
        std::signal(SIGTERM, previous_term_);
    }

private:
    void (*previous_int_)(int);
    void (*previous_term_)(int);
};

struct LossLog {
    std::vector<double> steps, losses;

    void add(int64_t step, double loss) {
        steps.push_back(static_cast<double>(step));
        losses.push_back(loss);
    }
    // Keeps the rows of an earlier run's loss.csv up to `last_step`, so a resumed run's curve is whole.
    void load(const fs::path& path, int64_t last_step) {
        std::ifstream file(path);
        std::string line;
        while (std::getline(file, line)) {
            std::istringstream row(line);
            double step = 0, loss = 0;
            char comma = 0;
            if (row >> step >> comma >> loss && comma == ',' && step <= static_cast<double>(last_step)) add(static_cast<int64_t>(step), loss);
        }
    }
    void write(const fs::path& path) const {
        std::string text = "step,loss\n";
        for (std::size_t i = 0; i < steps.size(); ++i) text += fmt::format("{},{:.8g}\n", steps[i], losses[i]);
        write_file_atomically(path.string(), {text});
    }
};

}  // namespace

int run_train(const TrainOptions& given_options) {
    check_options(given_options);
    std::optional<Checkpoint> resumed;
    if (!given_options.resume.empty()) resumed = read_checkpoint(given_options.resume);
    TrainOptions options = resumed ? merge_with_checkpoint(given_options, resumed->info) : given_options;
    check_options(options);
    // Unless told, a shard a rank (one process: the whole batch at once, the fastest step); the checkpoint records
    // the shards, which a resumed run keeps.
    if (options.shards == 0) options.shards = distributed::size();
    check_shards(options.shards, options.batch, distributed::size());
    // Under mpirun every rank trains; rank 0 alone writes the checkpoint, the figures, loss.csv and the messages.
    const bool writer = distributed::rank() == 0;
    // Under mpirun, plain --device cuda puts each rank of a machine on its own GPU.
    const Device device = distributed::rank_device(options.device);
    use_kernels(options.kernels, options.device);
    check_device_available(device);
    const TSampling t_sampling = parse_t_sampling(options.t_sampling);
    const fs::path out(options.out);
    if (writer) prepare_output(out);
    set_threads(options.threads);
    autograd::set_detect_anomaly(options.detect_anomaly);
    set_cuda_allow_tf32(options.tf32);
    nn::set_fusion_enabled(!options.no_fuse);

    Generator gen(options.seed);
    ModelConfig model_config{.hidden = options.hidden,
                             .mean_param = parse_mean_param(options.param),
                             .variance_param = parse_variance_param(options.variance),
                             .data_scale = parse_data_scale(options.data)};
    ScheduleConfig schedule_config;
    const ScheduleKind schedule_kind = parse_schedule_kind(options.schedule);
    if (resumed) {
        model_config = resumed->info.model;
        schedule_config = resumed->info.schedule;
    }
    const Schedule seed_schedule(schedule_config);
    std::optional<LearnedSchedule> learned;
    if (schedule_kind == ScheduleKind::learned)
        learned = resumed ? learned_schedule(*resumed) : LearnedSchedule(seed_schedule);
    ReverseModel model(model_config, gen, DType::f32, device);
    std::vector<Variable> parameters = model.parameters();
    if (learned) parameters.push_back(learned->logits());
    nn::Adam adam(parameters, {.lr = options.lr});
    int64_t step = 0;
    LossLog log;
    if (resumed) {
        load_model_weights(*resumed, model);
        load_optimizer_state(*resumed, adam);
        step = resumed->info.step;
        gen.set_state(resumed->info.generator_seed, resumed->info.generator_offset);
        if (writer) log.load(out / "loss.csv", step);
        SWIRL_CHECK(step <= options.steps, "{} is at step {}, past --steps {}: nothing to do", options.resume, step,
                    options.steps);
    }

    auto checkpoint_info = [&] {
        CheckpointInfo info{model_config, schedule_config, schedule_kind, step, gen.seed(), gen.offset(), {}};
        info.options = {{"batch", std::to_string(options.batch)}, {"lr", fmt::format("{:.17g}", options.lr)},
                        {"t_sampling", options.t_sampling}, {"seed", std::to_string(options.seed)},
                        {"lr_schedule", options.lr_schedule}, {"train_steps", std::to_string(options.steps)},
                        {"shards", std::to_string(options.shards)}};
        return info;
    };
    const std::string checkpoint_path = (out / "checkpoint.safetensors").string();
    // A diverged run must stop before it overwrites the last good checkpoint: every save checks the parameters.
    auto save = [&] {
        if (!writer) return;
        for (const auto& [name, parameter] : model.named_parameters())
            SWIRL_CHECK(first_non_finite(parameter.data()) < 0,
                        "training diverged: parameter {} is not finite after step {}; the last checkpoint {} is kept",
                        name, step, checkpoint_path);
        if (learned)
            SWIRL_CHECK(first_non_finite(learned->logits().data()) < 0,
                        "training diverged: the learned schedule is not finite after step {}; the last checkpoint {} is kept",
                        step, checkpoint_path);
        // For the fault tests (tests/mpi_test.sh): a slow disk, so that a rank ending the job early would be seen.
        if (const char* delay = std::getenv("SWIRL_TEST_SLOW_SAVE_MS"))
            std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
        save_checkpoint(checkpoint_path, model, &adam, checkpoint_info(), learned ? &*learned : nullptr);
    };
    // The schedule the sampler, the figures and the checkpoint use: the learned one as it is now.
    auto current_schedule = [&] { return learned ? learned->current() : seed_schedule; };
    auto figure = [&](const std::string& path) {
        if (!writer) return;
        Generator figure_gen(options.seed + kFigureSeedOffset);
        draw_model_figure(path, model, current_schedule(), options.figure_points, figure_gen,
                          fmt::format("swirl  step {}  batch {}  t-sampling {}", step, options.batch, options.t_sampling));
    };

    StopOnSignal stop_on_signal;  // from here on, SIGINT / SIGTERM stop after the next step with a checkpoint
    if (writer)
        fmt::print("swirl train: T={} H={} batch={} lr={} ({}) t-sampling={} param={} variance={} schedule={} data={} "
                   "device={}{} path={} kernels={} shards={} ranks={} steps {}..{} -> {}\n",
                   model_config.steps, model_config.hidden, options.batch, options.lr, options.lr_schedule,
                   options.t_sampling, options.param, options.variance, options.schedule, options.data,
                   device_name(device), options.tf32 ? " (tf32)" : "", nn::fusion_enabled() ? "fused" : "plain",
                   cpu::kernels().capability, options.shards, distributed::size(), step + 1, options.steps, out.string());
    Progress progress(step, options.steps, writer ? stdout : nullptr);
    // Losses of the steps since the last read-back, gathered on the training device.
    Tensor pending_losses = Tensor::empty({kLossReadEvery}, DType::f32, device);
    int64_t pending = 0;
    auto read_losses = [&] {
        if (pending == 0) return;
        if (!writer) {  // the losses are every rank's alike: rank 0 reads, logs and checks them
            pending = 0;
            return;
        }
        const std::vector<double> values = pending_losses.rows(0, pending).to_vector();
        const int64_t first = step - pending + 1;
        for (int64_t k = 0; k < pending; ++k) {
            SWIRL_CHECK(std::isfinite(values[k]),
                        "training diverged: the loss is {} at step {}; the last checkpoint {} is kept", values[k],
                        first + k, checkpoint_path);
            log.add(first + k, values[k]);
            progress.update(first + k, values[k]);
        }
        pending = 0;
    };
    while (step < options.steps) {
        adam.set_lr(learning_rate(options, step + 1));
        const Tensor loss = training_step(model, adam, seed_schedule, learned ? &*learned : nullptr, options.batch,
                                          t_sampling, gen, options.shards);
        ++step;
        Tensor slot = pending_losses.rows(pending, pending + 1);
        copy_(slot, loss.reshape({1}));
        if (++pending == kLossReadEvery) read_losses();
        // A signal reaches the ranks at different steps: they agree to stop after the same one.
        const int signal = distributed::max_over_ranks(stop_signal.load());
        const bool pause = step == options.stop_at && step < options.steps;
        const bool save_now = options.save_every > 0 && step % options.save_every == 0 && step < options.steps;
        if (save_now || signal != 0 || pause) {
            read_losses();
            // loss.csv first: a run killed between the two files resumes from the older checkpoint, and the
            // resumed run keeps loss.csv's rows up to that checkpoint's step only.
            if (writer) log.write(out / "loss.csv");
            save();
            // A stop ends every rank's process: none may end the job while rank 0 is still writing.
            if (signal != 0 || pause) distributed::max_over_ranks(0);
        }
        if (pause) {
            progress.finish();
            if (writer)
                fmt::print("stopped after step {} (--stop-at); checkpoint written to {} (resume with --resume)\n", step,
                           checkpoint_path);
            return 0;
        }
        if (signal != 0) {
            progress.finish();
            if (writer)
                fmt::print(stderr, "swirl: stopped by {} after step {}; checkpoint written to {} (resume with --resume)\n",
                           signal == SIGINT ? "SIGINT" : "SIGTERM", step, checkpoint_path);
            return 128 + signal;
        }
        if (options.plot_every > 0 && step % options.plot_every == 0 && step < options.steps)
            figure((out / "figures" / fmt::format("step_{:07}.png", step)).string());
    }
    read_losses();
    progress.finish();
    if (writer) log.write(out / "loss.csv");
    save();
    if (!writer) return 0;
    const std::string final_figure = (out / "figures" / fmt::format("step_{:07}.png", step)).string();
    figure(final_figure);
    if (!log.steps.empty()) draw_loss_curve((out / "figures" / "loss.png").string(), log.steps, log.losses, "training loss");
    fmt::print("wrote {}, {}, {}/figures/loss.png and {}/loss.csv\n", checkpoint_path, final_figure, out.string(),
               out.string());
    return 0;
}

}  // namespace swirl::app
