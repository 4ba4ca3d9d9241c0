// The checkpoint fuzzer's work on one input: fix up the CRCs, then read and use the checkpoint.
#include "tests/fuzz/checkpoint_input.h"

#include <optional>
#include <string>
#include <string_view>

#include "diffusion/checkpoint.h"
#include "diffusion/training.h"
#include "nn/layers.h"
#include "tensor/io/checksum.h"
#include "tensor/error.h"

namespace swirl::fuzz {

namespace {

using namespace swirl::diffusion;

// Writes `crc` as 8 hex digits into the value of the header's first `"key":"` field, if it has 8 characters.
void put_checksum(char* header, std::size_t header_len, const char* key, uint32_t crc) {
    const std::string token = fmt::format("\"{}\":\"", key);
    const std::size_t at = std::string_view(header, header_len).find(token);
    if (at == std::string_view::npos || at + token.size() + 8 > header_len) return;
    const std::string digits = fmt::format("{:08x}", crc);
    digits.copy(header + at + token.size(), 8);
}

// Sets the fused path (nn::set_fusion_enabled) for a scope and restores the setting, even when a refusal unwinds.
class FusionSetting {
public:
    explicit FusionSetting(bool enabled) : before_(nn::fusion_enabled()) { nn::set_fusion_enabled(enabled); }
    ~FusionSetting() { nn::set_fusion_enabled(before_); }
    FusionSetting(const FusionSetting&) = delete;
    FusionSetting& operator=(const FusionSetting&) = delete;

private:
    bool before_;
};

// Reads every element of a defined tensor, so the sanitizers check the memory a step produced.
double sum_of(const Variable& value) {
    double sum = 0;
    if (value.defined())
        for (double x : value.data().to_vector()) sum += x;
    return sum;
}

// The reverse step for 3 rows at step t: its mean, variance, rotation and a draw from it.
double reverse_step_at(ReverseModel& model, const Schedule& schedule, int64_t t, Generator& gen) {
    const int64_t d = model.config().data_dim;
    const Variable xt(Tensor::randn({3, d}, gen));
    const ReverseStep step = model.forward(xt, t, schedule);
    return sum_of(step.mean) + sum_of(step.log_var) + sum_of(step.angle) +
           sum_of(Variable(step.draw(Tensor::randn({3, d}, gen))));
}

}  // namespace

std::vector<uint8_t> with_fresh_checksums(const uint8_t* bytes, std::size_t size) {
    std::vector<uint8_t> fixed(bytes, bytes + size);
    if (size < 8) return fixed;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | fixed[static_cast<std::size_t>(i)];
    if (header_len > size - 8) return fixed;
    char* header = reinterpret_cast<char*>(fixed.data() + 8);
    const auto length = static_cast<std::size_t>(header_len);
    // The data's CRC is part of the header, so it goes in first; the header's CRC covers its own field as zeros.
    put_checksum(header, length, kDataChecksumKey, crc32(fixed.data() + 8 + length, size - 8 - length));
    put_checksum(header, length, kHeaderChecksumKey, 0);
    put_checksum(header, length, kHeaderChecksumKey, crc32(header, length));
    return fixed;
}

void run_checkpoint_input(const uint8_t* bytes, std::size_t size) {
    const std::vector<uint8_t> fixed = with_fresh_checksums(bytes, size);
    // No size caps here: read_checkpoint holds the model to the tensors the file has, and the fuzzer's -max_len
    // bounds those.
    const Checkpoint checkpoint = read_checkpoint(parse_safetensors(fixed.data(), fixed.size(), "fuzz-input"), "fuzz-input");
    const CheckpointInfo& info = checkpoint.info;

    ReverseModel model = model_from_checkpoint(checkpoint, DType::f32, Device::cpu());
    const Schedule schedule = checkpoint_schedule(checkpoint);
    std::optional<LearnedSchedule> learned;
    if (info.schedule_kind == ScheduleKind::learned) learned = learned_schedule(checkpoint);
    std::vector<Variable> parameters = model.parameters();
    if (learned) parameters.push_back(learned->logits());
    nn::Adam adam(parameters);
    load_optimizer_state(checkpoint, adam);

    Generator gen(0);
    gen.set_state(info.generator_seed, info.generator_offset);
    double sum = 0;
    for (const bool fused : {true, false}) {
        const FusionSetting fusion(fused);
        NoGradGuard no_grad;
        for (const int64_t t : {int64_t{2}, info.model.steps / 2 + 1, info.model.steps})
            sum += reverse_step_at(model, schedule, t, gen);
    }

    // As swirl train resumes: a learned schedule's constants come from its logits, the sigmoid's from the metadata.
    const auto t_sampling = info.options.find("t_sampling");
    const TSampling mode = t_sampling == info.options.end() ? TSampling::sample : parse_t_sampling(t_sampling->second);
    const Schedule sigmoid = learned ? Schedule(info.schedule) : schedule;
    sum += training_step(model, adam, sigmoid, learned ? &*learned : nullptr, 8, mode, gen).item();
    volatile double sink = sum;
    (void)sink;
}

}  // namespace swirl::fuzz
