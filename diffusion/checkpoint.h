// Training checkpoints as safetensors: the model's tensors under the seed's PyTorch names (so PyTorch's
// load_state_dict accepts them), Adam's state under "optimizer.", a learned schedule under "schedule." (betas
// float64 [T], and the logits it trains, float64 [T - 1]), and in __metadata__ the architecture with its
// parametrization ("param", "variance"; absent means the seed's) and data scale, the schedule ("sigmoid" with
// its constants, or "learned"), the step, the generator state, the training options and the format version.
// A binomial model's checkpoint (below) says so in "kernel"; a Gaussian one has no "kernel" key (its bytes are
// those it had before binomial diffusion existed), and "gaussian" is read the same.
#pragma once

#include <cstdint>
#include <string>

#include "diffusion/binomial_model.h"
#include "diffusion/model.h"
#include "diffusion/schedule.h"
#include "nn/adam.h"
#include "tensor/io/safetensors.h"

namespace swirl::diffusion {

constexpr const char* kCheckpointFormat = "swirl.diffusion";
constexpr int kCheckpointVersion = 1;

// What a checkpoint records besides tensors. `options` are the training options (batch, lr, t_sampling, ...)
// as strings, kept so that a resumed run can continue with the same ones.
struct CheckpointInfo {
    ModelConfig model;
    ScheduleConfig schedule;            // the sigmoid's constants (also the start of a learned schedule)
    ScheduleKind schedule_kind = ScheduleKind::seed;
    int64_t step = 0;
    uint64_t generator_seed = 0, generator_offset = 0;
    Metadata options;
};

// Writes atomically (temporary file, fsync, rename). `optimizer` may be null (a model-only file); `learned` is
// given exactly when info.schedule_kind is learned.
void save_checkpoint(const std::string& path, const ReverseModel& model, const nn::Adam* optimizer,
                     const CheckpointInfo& info, const LearnedSchedule* learned = nullptr);

struct Checkpoint {
    std::string path;  // where it was read from, for error messages
    SafetensorsContents contents;
    CheckpointInfo info;
};
// Reads and validates: the format and version, every architecture field, and that the model tensors it holds
// have as many values as that architecture (so that no one builds a model larger than the file; names and shapes
// are checked when the weights load). Throws swirl::Error naming the file and the first problem.
Checkpoint read_checkpoint(const std::string& path);
// The same from a parsed file (`path` names it in error messages): what the checkpoint fuzzer drives.
Checkpoint read_checkpoint(SafetensorsContents contents, const std::string& path);

// The model the checkpoint describes, on `device` in `dtype`, with its weights loaded.
ReverseModel model_from_checkpoint(const Checkpoint& checkpoint, DType dtype, Device device);
// Loads the weights into an existing model; every name and shape must match (both are named if not).
void load_model_weights(const Checkpoint& checkpoint, ReverseModel& model);
void load_optimizer_state(const Checkpoint& checkpoint, nn::Adam& optimizer);
// The schedule the model was trained with: the sigmoid's, or the learned betas (checked: float64 [T], each in (0, 1)).
Schedule checkpoint_schedule(const Checkpoint& checkpoint);
// A learned schedule's trainable state, to resume training it.
LearnedSchedule learned_schedule(const Checkpoint& checkpoint);

// Which kernel a checkpoint's model diffuses with: "gaussian" or "binomial".
enum class KernelKind { gaussian, binomial };
KernelKind checkpoint_kernel(const SafetensorsContents& contents, const std::string& path);

// A binomial model's checkpoint: the model's tensors (network_head.0/.2/.4, and network_tail.<i> or network_bumps),
// Adam's state under "optimizer.", the schedule's betas as "schedule.betas" (float64 [T]), and in __metadata__
// "kernel" = "binomial", "data" = "heartbeat", "steps", "data_dim", "hidden", "rate", "input", "activation",
// "bumps" (absent: 0), the step, the generator state and the options. With bumps the file also holds each step's
// mixed readout as network_tail.<i> (float64), so that readers of the seed's naming need not know the bumps; the
// reader checks they are the bumps' mix.
constexpr const char* kDerivedTailPrefix = "network_tail";
struct BinomialCheckpointInfo {
    BinomialModelConfig model;
    int64_t step = 0;
    uint64_t generator_seed = 0, generator_offset = 0;
    Metadata options;
};
void save_binomial_checkpoint(const std::string& path, const BinomialModel& model, const nn::Adam* optimizer,
                              const BinomialSchedule& schedule, const BinomialCheckpointInfo& info);

struct BinomialCheckpoint {
    std::string path;
    SafetensorsContents contents;
    BinomialCheckpointInfo info;
    BinomialSchedule schedule;  // checked: T betas in (0, 1], beta_1 < 1
};
// Reads and validates as read_checkpoint does; throws swirl::Error naming the file and the first problem.
BinomialCheckpoint read_binomial_checkpoint(const std::string& path);
BinomialCheckpoint read_binomial_checkpoint(SafetensorsContents contents, const std::string& path);
BinomialModel binomial_model_from_checkpoint(const BinomialCheckpoint& checkpoint, DType dtype, Device device);
// Loads the weights into an existing model; every name and shape must match (both are named if not).
void load_binomial_model_weights(const BinomialCheckpoint& checkpoint, BinomialModel& model);
void load_binomial_optimizer_state(const BinomialCheckpoint& checkpoint, nn::Adam& optimizer);

}  // namespace swirl::diffusion
