// swirl: train the 2015 diffusion model on a swiss roll, sample from it, evaluate it.
// Exit codes: 0 success, 1 runtime failure (one line on stderr), 2 usage error (CLI11's message).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apps/commands.h"
#include "apps/runtime.h"
#include "tensor/cpu/kernels.h"
#include "tensor/distributed/distributed.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"

using namespace swirl::app;

namespace {

// Number checks with a readable message ("must be a number > 0, got 'abc'"): CLI11's own range check prints the
// type's whole range. `strict` makes the bound exclusive.
CLI::Validator number_above(double low, bool strict) {
    const std::string bound = fmt::format("{} {}", strict ? ">" : ">=", low);
    return CLI::Validator(
        [low, strict, bound](std::string& text) -> std::string {
            char* end = nullptr;
            const double value = std::strtod(text.c_str(), &end);
            const bool in_range = strict ? value > low : value >= low;
            if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || !in_range)
                return fmt::format("must be a number {}, got '{}'", bound, text);
            return "";
        },
        bound);
}
CLI::Validator at_least(double low) { return number_above(low, false); }

// --kernels: the same flag on every command.
void add_kernels_option(CLI::App* cmd, std::string& kernels) {
    cmd->add_option("--kernels", kernels,
                    "CPU kernels: fast (tuned for this CPU) or reference (plain loops, one thread: the oracle, slow)")
        ->check(CLI::IsMember({"fast", "reference"}))
        ->capture_default_str();
}

void add_train(CLI::App& app, TrainOptions& o, int& exit_code) {
    CLI::App* cmd = app.add_subcommand("train", "train on freshly drawn swiss-roll batches, write checkpoints and figures");
    cmd->add_option("--steps", o.steps, "total training steps (with --resume: continue up to this step)")
        ->check(at_least(1))->capture_default_str();
    cmd->add_option("--batch", o.batch, "samples per step")->check(at_least(1))->capture_default_str();
    cmd->add_option("--lr", o.lr, "Adam learning rate")->check(number_above(0, true))->capture_default_str();
    cmd->add_option("--hidden", o.hidden, "hidden width H of the MLP")->check(at_least(1))->capture_default_str();
    cmd->add_option("--t-sampling", o.t_sampling, "batch: one t per batch (the seed); sample: one t per sample")
        ->check(CLI::IsMember({"batch", "sample"}))->capture_default_str();
    cmd->add_option("--param", o.param, "the reverse mean: mean (the seed: the network outputs it) or eps (it predicts the noise)")
        ->check(CLI::IsMember({"mean", "eps"}))->capture_default_str();
    cmd->add_option("--variance", o.variance,
                    "the reverse variance: free (the seed: the network outputs its log), bounded (between the posterior's and beta_t) "
                    "or full (bounded, along axes the network turns: a full 2x2 covariance)")
        ->check(CLI::IsMember({"free", "bounded", "full"}))->capture_default_str();
    cmd->add_option("--schedule", o.schedule, "the forward betas: seed (the seed's sigmoid) or learned (beta_2..T trained on K)")
        ->check(CLI::IsMember({"seed", "learned"}))->capture_default_str();
    cmd->add_option("--data", o.data, "the swiss roll's scale, seed (as the seed draws it) or unit (unit variance, as the paper); "
                                      "or heartbeat: the paper's binary heartbeat under binomial diffusion (defaults: --hidden 50 "
                                      "--batch 4096 --lr 0.005 --steps 8000)")
        ->check(CLI::IsMember({"seed", "unit", "heartbeat"}))->capture_default_str();
    cmd->add_option("--rate", o.rate, "heartbeat: the reverse step's Bernoulli rate, x0 (the readout predicts x_0, averaged through "
                                      "the posterior) or sigmoid (the paper's: the readout's sigmoid)")
        ->check(CLI::IsMember({"x0", "sigmoid"}))->capture_default_str();
    cmd->add_option("--input", o.input, "heartbeat: what the shared layers read of x_t, evidence (each bit's log-odds for x_0 "
                                        "at step t) or bits (the paper's: x_t as 0/1)")
        ->check(CLI::IsMember({"evidence", "bits"}))->capture_default_str();
    cmd->add_option("--activation", o.activation, "heartbeat: the shared layers' activation, tanh (2 sigmoid(2a) - 1: the "
                                                  "paper's functions, centred) or sigmoid (the paper's)")
        ->check(CLI::IsMember({"tanh", "sigmoid"}))->capture_default_str();
    cmd->add_option("--bumps", o.bumps, "heartbeat: N readouts mixed at each step under Gaussian bumps in t (the paper's "
                                        "temporal basis), or 0: a free readout per step (the paper's heartbeat model)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--lr-schedule", o.lr_schedule, "constant, or cosine (from --lr down to 0 at --steps)")
        ->check(CLI::IsMember({"constant", "cosine"}))->capture_default_str();
    cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
    cmd->add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(at_least(0))->capture_default_str();
    cmd->add_option("--seed", o.seed, "seed of the generator (init, data, noise)")->capture_default_str();
    cmd->add_option("--out", o.out, "output directory")->capture_default_str();
    cmd->add_option("--save-every", o.save_every, "checkpoint every N steps (0: only at the end)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--plot-every", o.plot_every, "figure every N steps (0: only at the end)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--resume", o.resume, "continue from this checkpoint")->check(CLI::ExistingFile);
    cmd->add_option("--stop-at", o.stop_at,
                    "stop after this step, checkpoint written, as an interruption would (train in pieces; 0: never)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--figure-points", o.figure_points, "points per figure panel")->check(at_least(1))->capture_default_str();
    cmd->add_flag("--detect-anomaly", o.detect_anomaly, "stop at the first op whose output or gradient is not finite (slow)");
    cmd->add_flag("--tf32", o.tf32, "CUDA only: let float32 matmuls use TF32 tensor cores (faster, ~1e-3 relative)");
    cmd->add_flag("--no-fuse", o.no_fuse,
                  "the plain path: each Linear and ReLU runs its own forward and backward, op by op (same result, slower)");
    cmd->add_option("--shards", o.shards,
                    "cut each batch into this many shards (a power of two), their gradients summed in a fixed tree: "
                    "any number of mpirun ranks that divides it gives the same bytes (0: one a rank)")
        ->check(at_least(0))->capture_default_str();
    add_kernels_option(cmd, o.kernels);
    cmd->callback([&o, cmd, &exit_code] {
        for (const CLI::Option* option : cmd->get_options())
            if (option->count() > 0) o.given.insert(option->get_name());
        exit_code = run_train(o);
    });
}

void add_sample(CLI::App& app, SampleOptions& o) {
    CLI::App* cmd = app.add_subcommand("sample", "draw samples from a checkpoint: CSV (x,y per line) and/or the figure");
    cmd->add_option("--checkpoint", o.checkpoint, "a checkpoint written by swirl train")->required()->check(CLI::ExistingFile);
    cmd->add_option("--n", o.n, "number of samples")->check(at_least(1))->capture_default_str();
    cmd->add_option("--seed", o.seed, "seed of the sampler's noise")->capture_default_str();
    cmd->add_option("--csv", o.csv, "write the samples here, one 'x,y' per line, no header");
    cmd->add_option("--png", o.png, "write the 2x3 figure here");
    cmd->add_option("--figure-points", o.figure_points, "the figure draws min(--n, this) points a panel")
        ->check(at_least(1))
        ->capture_default_str();
    cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
    add_kernels_option(cmd, o.kernels);
    cmd->callback([&o] { run_sample(o); });
}

void add_eval(CLI::App& app, EvalOptions& o) {
    CLI::App* cmd = app.add_subcommand("eval", "the log-likelihood bound K and the energy distance on held-out data");
    cmd->add_option("--checkpoint", o.checkpoint, "a checkpoint written by swirl train")->required()->check(CLI::ExistingFile);
    cmd->add_option("--n", o.n, "held-out points (heartbeat: sequences, 2000 unless given)")->check(at_least(2))->capture_default_str();
    cmd->add_option("--seed", o.seed, "seed of the held-out data and the noise")->capture_default_str();
    cmd->add_flag("--json", o.json, "print one JSON object");
    cmd->add_option("--png", o.png, "draw where the bits go: the KL of each step beside the entropy terms");
    cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
    add_kernels_option(cmd, o.kernels);
    cmd->callback([&o, cmd] {
        o.n_given = cmd->get_option("--n")->count() > 0;
        run_eval(o);
    });
}

void add_bench(CLI::App& app, BenchOptions& o) {
    CLI::App* cmd = app.add_subcommand("bench", "time real training steps: throughput, GFLOP/s against the FMA peak, memory");
    cmd->add_option("--batch", o.batch, "samples per step")->check(at_least(1))->capture_default_str();
    cmd->add_option("--steps", o.steps, "timed steps")->check(at_least(1))->capture_default_str();
    cmd->add_option("--warmup", o.warmup, "untimed steps first, at least")->check(at_least(0))->capture_default_str();
    cmd->add_option("--warmup-seconds", o.warmup_seconds,
                    "and untimed steps until this long has passed (a VM's idle cores wake slowly until they are warm)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(at_least(0))->capture_default_str();
    cmd->add_option("--device", o.device, "cpu or cuda[:N]")->capture_default_str();
    cmd->add_option("--t-sampling", o.t_sampling, "batch or sample")->check(CLI::IsMember({"batch", "sample"}))->capture_default_str();
    cmd->add_option("--lr", o.lr, "Adam learning rate")->check(number_above(0, true))->capture_default_str();
    cmd->add_option("--hidden", o.hidden, "hidden width H")->check(at_least(1))->capture_default_str();
    cmd->add_option("--seed", o.seed, "generator seed")->capture_default_str();
    cmd->add_flag("--tf32", o.tf32, "CUDA only: let float32 matmuls use TF32 tensor cores (faster, ~1e-3 relative)");
    cmd->add_flag("--no-fuse", o.no_fuse,
                  "the plain path: each Linear and ReLU runs its own forward and backward, op by op (same result, slower)");
    cmd->add_option("--shards", o.shards, "shards of the batch, as swirl train's (0: one a rank)")
        ->check(at_least(0))->capture_default_str();
    cmd->add_option("--param", o.param, "the reverse mean, as swirl train's (the seed's by default)")
        ->check(CLI::IsMember({"mean", "eps"}))->capture_default_str();
    cmd->add_option("--variance", o.variance, "the reverse variance, as swirl train's (the seed's by default)")
        ->check(CLI::IsMember({"free", "bounded", "full"}))->capture_default_str();
    cmd->add_option("--schedule", o.schedule, "the forward schedule, as swirl train's: seed (fixed) or learned")
        ->check(CLI::IsMember({"seed", "learned"}))->capture_default_str();
    cmd->add_flag("--profile", o.profile,
                  "then as many steps again, timed phase by phase (data, forward process, model+KL+backward as one op "
                  "or with --no-fuse each its own, Adam), waiting for the device at each phase's ends");
    cmd->add_flag("--json", o.json, "print one JSON object (steps_per_s, samples_per_s, peak_rss_mb, ...)");
    add_kernels_option(cmd, o.kernels);
    cmd->callback([&o] { run_bench(o); });
}

}  // namespace

namespace {
// "swirl: error: ..." in a run of one; "swirl: rank 1: error: ..." under mpirun, so a failing rank is named.
void print_error(const char* what) {
    const int rank = swirl::distributed::size() > 1 ? swirl::distributed::rank() : swirl::distributed::launcher_rank();
    if (rank >= 0)
        std::fprintf(stderr, "swirl: rank %d: error: %s\n", rank, what);
    else
        std::fprintf(stderr, "swirl: error: %s\n", what);
}

// Under mpirun a rank that fails must end the job: the others would wait for it in the next sum for ever. So must
// one whose NCCL communicator fails to close at the end. A code the ranks agreed on (a command's own return, such
// as 143 after SIGTERM) ends each rank normally: MPI_Abort would kill ranks still writing and print a crash.
int finish(int code, bool agreed = false) {
    if (code != 0 && !agreed && swirl::distributed::size() > 1) {
        std::fflush(stdout);
        std::fflush(stderr);
        swirl::distributed::abort_job(code);
    }
    try {
        swirl::distributed::finalize();
    } catch (const swirl::Error& e) {
        print_error(e.what());
        std::fflush(stderr);
        swirl::distributed::abort_job(1);
    }
    return code;
}
}  // namespace

int main(int argc, char** argv) {
    tune_runtime_libraries(argv);
    swirl::set_flush_denormal(true);  // before any OpenMP thread exists: the threads inherit the mode
    CLI::App app{"swirl: the 2015 diffusion model (Sohl-Dickstein et al.) on a swiss roll, from scratch in C++"};
    app.require_subcommand(1);
    TrainOptions train;
    SampleOptions sample;
    EvalOptions eval;
    BenchOptions bench;
    int exit_code = 0;
    add_train(app, train, exit_code);
    add_sample(app, sample);
    add_eval(app, eval);
    add_bench(app, bench);
    // The copies of the CPU kernels (tensor/cpu/kernels.h): which this build has, which this CPU runs, which runs.
    app.add_flag_callback(
           "--cpu-capabilities",
           [] {
               fmt::print("built: {}\nthis CPU runs: {}\nchosen: {}\n", fmt::join(swirl::cpu::built_capabilities(), " "),
                          fmt::join(swirl::cpu::runnable_capabilities(), " "), swirl::cpu::kernels().capability);
               throw CLI::Success();
           },
           "print the CPU kernels this build has (one per instruction set), those this CPU runs and the one chosen "
           "(SWIRL_CPU_CAPABILITY forces one), then exit")
        ->trigger_on_parse();
    try {
        swirl::distributed::init(&argc, &argv);
        swirl::cpu::kernels();  // chosen now: a SWIRL_CPU_CAPABILITY this CPU or build lacks is an error before any work
        if (swirl::distributed::size() > 1) {
            std::string command_line;
            for (int i = 1; i < argc; ++i) command_line += std::string(i > 1 ? " " : "") + argv[i];
            swirl::distributed::check_same_on_all_ranks("arguments", command_line);
        }
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e) == 0 ? 0 : 2;
        if (code != 0 && swirl::distributed::launcher_rank() >= 0)
            std::fprintf(stderr, "swirl: rank %d: error: bad command line (above)\n", swirl::distributed::launcher_rank());
        return finish(code);
    } catch (const swirl::Error& e) {
        print_error(e.what());
        return finish(1);
    } catch (const std::bad_alloc&) {  // a host-side buffer other than a tensor's (tensors say more themselves)
        print_error("out of host memory (a smaller --batch or --n needs less)");
        return finish(1);
    } catch (const std::exception& e) {
        print_error(e.what());
        return finish(1);
    }
    return finish(exit_code, /*agreed=*/true);
}
