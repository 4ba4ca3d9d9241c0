// The figures of a model: the seed's for the swiss roll (forward process q on fresh data and the sampler's
// trajectory p, at t = 0, T/2, T), and the heartbeat's.
#pragma once

#include <string>

#include "apps/figures.h"
#include "diffusion/binomial_model.h"
#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::app {

// Draws `points` fresh swiss-roll points and `points` samples with `gen`, and writes the 2x3 grid to `path`.
void draw_model_figure(const std::string& path, diffusion::ReverseModel& model, const diffusion::Schedule& schedule,
                       int64_t points, Generator& gen, const std::string& caption);

// A [n, d] tensor of 0/1 values as a raster.
BitRaster bit_raster(const Tensor& bits);

// The heartbeat's figure: kHeartbeatFigureRows sequences drawn through `rate` with `gen`, the five true
// sequences, and the first sample's reverse trajectory.
constexpr int64_t kHeartbeatFigureRows = 40;
void draw_heartbeat_figure(const std::string& path, const diffusion::ReverseRate& rate, int64_t steps, Generator& gen,
                           const std::string& caption);

}  // namespace swirl::app
