// Ancestral sampling through the reverse model, a chunk of rows at a time.
#include "diffusion/sampler.h"

#include <algorithm>
#include <numeric>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

void sample_chunks(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen,
                   const std::vector<int64_t>& times, int64_t chunk_rows, const SampleVisitor& visit) {
    const ModelConfig& config = model.config();
    SWIRL_CHECK(n > 0, "sample: n must be positive, got {}", n);
    SWIRL_CHECK(chunk_rows > 0, "sample: chunk_rows must be positive, got {}", chunk_rows);
    SWIRL_CHECK(schedule.steps() == config.steps, "sample: the schedule has {} steps, the model {}", schedule.steps(),
                config.steps);
    for (int64_t t : times)
        SWIRL_CHECK(0 <= t && t <= config.steps, "sample: state x_{} asked for, the chain has t = 0..{}", t, config.steps);
    NoGradGuard no_grad;
    const Tensor& like = model.like();
    const Generator start = gen;
    std::vector<Tensor> states(times.size());
    auto keep = [&](int64_t t, const Tensor& x) {
        for (std::size_t i = 0; i < times.size(); ++i)
            if (times[i] == t || (times[i] == 0 && t == 1))
                states[i] = config.data_scale == 1.0 ? x : scale(x, 1.0 / config.data_scale);
    };
    for (int64_t first = 0; first < n; first += chunk_rows) {
        const int64_t rows = std::min(chunk_rows, n - first);
        gen = start;  // every chunk replays the draws of all n rows and takes its own rows of each
        Tensor x = Tensor::empty({rows, config.data_dim}, like.dtype(), like.device());
        normal_rows_(x, gen, n, first);
        keep(config.steps, x);
        for (int64_t t = config.steps; t >= 2; --t) {
            ReverseStep p = model.forward(Variable(x), t, schedule);
            Tensor eps = Tensor::empty(x.shape(), x.dtype(), x.device());
            normal_rows_(eps, gen, n, first);
            x = p.draw(eps);
            keep(t - 1, x);
        }
        visit(first, states);
    }
}

std::vector<Tensor> sample_states(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen,
                                  const std::vector<int64_t>& times) {
    std::vector<Tensor> all;
    sample_chunks(model, schedule, n, gen, times, n, [&](int64_t, const std::vector<Tensor>& states) { all = states; });
    return all;
}

std::vector<Tensor> sample_trajectory(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen) {
    std::vector<int64_t> times(static_cast<std::size_t>(model.config().steps + 1));
    std::iota(times.begin(), times.end(), int64_t{0});
    return sample_states(model, schedule, n, gen, times);
}

}  // namespace swirl::diffusion
