// Renders the seed's 2x3 figure from a model: q(x_t) on fresh data (top), the sampler's x_t (bottom).
#include "apps/model_figure.h"

#include "apps/figures.h"
#include "diffusion/objective.h"
#include "diffusion/sampler.h"
#include "diffusion/swiss_roll.h"
#include "tensor/ops.h"

namespace swirl::app {

namespace {
PointSet to_points(const Tensor& xy) {
    PointSet points;
    for (double v : xy.to_vector()) points.xy.push_back(static_cast<float>(v));
    return points;
}
}  // namespace

void draw_model_figure(const std::string& path, diffusion::ReverseModel& model, const diffusion::Schedule& schedule,
                       int64_t points, Generator& gen, const std::string& caption) {
    const int64_t T = schedule.steps();
    const Tensor& like = model.parameters().front().data();
    const Tensor x0 = diffusion::sample_swiss_roll(points, gen, 0.0, like.dtype(), like.device());
    const std::array<int64_t, 3> times = {0, T / 2, T};
    std::array<PointSet, 3> forward, reverse;
    const std::vector<Tensor> reverse_states =
        diffusion::sample_states(model, schedule, points, gen, std::vector<int64_t>(times.begin(), times.end()));
    // The forward process runs on the model's scale of the data; both rows are drawn on the data's own.
    const double data_scale = model.config().data_scale;
    for (std::size_t i = 0; i < times.size(); ++i) {
        const int64_t t = times[i];
        Tensor xt = x0;
        if (t > 0) {
            Tensor eps = Tensor::empty(x0.shape(), x0.dtype(), x0.device());
            normal_(eps, gen);
            xt = scale(diffusion::forward_process(schedule, scale(x0, data_scale), eps, t).xt, 1.0 / data_scale);
        }
        forward[i] = to_points(xt);
        reverse[i] = to_points(reverse_states[i]);
    }
    draw_diffusion_grid(path, forward, reverse, {"t=0", "t=T/2", "t=T"}, caption);
}

BitRaster bit_raster(const Tensor& bits) {
    BitRaster raster{static_cast<int>(bits.dim(0)), static_cast<int>(bits.dim(1)), {}};
    for (double v : bits.to_vector()) raster.bits.push_back(v != 0.0 ? 1 : 0);
    return raster;
}

void draw_heartbeat_figure(const std::string& path, const diffusion::ReverseRate& rate, int64_t steps, Generator& gen,
                           const std::string& caption) {
    const int64_t d = diffusion::kHeartbeatBins;
    const std::vector<Tensor> trajectory = diffusion::binomial_trajectory(rate, steps, kHeartbeatFigureRows, d, gen);
    // The first sample's states x_T .. x_0 as columns, a row per bin.
    BitRaster path_raster{static_cast<int>(d), static_cast<int>(steps + 1), {}};
    path_raster.bits.resize(static_cast<std::size_t>(d * (steps + 1)));
    for (int64_t t = steps; t >= 0; --t) {
        const std::vector<double> first = trajectory[static_cast<std::size_t>(t)].rows(0, 1).to_vector();
        for (int64_t bin = 0; bin < d; ++bin)
            path_raster.bits[static_cast<std::size_t>(bin * (steps + 1) + (steps - t))] = first[static_cast<std::size_t>(bin)] != 0.0;
    }
    draw_bit_figure(path, bit_raster(trajectory[0]), bit_raster(diffusion::heartbeat_sequences()), path_raster, caption);
}

}  // namespace swirl::app
