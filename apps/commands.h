// The swirl subcommands: their options (filled by CLI11 in apps/swirl.cpp) and their entry points.
// Each entry point throws swirl::Error on a runtime failure; main() turns that into one line and exit code 1.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace swirl::app {

struct TrainOptions {
    int64_t steps = 25000;           // total: with --resume, training continues up to this step (the checkpoint's unless given)
    int64_t batch = 4096;
    double lr = 3e-3;
    int64_t hidden = 64;
    std::string t_sampling = "sample";
    // The defaults: the recipe with the best held-out K that trains in a few minutes (diffusion/README.md);
    // --param mean --variance free --data seed --lr-schedule constant --t-sampling batch is the seed's.
    std::string param = "eps";         // the reverse mean: mean (the seed) or eps
    std::string variance = "full";     // the reverse variance: free (the seed), bounded or full
    std::string schedule = "seed";     // the forward schedule: seed (fixed) or learned
    std::string data = "unit";         // the swiss roll's scale, seed or unit (unit variance, as the paper), or heartbeat
    std::string rate = "x0";           // heartbeat only: how the readout gives the Bernoulli rate, x0 or sigmoid
    std::string input = "evidence";    // heartbeat only: what the shared layers read, evidence or bits
    std::string activation = "tanh";   // heartbeat only: the shared layers' activation, tanh or sigmoid
    int64_t bumps = 10;                // heartbeat only: readouts mixed per step under temporal bumps; 0: one per step
    std::string lr_schedule = "cosine";  // constant, or cosine (from --lr down to 0 at --steps)
    std::string device = "cpu";
    int threads = 0;                 // 0: OpenMP's default (all cores)
    uint64_t seed = 0;
    std::string out = "out";
    int64_t save_every = 1000;       // 0: only at the end
    int64_t plot_every = 0;          // 0: only at the end
    std::string resume;              // a checkpoint to continue from
    int64_t stop_at = 0;             // stop after this step as an interruption would (checkpoint written); 0: never
    int64_t figure_points = 5000;
    bool detect_anomaly = false;     // name the first op whose output or gradient is not finite
    bool tf32 = false;               // float32 matmuls on a CUDA device may use TF32 tensor cores
    bool no_fuse = false;            // the plain path: every layer's own forward, op by op (nn::set_fusion_enabled)
    std::string kernels = "fast";    // or reference: the plain loops of tensor/reference/ (cpu::use_kernels)
    int64_t shards = 0;              // data-parallel shards of the batch (diffusion/training.h); 0: from the batch
    std::set<std::string> given;     // the flags given on the command line (a resumed run keeps the others)
};

struct SampleOptions {
    std::string checkpoint;
    int64_t n = 5000;
    int64_t figure_points = 20000;  // the figure draws min(n, figure_points) points of its own
    uint64_t seed = 0;
    std::string csv, png;
    std::string device = "cpu";
    std::string kernels = "fast";
};

struct EvalOptions {
    std::string checkpoint;
    int64_t n = 20000;               // a heartbeat checkpoint's default is 2000 sequences (each runs T = 2000 steps)
    bool n_given = false;
    uint64_t seed = 1;
    bool json = false;
    std::string png;                 // the KL of each step beside the entropy terms
    std::string device = "cpu";
    std::string kernels = "fast";
};

struct BenchOptions {
    int64_t batch = 64000;
    int64_t steps = 20;
    int64_t warmup = 3;
    // ...and untimed steps until this long has passed: a virtual machine's idle cores answer a wake-up slowly until
    // they have been busy a while (the first ~0.1 s of a run at batch 4096 runs at half speed on two threads).
    double warmup_seconds = 0.5;
    int threads = 0;
    std::string device = "cpu";
    std::string t_sampling = "batch";  // as the seed (and scripts/torch_reference.py) by default
    double lr = 1e-4;
    int64_t hidden = 64;
    uint64_t seed = 0;
    bool tf32 = false;
    bool no_fuse = false;
    std::string kernels = "fast";
    int64_t shards = 0;
    std::string param = "mean";     // the seed's model by default, as scripts/torch_reference.py
    std::string variance = "free";
    std::string schedule = "seed";  // or learned: the betas train too, as swirl train --schedule learned
    bool profile = false;  // then a second pass of --steps steps, timed phase by phase
    bool json = false;
};

// Returns the exit code: 0, or 128 + the signal when SIGINT / SIGTERM stopped training after a checkpoint.
int run_train(const TrainOptions& options);
void run_bench(const BenchOptions& options);
void run_sample(const SampleOptions& options);
void run_eval(const EvalOptions& options);

}  // namespace swirl::app
