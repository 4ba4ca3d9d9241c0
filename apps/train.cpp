// swirl train: the seed's training loop — draw a batch, KL objective, backward, Adam — with checkpoints,
// figures, a loss log, a progress bar and exact resumption.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <csignal>
#include <cmath>
#include <numbers>
#include <memory>
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
#include "diffusion/binomial_model.h"
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
// The heartbeat's training recipe (heartbeat_defaults).
constexpr int64_t kHeartbeatBatch = 4096, kHeartbeatSteps = 8000;
constexpr double kHeartbeatLr = 5e-3;

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
    parse_rate_param(o.rate);
    parse_head_input(o.input);
    parse_head_activation(o.activation);
    if (o.data == "heartbeat") {
        for (const char* flag : {"--param", "--variance", "--schedule", "--t-sampling", "--shards", "--tf32"})
            SWIRL_CHECK(!o.given.count(flag), "{} is the swiss roll's: --data heartbeat trains binomial diffusion "
                        "(its options: --rate, --input, --activation, --bumps, --hidden, --batch, --lr, --steps)", flag);
        SWIRL_CHECK(o.bumps >= 0 && o.bumps <= BinomialModelConfig{}.steps,
                    "--bumps must be in [0, {}] (0: a readout per step), got {}", BinomialModelConfig{}.steps, o.bumps);
        SWIRL_CHECK(distributed::size() == 1, "--data heartbeat trains in one process: start it without mpirun");
    } else {
        for (const char* flag : {"--rate", "--input", "--activation", "--bumps"})
            SWIRL_CHECK(!o.given.count(flag), "{} is binomial diffusion's: it needs --data heartbeat", flag);
        parse_data_scale(o.data);
    }
    SWIRL_CHECK(o.lr_schedule == "constant" || o.lr_schedule == "cosine",
                "unknown --lr-schedule '{}': expected constant or cosine", o.lr_schedule);
    const Device device = parse_device(o.device);
    SWIRL_CHECK(!o.tf32 || !device.is_cpu(), "--tf32 needs --device cuda: the CPU has no TF32");
}

// The heartbeat's defaults where the command line gives none (the swiss roll's are TrainOptions'): the paper's
// 50 hidden units, and the recipe diffusion/README.md reports.
TrainOptions heartbeat_defaults(TrainOptions o) {
    if (!o.given.count("--hidden")) o.hidden = BinomialModelConfig{}.hidden;
    if (!o.given.count("--batch")) o.batch = kHeartbeatBatch;
    if (!o.given.count("--lr")) o.lr = kHeartbeatLr;
    if (!o.given.count("--steps")) o.steps = kHeartbeatSteps;
    return o;
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

TrainOptions keep_training_options(TrainOptions options, const Metadata& recorded);

// A flag the command line gave must name what the checkpoint's model was trained with.
void check_same_as_trained(const TrainOptions& options, const char* flag, const std::string& given,
                           const std::string& trained) {
    SWIRL_CHECK(!options.given.count(flag) || given == trained,
                "{} {} differs from the checkpoint's {} {}: a resumed run keeps what the model was trained with", flag,
                given, flag, trained);
}

// The options a run trains with: a resumed run takes the checkpoint's, except those given on the command line.
// What the model is (its width, parametrization, data scale and kind of schedule) cannot change on resume.
TrainOptions merge_with_checkpoint(TrainOptions options, const CheckpointInfo& info) {
    const std::string trained_data = info.model.data_scale == 1.0 ? "seed" : "unit";
    check_same_as_trained(options, "--hidden", std::to_string(options.hidden), std::to_string(info.model.hidden));
    check_same_as_trained(options, "--param", options.param, mean_param_name(info.model.mean_param));
    check_same_as_trained(options, "--variance", options.variance, variance_param_name(info.model.variance_param));
    check_same_as_trained(options, "--schedule", options.schedule, schedule_kind_name(info.schedule_kind));
    check_same_as_trained(options, "--data", options.data, trained_data);
    options.param = mean_param_name(info.model.mean_param);
    options.variance = variance_param_name(info.model.variance_param);
    options.schedule = schedule_kind_name(info.schedule_kind);
    options.data = trained_data;
    options.hidden = info.model.hidden;
    return keep_training_options(options, info.options);
}

// The same for a binomial model's checkpoint.
TrainOptions merge_with_checkpoint(TrainOptions options, const BinomialCheckpointInfo& info) {
    const BinomialModelConfig& model = info.model;
    check_same_as_trained(options, "--data", options.data, "heartbeat");
    check_same_as_trained(options, "--rate", options.rate, rate_param_name(model.rate));
    check_same_as_trained(options, "--input", options.input, head_input_name(model.input));
    check_same_as_trained(options, "--activation", options.activation, head_activation_name(model.activation));
    check_same_as_trained(options, "--bumps", std::to_string(options.bumps), std::to_string(model.bumps));
    check_same_as_trained(options, "--hidden", std::to_string(options.hidden), std::to_string(model.hidden));
    options.data = "heartbeat";
    options.rate = rate_param_name(model.rate);
    options.input = head_input_name(model.input);
    options.activation = head_activation_name(model.activation);
    options.bumps = model.bumps;
    options.hidden = model.hidden;
    return keep_training_options(options, info.options);
}

// The training options a checkpoint recorded (its metadata), where the command line gave none.
TrainOptions keep_training_options(TrainOptions options, const Metadata& recorded) {
    auto keep = [&](const char* flag, const char* key, auto& field) {
        auto found = recorded.find(key);
        if (options.given.count(flag) || found == recorded.end()) return;
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
    auto trained_steps = recorded.find("train_steps");
    auto trained_lr_schedule = recorded.find("lr_schedule");
    if (trained_steps != recorded.end()) {
        const bool cosine_goes_on = options.lr_schedule == "cosine" && trained_lr_schedule != recorded.end() &&
                                    trained_lr_schedule->second == "cosine";
        SWIRL_CHECK(!cosine_goes_on || !options.given.count("--steps") ||
                        std::to_string(options.steps) == trained_steps->second,
                    "--steps {} differs from the checkpoint's --steps {}: the cosine lr schedule runs over the whole "
                    "run's --steps (to train further, resume with --lr-schedule constant)",
                    options.steps, trained_steps->second);
        keep("--steps", "train_steps", options.steps);
    }
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

// What the training loop asks of a model under training, whatever its diffusion kernel: the loop owns the steps,
// the learning rate, the loss log, checkpoints, figures and stopping; a trainee the model, its optimizer and data.
class Trainee {
public:
    virtual ~Trainee() = default;
    virtual std::string describe() const = 0;  // the run's header line after "swirl train: "
    virtual Device device() const = 0;
    // One training step at this learning rate; its loss, a one-element tensor on the device (not read back).
    virtual Tensor step(double lr) = 0;
    // Writes the checkpoint after `step`; throws (keeping the last checkpoint) if a parameter is not finite.
    virtual void save(const std::string& path, int64_t step) = 0;
    virtual void figure(const std::string& path, int64_t step) = 0;
};

// Every parameter finite, or one line that says which is not and that the last checkpoint is kept.
void check_finite(const nn::Module& model, int64_t step, const std::string& path) {
    for (const auto& [name, parameter] : model.named_parameters())
        SWIRL_CHECK(first_non_finite(parameter.data()) < 0,
                    "training diverged: parameter {} is not finite after step {}; the last checkpoint {} is kept", name,
                    step, path);
}

// The options every checkpoint records to resume with (the swiss roll's add t_sampling and shards).
Metadata recorded_options(const TrainOptions& options) {
    return {{"batch", std::to_string(options.batch)}, {"lr", fmt::format("{:.17g}", options.lr)},
            {"seed", std::to_string(options.seed)},   {"lr_schedule", options.lr_schedule},
            {"train_steps", std::to_string(options.steps)}};
}

// The swiss roll under Gaussian diffusion: the seed's model, its parametrizations, a learned schedule, shards.
class GaussianTrainee : public Trainee {
public:
    GaussianTrainee(const TrainOptions& options, const Checkpoint* resumed, Device device, Generator& gen)
        : options_(options), device_(device), gen_(gen),
          model_config_{.hidden = options.hidden,
                        .mean_param = parse_mean_param(options.param),
                        .variance_param = parse_variance_param(options.variance),
                        .data_scale = parse_data_scale(options.data)},
          schedule_kind_(parse_schedule_kind(options.schedule)) {
        if (resumed != nullptr) {
            model_config_ = resumed->info.model;
            schedule_config_ = resumed->info.schedule;
        }
        seed_schedule_ = Schedule(schedule_config_);
        if (schedule_kind_ == ScheduleKind::learned)
            learned_ = resumed != nullptr ? learned_schedule(*resumed) : LearnedSchedule(seed_schedule_);
        model_.emplace(model_config_, gen, DType::f32, device);
        std::vector<Variable> parameters = model_->parameters();
        if (learned_) parameters.push_back(learned_->logits());
        adam_.emplace(parameters, nn::AdamOptions{.lr = options.lr});
        if (resumed != nullptr) {
            load_model_weights(*resumed, *model_);
            load_optimizer_state(*resumed, *adam_);
        }
    }
    std::string describe() const override {
        return fmt::format("T={} H={} batch={} lr={} ({}) t-sampling={} param={} variance={} schedule={} data={} "
                           "device={}{} path={} kernels={} shards={} ranks={}",
                           model_config_.steps, model_config_.hidden, options_.batch, options_.lr, options_.lr_schedule,
                           options_.t_sampling, options_.param, options_.variance, options_.schedule, options_.data,
                           device_name(device_), options_.tf32 ? " (tf32)" : "", nn::fusion_enabled() ? "fused" : "plain",
                           cpu::kernels().capability, options_.shards, distributed::size());
    }
    Device device() const override { return device_; }
    Tensor step(double lr) override {
        adam_->set_lr(lr);
        return training_step(*model_, *adam_, seed_schedule_, learned_ ? &*learned_ : nullptr, options_.batch,
                             parse_t_sampling(options_.t_sampling), gen_, options_.shards);
    }
    void save(const std::string& path, int64_t step) override {
        check_finite(*model_, step, path);
        if (learned_)
            SWIRL_CHECK(first_non_finite(learned_->logits().data()) < 0,
                        "training diverged: the learned schedule is not finite after step {}; the last checkpoint {} is kept",
                        step, path);
        CheckpointInfo info{model_config_, schedule_config_, schedule_kind_, step, gen_.seed(), gen_.offset(),
                            recorded_options(options_)};
        info.options["t_sampling"] = options_.t_sampling;
        info.options["shards"] = std::to_string(options_.shards);
        save_checkpoint(path, *model_, &*adam_, info, learned_ ? &*learned_ : nullptr);
    }
    void figure(const std::string& path, int64_t step) override {
        // The schedule the sampler uses: the learned one as it is now.
        Generator figure_gen(options_.seed + kFigureSeedOffset);
        draw_model_figure(path, *model_, learned_ ? learned_->current() : seed_schedule_, options_.figure_points,
                          figure_gen,
                          fmt::format("swirl  step {}  batch {}  t-sampling {}", step, options_.batch, options_.t_sampling));
    }

private:
    TrainOptions options_;
    Device device_;
    Generator& gen_;
    ModelConfig model_config_;
    ScheduleConfig schedule_config_;
    ScheduleKind schedule_kind_;
    Schedule seed_schedule_;
    std::optional<LearnedSchedule> learned_;
    std::optional<ReverseModel> model_;
    std::optional<nn::Adam> adam_;
};

// The heartbeat under binomial diffusion (diffusion/binomial_model.h), in float64 on one process.
class BinomialTrainee : public Trainee {
public:
    BinomialTrainee(const TrainOptions& options, const BinomialCheckpoint* resumed, Device device, Generator& gen)
        : options_(options), device_(device), gen_(gen),
          model_config_{.hidden = options.hidden, .rate = parse_rate_param(options.rate),
                        .input = parse_head_input(options.input),
                        .activation = parse_head_activation(options.activation), .bumps = options.bumps},
          schedule_(model_config_.steps) {
        if (resumed != nullptr) {
            model_config_ = resumed->info.model;
            schedule_ = resumed->schedule;
        }
        model_.emplace(model_config_, gen, DType::f64, device);
        adam_.emplace(model_->parameters(), nn::AdamOptions{.lr = options.lr});
        if (resumed != nullptr) {
            load_binomial_model_weights(*resumed, *model_);
            load_binomial_optimizer_state(*resumed, *adam_);
        }
    }
    std::string describe() const override {
        return fmt::format("data=heartbeat kernel=binomial T={} H={} rate={} input={} activation={} bumps={} batch={} "
                           "lr={} ({}) device={} path={} kernels={}",
                           model_config_.steps, model_config_.hidden, rate_param_name(model_config_.rate),
                           head_input_name(model_config_.input), head_activation_name(model_config_.activation),
                           model_config_.bumps,
                           options_.batch, options_.lr, options_.lr_schedule, device_name(device_),
                           nn::fusion_enabled() ? "fused" : "plain", cpu::kernels().capability);
    }
    Device device() const override { return device_; }
    Tensor step(double lr) override {
        adam_->set_lr(lr);
        return binomial_training_step(*model_, *adam_, schedule_, options_.batch, gen_).to(DType::f32);
    }
    void save(const std::string& path, int64_t step) override {
        check_finite(*model_, step, path);
        BinomialCheckpointInfo info{model_config_, step, gen_.seed(), gen_.offset(), recorded_options(options_)};
        save_binomial_checkpoint(path, *model_, &*adam_, schedule_, info);
    }
    void figure(const std::string& path, int64_t step) override {
        Generator figure_gen(options_.seed + kFigureSeedOffset);
        draw_heartbeat_figure(path, model_rate(*model_, schedule_), schedule_.steps(), figure_gen,
                              fmt::format("swirl heartbeat  step {}  batch {}  rate {}", step, options_.batch,
                                          rate_param_name(model_config_.rate)));
    }

private:
    TrainOptions options_;
    Device device_;
    Generator& gen_;
    BinomialModelConfig model_config_;
    BinomialSchedule schedule_;
    std::optional<BinomialModel> model_;
    std::optional<nn::Adam> adam_;
};

}  // namespace

int run_train(const TrainOptions& given_options) {
    check_options(given_options);
    std::optional<Checkpoint> resumed;
    std::optional<BinomialCheckpoint> resumed_binomial;
    if (!given_options.resume.empty()) {
        SafetensorsContents contents = read_safetensors(given_options.resume);
        if (checkpoint_kernel(contents, given_options.resume) == KernelKind::binomial)
            resumed_binomial = read_binomial_checkpoint(std::move(contents), given_options.resume);
        else
            resumed = read_checkpoint(std::move(contents), given_options.resume);
    }
    TrainOptions options = resumed            ? merge_with_checkpoint(given_options, resumed->info)
                           : resumed_binomial ? merge_with_checkpoint(given_options, resumed_binomial->info)
                                              : given_options;
    if (!resumed_binomial && options.data == "heartbeat") options = heartbeat_defaults(options);
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
    const fs::path out(options.out);
    if (writer) prepare_output(out);
    set_threads(options.threads);
    autograd::set_detect_anomaly(options.detect_anomaly);
    set_cuda_allow_tf32(options.tf32);
    nn::set_fusion_enabled(!options.no_fuse);

    Generator gen(options.seed);
    std::unique_ptr<Trainee> trainee;
    if (options.data == "heartbeat")
        trainee = std::make_unique<BinomialTrainee>(options, resumed_binomial ? &*resumed_binomial : nullptr, device, gen);
    else
        trainee = std::make_unique<GaussianTrainee>(options, resumed ? &*resumed : nullptr, device, gen);
    int64_t step = 0;
    LossLog log;
    // Either kind of checkpoint's info has the step and the generator state.
    auto resume_from = [&](const auto& info) {
        step = info.step;
        gen.set_state(info.generator_seed, info.generator_offset);
    };
    if (resumed) resume_from(resumed->info);
    if (resumed_binomial) resume_from(resumed_binomial->info);
    if (resumed || resumed_binomial) {
        if (writer) log.load(out / "loss.csv", step);
        SWIRL_CHECK(step <= options.steps, "{} is at step {}, past --steps {}: nothing to do", options.resume, step,
                    options.steps);
    }

    const std::string checkpoint_path = (out / "checkpoint.safetensors").string();
    // A diverged run must stop before it overwrites the last good checkpoint: every save checks the parameters.
    auto save = [&] {
        if (!writer) return;
        // For the fault tests (tests/mpi_test.sh): a slow disk, so that a rank ending the job early would be seen.
        if (const char* delay = std::getenv("SWIRL_TEST_SLOW_SAVE_MS"))
            std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
        trainee->save(checkpoint_path, step);
    };
    auto figure = [&](const std::string& path) {
        if (writer) trainee->figure(path, step);
    };

    StopOnSignal stop_on_signal;  // from here on, SIGINT / SIGTERM stop after the next step with a checkpoint
    if (writer)
        fmt::print("swirl train: {} steps {}..{} -> {}\n", trainee->describe(), step + 1, options.steps, out.string());
    Progress progress(step, options.steps, writer ? stdout : nullptr);
    // Losses of the steps since the last read-back, gathered on the training device.
    Tensor pending_losses = Tensor::empty({kLossReadEvery}, DType::f32, trainee->device());
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
        const Tensor loss = trainee->step(learning_rate(options, step + 1));
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
