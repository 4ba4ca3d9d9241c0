// Checkpoint writing and validated reading.
#include "diffusion/checkpoint.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <utility>

#include "tensor/error.h"

namespace swirl::diffusion {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kSchedulePrefix = "schedule.";
constexpr const char* kBetasName = "schedule.betas";
constexpr const char* kLogitsName = "schedule.logits";

std::string exact(double value) { return fmt::format("{:.17g}", value); }

// A model tensor, as opposed to Adam's state or a learned schedule's.
bool is_model_tensor(const std::string& name) {
    return name.rfind(kOptimizerPrefix, 0) != 0 && name.rfind(kSchedulePrefix, 0) != 0;
}

template <typename Number>
Number parse_number(const Metadata& metadata, const std::string& key, const std::string& path) {
    auto found = metadata.find(key);
    SWIRL_CHECK(found != metadata.end(), "{}: checkpoint metadata lacks '{}'", path, key);
    const std::string& text = found->second;
    Number value{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    SWIRL_CHECK(error == std::errc() && end == text.data() + text.size(), "{}: checkpoint metadata '{}' = '{}' is not a number",
                path, key, text);
    return value;
}

// What every swirl checkpoint has: the format, its version and both checksums.
void check_format(const Metadata& m, const std::string& path) {
    auto format = m.find("format");
    SWIRL_CHECK(format != m.end() && format->second == kCheckpointFormat,
                "{}: not a swirl checkpoint (metadata 'format' is '{}', expected '{}')", path,
                format == m.end() ? "" : format->second, kCheckpointFormat);
    // swirl always writes both checksums: a checkpoint without them has had its header edited or damaged.
    SWIRL_CHECK(m.count(kDataChecksumKey) && m.count(kHeaderChecksumKey),
                "{}: the checkpoint lacks its checksums ({} and {}): the header is damaged", path, kDataChecksumKey,
                kHeaderChecksumKey);
    const int version = parse_number<int>(m, "format_version", path);
    SWIRL_CHECK(version == kCheckpointVersion, "{}: checkpoint format version {} is not supported (this swirl reads {})",
                path, version, kCheckpointVersion);
}

// The model's tensors, then the optimizer's state under its prefix.
NamedTensors checkpoint_tensors(const nn::Module& model, const nn::Adam* optimizer) {
    NamedTensors tensors = model.state_dict();
    if (optimizer != nullptr) {
        NamedTensors state = optimizer->state(kOptimizerPrefix);
        tensors.insert(tensors.end(), state.begin(), state.end());
    }
    return tensors;
}

// The number of model values (not the optimizer's or the schedule's) the file holds.
int64_t model_values_in(const SafetensorsContents& contents) {
    int64_t values = 0;
    for (const auto& [name, tensor] : contents.tensors)
        if (is_model_tensor(name)) values += tensor.numel();
    return values;
}

// Copies the file's model tensors into `model` (T steps, H hidden, for the error message).
void load_model_tensors(const SafetensorsContents& contents, const std::string& path, nn::Module& model, int64_t steps,
                        int64_t hidden) {
    NamedTensors weights;
    for (const auto& [name, tensor] : contents.tensors)
        if (is_model_tensor(name)) weights.emplace_back(name, tensor);
    try {
        model.load_state_dict(weights);
    } catch (const Error& e) {
        SWIRL_FAIL("{}: does not fit the model (T={}, H={}): {}", path, steps, hidden, e.what());
    }
}

// The metadata every checkpoint starts from: the training options, the format, the step and the generator state
// (Info: CheckpointInfo or BinomialCheckpointInfo). The kernel's own keys go on top.
template <typename Info>
Metadata training_metadata(const Info& info) {
    Metadata metadata = info.options;
    metadata["format"] = kCheckpointFormat;
    metadata["format_version"] = std::to_string(kCheckpointVersion);
    metadata["step"] = std::to_string(info.step);
    metadata["generator_seed"] = std::to_string(info.generator_seed);
    metadata["generator_offset"] = std::to_string(info.generator_offset);
    return metadata;
}

// Reads back what training_metadata wrote: the step (not negative), the generator state and every key as an option.
template <typename Info>
void read_training_state(const Metadata& m, const std::string& path, Info& info) {
    info.step = parse_number<int64_t>(m, "step", path);
    SWIRL_CHECK(info.step >= 0, "{}: checkpoint step {} is negative", path, info.step);
    info.generator_seed = parse_number<uint64_t>(m, "generator_seed", path);
    info.generator_offset = parse_number<uint64_t>(m, "generator_offset", path);
    for (const auto& [key, value] : m) info.options[key] = value;
}

}  // namespace

KernelKind checkpoint_kernel(const SafetensorsContents& contents, const std::string& path) {
    check_format(contents.metadata, path);
    auto kernel = contents.metadata.find("kernel");
    if (kernel == contents.metadata.end() || kernel->second == "gaussian") return KernelKind::gaussian;
    SWIRL_CHECK(kernel->second == "binomial", "{}: unknown kernel '{}' in checkpoint (expected gaussian or binomial)",
                path, kernel->second);
    return KernelKind::binomial;
}

void save_checkpoint(const std::string& path, const ReverseModel& model, const nn::Adam* optimizer,
                     const CheckpointInfo& info, const LearnedSchedule* learned) {
    SWIRL_CHECK((learned != nullptr) == (info.schedule_kind == ScheduleKind::learned),
                "save_checkpoint: a learned schedule's tensors go with schedule = learned only");
    NamedTensors tensors = checkpoint_tensors(model, optimizer);
    if (learned != nullptr) {
        NoGradGuard no_grad;
        const Tensor betas = learned->betas().data();
        tensors.emplace_back(kBetasName, betas.reshape({betas.dim(0)}));
        const Tensor logits = learned->logits().data();
        tensors.emplace_back(kLogitsName, logits.reshape({logits.dim(0)}));
    }
    Metadata metadata = training_metadata(info);
    metadata["steps"] = std::to_string(info.model.steps);
    metadata["data_dim"] = std::to_string(info.model.data_dim);
    metadata["hidden"] = std::to_string(info.model.hidden);
    metadata["param"] = mean_param_name(info.model.mean_param);
    metadata["variance"] = variance_param_name(info.model.variance_param);
    metadata["data_scale"] = exact(info.model.data_scale);
    metadata["schedule"] = info.schedule_kind == ScheduleKind::learned ? "learned" : "sigmoid";
    metadata["sigmoid_start"] = exact(info.schedule.sigmoid_start);
    metadata["sigmoid_end"] = exact(info.schedule.sigmoid_end);
    metadata["beta_min"] = exact(info.schedule.beta_min);
    metadata["beta_max"] = exact(info.schedule.beta_max);
    write_safetensors(path, tensors, metadata);
}

Checkpoint read_checkpoint(const std::string& path) { return read_checkpoint(read_safetensors(path), path); }

Checkpoint read_checkpoint(SafetensorsContents contents, const std::string& path) {
    Checkpoint checkpoint{path, std::move(contents), {}};
    const Metadata& m = checkpoint.contents.metadata;
    SWIRL_CHECK(checkpoint_kernel(checkpoint.contents, path) == KernelKind::gaussian,
                "{}: a binomial model's checkpoint, where a Gaussian one is expected", path);
    CheckpointInfo& info = checkpoint.info;
    info.model.steps = parse_number<int64_t>(m, "steps", path);
    info.model.data_dim = parse_number<int64_t>(m, "data_dim", path);
    info.model.hidden = parse_number<int64_t>(m, "hidden", path);
    SWIRL_CHECK(2 <= info.model.steps && info.model.steps <= 100000 && 1 <= info.model.data_dim &&
                    info.model.data_dim <= 1024 && 1 <= info.model.hidden && info.model.hidden <= 65536,
                "{}: checkpoint architecture steps={} data_dim={} hidden={} is out of range", path, info.model.steps,
                info.model.data_dim, info.model.hidden);
    // Written by swirl before these keys existed: the seed's parametrization and data.
    info.model.mean_param = m.count("param") ? parse_mean_param(m.at("param")) : MeanParam::mean;
    info.model.variance_param = m.count("variance") ? parse_variance_param(m.at("variance")) : VarianceParam::free;
    info.model.data_scale = m.count("data_scale") ? parse_number<double>(m, "data_scale", path) : 1.0;
    SWIRL_CHECK(std::isfinite(info.model.data_scale) && info.model.data_scale > 0,
                "{}: checkpoint data_scale {} is not a positive number", path, info.model.data_scale);
    // The architecture must account for the model tensors the file holds before anyone builds the model: an edited
    // header (its CRCs recomputed) could otherwise ask for a model of terabytes, allocated before its weights fail
    // to fit. Names and shapes are checked when the weights are loaded.
    const int64_t file_values = model_values_in(checkpoint.contents);
    // Within read_checkpoint's ranges the count is at most about 4.4e14: int64 holds it.
    const int64_t expected_values = model_value_count(info.model);
    SWIRL_CHECK(file_values == expected_values,
                "{}: the model tensors hold {} values, but the architecture steps={} data_dim={} hidden={} variance={} "
                "has {}", path, file_values, info.model.steps, info.model.data_dim, info.model.hidden,
                variance_param_name(info.model.variance_param), expected_values);
    SWIRL_CHECK(m.count("schedule") && (m.at("schedule") == "sigmoid" || m.at("schedule") == "learned"),
                "{}: unknown schedule '{}' in checkpoint (expected sigmoid or learned)", path,
                m.count("schedule") ? m.at("schedule") : "");
    info.schedule_kind = m.at("schedule") == "learned" ? ScheduleKind::learned : ScheduleKind::seed;
    info.schedule = {info.model.steps, parse_number<double>(m, "sigmoid_start", path),
                     parse_number<double>(m, "sigmoid_end", path), parse_number<double>(m, "beta_min", path),
                     parse_number<double>(m, "beta_max", path)};
    read_training_state(m, path, info);
    return checkpoint;
}

void load_model_weights(const Checkpoint& checkpoint, ReverseModel& model) {
    load_model_tensors(checkpoint.contents, checkpoint.path, model, model.config().steps, model.config().hidden);
}

ReverseModel model_from_checkpoint(const Checkpoint& checkpoint, DType dtype, Device device) {
    Generator unused(0);  // the weights are overwritten right away
    ReverseModel model(checkpoint.info.model, unused, dtype, device);
    load_model_weights(checkpoint, model);
    return model;
}

void load_optimizer_state(const Checkpoint& checkpoint, nn::Adam& optimizer) {
    optimizer.load_state(checkpoint.contents, kOptimizerPrefix);
}

namespace {
// A float64 vector [length] of the checkpoint's, by name; one line naming the file and the problem otherwise.
std::vector<double> schedule_tensor(const Checkpoint& checkpoint, const char* name, int64_t length) {
    SWIRL_CHECK(checkpoint.contents.contains(name), "{}: schedule is learned but the checkpoint has no '{}'",
                checkpoint.path, name);
    const Tensor& tensor = checkpoint.contents.at(name);
    SWIRL_CHECK(tensor.dtype() == DType::f64 && tensor.rank() == 1 && tensor.dim(0) == length,
                "{}: '{}' is {} {}, expected float64 [{}]", checkpoint.path, name, dtype_name(tensor.dtype()),
                shape_str(tensor.shape()), length);
    return tensor.to_vector();
}
}  // namespace

Schedule checkpoint_schedule(const Checkpoint& checkpoint) {
    const CheckpointInfo& info = checkpoint.info;
    if (info.schedule_kind == ScheduleKind::seed) return Schedule(info.schedule);
    const std::vector<double> betas = schedule_tensor(checkpoint, kBetasName, info.model.steps);
    for (std::size_t i = 0; i < betas.size(); ++i)
        SWIRL_CHECK(betas[i] > 0 && betas[i] < 1, "{}: '{}' has beta_{} = {}, outside (0, 1)", checkpoint.path,
                    kBetasName, i + 1, betas[i]);
    // Training resumes from the logits; sampling and eval read the betas: both must describe one schedule. The
    // writer stores betas = sigmoid(logits) of the same float64 values, so they agree to rounding.
    const double seed_beta_1 = Schedule(info.schedule).beta(1);
    SWIRL_CHECK(std::abs(betas[0] - seed_beta_1) <= 1e-12 * seed_beta_1,
                "{}: '{}' has beta_1 = {}, but the schedule's metadata gives {} (beta_1 is not learned)", checkpoint.path,
                kBetasName, betas[0], seed_beta_1);
    const std::vector<double> logits = schedule_tensor(checkpoint, kLogitsName, info.model.steps - 1);
    for (std::size_t i = 0; i < logits.size(); ++i) {
        SWIRL_CHECK(std::isfinite(logits[i]), "{}: '{}' holds {} for step {}: the logits must be finite",
                    checkpoint.path, kLogitsName, logits[i], i + 2);
        const double beta = 1.0 / (1.0 + std::exp(-logits[i]));
        SWIRL_CHECK(std::abs(beta - betas[i + 1]) <= 1e-12 * betas[i + 1],
                    "{}: '{}' and '{}' disagree at step {}: sigmoid(logit) = {:.17g}, beta = {:.17g}", checkpoint.path,
                    kLogitsName, kBetasName, i + 2, beta, betas[i + 1]);
    }
    return Schedule::from_betas(betas);
}

LearnedSchedule learned_schedule(const Checkpoint& checkpoint) {
    const CheckpointInfo& info = checkpoint.info;
    SWIRL_CHECK(info.schedule_kind == ScheduleKind::learned, "{}: the schedule is not learned", checkpoint.path);
    const Schedule schedule = checkpoint_schedule(checkpoint);  // checks the betas and the logits agree
    const std::vector<double> logits = schedule_tensor(checkpoint, kLogitsName, info.model.steps - 1);
    return LearnedSchedule(schedule.beta(1), Tensor::from_vector(logits, {info.model.steps - 1}, DType::f64));
}

void save_binomial_checkpoint(const std::string& path, const BinomialModel& model, const nn::Adam* optimizer,
                              const BinomialSchedule& schedule, const BinomialCheckpointInfo& info) {
    NamedTensors tensors = checkpoint_tensors(model, optimizer);
    tensors.emplace_back(kBetasName, Tensor::from_vector(schedule.betas(), {schedule.steps()}, DType::f64));
    if (model.network_bumps)  // every step's mixed readout, for readers of the seed's naming
        for (int64_t t = 1; t <= info.model.steps; ++t) {
            auto [weight, bias] = model.step_readout(t);
            tensors.emplace_back(fmt::format("{}.{}.weight", kDerivedTailPrefix, t - 1), std::move(weight));
            tensors.emplace_back(fmt::format("{}.{}.bias", kDerivedTailPrefix, t - 1), std::move(bias));
        }
    Metadata metadata = training_metadata(info);
    metadata["kernel"] = "binomial";
    metadata["data"] = "heartbeat";
    metadata["steps"] = std::to_string(info.model.steps);
    metadata["data_dim"] = std::to_string(info.model.data_dim);
    metadata["hidden"] = std::to_string(info.model.hidden);
    metadata["rate"] = rate_param_name(info.model.rate);
    metadata["input"] = head_input_name(info.model.input);
    metadata["activation"] = head_activation_name(info.model.activation);
    metadata["bumps"] = std::to_string(info.model.bumps);
    write_safetensors(path, tensors, metadata);
}

BinomialCheckpoint read_binomial_checkpoint(const std::string& path) {
    return read_binomial_checkpoint(read_safetensors(path), path);
}

BinomialCheckpoint read_binomial_checkpoint(SafetensorsContents contents, const std::string& path) {
    SWIRL_CHECK(checkpoint_kernel(contents, path) == KernelKind::binomial,
                "{}: a Gaussian model's checkpoint, where a binomial one is expected", path);
    const Metadata& m = contents.metadata;
    SWIRL_CHECK(m.count("data") && m.at("data") == "heartbeat", "{}: unknown data '{}' for a binomial checkpoint "
                "(expected heartbeat)", path, m.count("data") ? m.at("data") : "");
    BinomialCheckpointInfo info;
    info.model.steps = parse_number<int64_t>(m, "steps", path);
    info.model.data_dim = parse_number<int64_t>(m, "data_dim", path);
    info.model.hidden = parse_number<int64_t>(m, "hidden", path);
    SWIRL_CHECK(2 <= info.model.steps && info.model.steps <= 100000 && info.model.data_dim == kHeartbeatBins &&
                    1 <= info.model.hidden && info.model.hidden <= 65536,
                "{}: checkpoint architecture steps={} data_dim={} hidden={} is out of range (heartbeat data has {} bits)",
                path, info.model.steps, info.model.data_dim, info.model.hidden, kHeartbeatBins);
    for (const char* key : {"rate", "input", "activation"})
        SWIRL_CHECK(m.count(key), "{}: checkpoint metadata lacks '{}'", path, key);
    try {
        info.model.rate = parse_rate_param(m.at("rate"));
        info.model.input = parse_head_input(m.at("input"));
        info.model.activation = parse_head_activation(m.at("activation"));
    } catch (const Error& e) {
        SWIRL_FAIL("{}: {}", path, e.what());
    }
    // Written before bumps existed: free readouts.
    info.model.bumps = m.count("bumps") ? parse_number<int64_t>(m, "bumps", path) : 0;
    SWIRL_CHECK(0 <= info.model.bumps && info.model.bumps <= info.model.steps,
                "{}: checkpoint bumps={} is out of range [0, steps={}]", path, info.model.bumps, info.model.steps);
    const int64_t derived = info.model.bumps > 0 ? info.model.steps * (info.model.hidden + 1) * info.model.data_dim : 0;
    const int64_t file_values = model_values_in(contents);
    const int64_t expected_values = binomial_model_value_count(info.model) + derived;
    SWIRL_CHECK(file_values == expected_values,
                "{}: the model tensors hold {} values, but the architecture steps={} data_dim={} hidden={} bumps={} "
                "has {}", path, file_values, info.model.steps, info.model.data_dim, info.model.hidden,
                info.model.bumps, expected_values);
    read_training_state(m, path, info);
    SWIRL_CHECK(contents.contains(kBetasName), "{}: the checkpoint has no '{}'", path, kBetasName);
    const Tensor& betas = contents.at(kBetasName);
    SWIRL_CHECK(betas.dtype() == DType::f64 && betas.rank() == 1 && betas.dim(0) == info.model.steps,
                "{}: '{}' is {} {}, expected float64 [{}]", path, kBetasName, dtype_name(betas.dtype()),
                shape_str(betas.shape()), info.model.steps);
    std::optional<BinomialSchedule> schedule;
    try {
        schedule = BinomialSchedule::from_betas(betas.to_vector());  // the schedule checks its betas' range
    } catch (const Error& e) {
        SWIRL_FAIL("{}: '{}': {}", path, kBetasName, e.what());
    }
    return {path, std::move(contents), std::move(info), std::move(*schedule)};
}

BinomialModel binomial_model_from_checkpoint(const BinomialCheckpoint& checkpoint, DType dtype, Device device) {
    Generator unused(0);  // the weights are overwritten right away
    BinomialModel model(checkpoint.info.model, unused, dtype, device);
    load_binomial_model_weights(checkpoint, model);
    return model;
}

void load_binomial_model_weights(const BinomialCheckpoint& checkpoint, BinomialModel& model) {
    if (!model.network_bumps) {
        load_model_tensors(checkpoint.contents, checkpoint.path, model, model.config().steps, model.config().hidden);
        return;
    }
    // The bumps are the model; the per-step readouts beside them must be their mix (a file edited by hand, its
    // CRCs recomputed, could otherwise sample with other readouts than a seed-convention reader evaluates).
    SafetensorsContents trained;
    const std::string derived = std::string(kDerivedTailPrefix) + ".";
    for (const auto& [name, tensor] : checkpoint.contents.tensors)
        if (name.rfind(derived, 0) != 0) trained.tensors.emplace_back(name, tensor);
    load_model_tensors(trained, checkpoint.path, model, model.config().steps, model.config().hidden);
    for (int64_t t = 1; t <= model.config().steps; ++t) {
        const auto [weight, bias] = model.step_readout(t);
        for (const auto& [kind, mixed] : {std::pair{"weight", weight}, std::pair{"bias", bias}}) {
            const std::string name = fmt::format("{}{}.{}", derived, t - 1, kind);
            SWIRL_CHECK(checkpoint.contents.contains(name), "{}: the checkpoint has no '{}'", checkpoint.path, name);
            const Tensor& stored = checkpoint.contents.at(name);
            SWIRL_CHECK(stored.dtype() == DType::f64 && stored.shape() == mixed.shape(), "{}: '{}' is {} {}, expected "
                        "float64 {}", checkpoint.path, name, dtype_name(stored.dtype()), shape_str(stored.shape()),
                        shape_str(mixed.shape()));
            const std::vector<double> a = stored.to_vector(), b = mixed.to_vector();
            for (std::size_t k = 0; k < a.size(); ++k)
                SWIRL_CHECK(std::abs(a[k] - b[k]) <= 1e-12 * (1 + std::abs(b[k])),
                            "{}: '{}' is not the bumps' mix at step {} (value {}: {} against {}): the file was edited",
                            checkpoint.path, name, t, k, a[k], b[k]);
        }
    }
}

void load_binomial_optimizer_state(const BinomialCheckpoint& checkpoint, nn::Adam& optimizer) {
    optimizer.load_state(checkpoint.contents, kOptimizerPrefix);
}

}  // namespace swirl::diffusion
