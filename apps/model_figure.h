// The seed's figure for a model: forward process q on fresh data and the sampler's trajectory p, at t = 0, T/2, T.
#pragma once

#include <string>

#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::app {

// Draws `points` fresh swiss-roll points and `points` samples with `gen`, and writes the 2x3 grid to `path`.
void draw_model_figure(const std::string& path, diffusion::ReverseModel& model, const diffusion::Schedule& schedule,
                       int64_t points, Generator& gen, const std::string& caption);

}  // namespace swirl::app
