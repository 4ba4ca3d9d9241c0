// swirl sample: what a trained checkpoint generates, as CSV and as the figure.
#include <algorithm>
#include <filesystem>
#include <iterator>

#include "apps/commands.h"
#include "apps/runtime.h"
#include "tensor/distributed/distributed.h"
#include "apps/model_figure.h"
#include "diffusion/checkpoint.h"
#include "diffusion/sampler.h"
#include "tensor/io/atomic_file.h"
#include "tensor/error.h"

namespace swirl::app {

using namespace swirl::diffusion;

namespace {

// A binomial model's samples: sequences of 0/1, a line each, and the heartbeat figure.
void sample_binomial(const SampleOptions& options, const BinomialCheckpoint& checkpoint, Device device) {
    BinomialModel model = binomial_model_from_checkpoint(checkpoint, DType::f64, device);
    const ReverseRate rate = model_rate(model, checkpoint.schedule);
    if (!options.csv.empty()) {
        AtomicFile csv(options.csv);
        Generator gen(options.seed);
        std::string text;
        for (int64_t first = 0; first < options.n; first += kSampleChunkRows) {
            const int64_t rows = std::min(kSampleChunkRows, options.n - first);
            const std::vector<double> bits =
                binomial_sample(rate, checkpoint.schedule.steps(), rows, checkpoint.info.model.data_dim, gen).to_vector();
            text.clear();
            for (std::size_t i = 0; i < bits.size(); ++i)
                fmt::format_to(std::back_inserter(text), "{}{}", bits[i] != 0.0 ? '1' : '0',
                               (i + 1) % static_cast<std::size_t>(checkpoint.info.model.data_dim) == 0 ? "\n" : ",");
            csv.write(text);
        }
        csv.commit();
        fmt::print("wrote {} sequences to {}\n", options.n, options.csv);
    }
    if (!options.png.empty()) {
        Generator gen(options.seed);
        draw_heartbeat_figure(options.png, rate, checkpoint.schedule.steps(), gen,
                              fmt::format("swirl heartbeat  {}  step {}",
                                          std::filesystem::path(options.checkpoint).filename().string(), checkpoint.info.step));
        fmt::print("wrote {}\n", options.png);
    }
}

}  // namespace

void run_sample(const SampleOptions& options) {
    SWIRL_CHECK(distributed::size() == 1, "swirl sample runs in one process: start it without mpirun");
    SWIRL_CHECK(options.n > 0, "--n must be positive, got {}", options.n);
    SWIRL_CHECK(!options.csv.empty() || !options.png.empty(), "nothing to write: give --csv FILE and/or --png FILE");
    const Device device = parse_device(options.device);
    use_kernels(options.kernels, options.device);
    check_device_available(device);
    SafetensorsContents contents = read_safetensors(options.checkpoint);
    if (checkpoint_kernel(contents, options.checkpoint) == KernelKind::binomial)
        return sample_binomial(options, read_binomial_checkpoint(std::move(contents), options.checkpoint), device);
    const Checkpoint checkpoint = read_checkpoint(std::move(contents), options.checkpoint);
    ReverseModel model = model_from_checkpoint(checkpoint, DType::f32, device);
    const Schedule schedule = checkpoint_schedule(checkpoint);
    if (!options.csv.empty()) {
        // Streamed: a chunk of samples at a time goes to the file, so memory does not grow with --n.
        AtomicFile csv(options.csv);
        Generator gen(options.seed);
        std::string text;
        sample_chunks(model, schedule, options.n, gen, {0}, kSampleChunkRows,
                      [&](int64_t, const std::vector<Tensor>& states) {
                          const std::vector<double> xy = states[0].to_vector();
                          text.clear();
                          for (std::size_t i = 0; i + 1 < xy.size(); i += 2)
                              fmt::format_to(std::back_inserter(text), "{:.7g},{:.7g}\n", xy[i], xy[i + 1]);
                          csv.write(text);
                      });
        csv.commit();
        fmt::print("wrote {} samples to {}\n", options.n, options.csv);
    }
    if (!options.png.empty()) {
        Generator gen(options.seed);
        draw_model_figure(options.png, model, schedule, std::min(options.n, options.figure_points), gen,
                          fmt::format("swirl  {}  step {}", std::filesystem::path(options.checkpoint).filename().string(),
                                      checkpoint.info.step));
        fmt::print("wrote {}\n", options.png);
    }
}

}  // namespace swirl::app
