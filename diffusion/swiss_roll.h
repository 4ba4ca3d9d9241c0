// The swiss roll exactly as the seed draws it: sklearn's make_swiss_roll (t = 1.5 pi (1 + 2u), x = t cos t,
// z = t sin t, optional Gaussian noise on each coordinate), then data[:, [2, 0]] / 10 * [1, -1], i.e. the points
// (t sin t / 10, -t cos t / 10). Drawn through swirl's generator on any device.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace swirl::diffusion {

// [n, 2] points. `noise` is sklearn's: the standard deviation added to each coordinate before the / 10.
Tensor sample_swiss_roll(int64_t n, Generator& gen, double noise = 0.0, DType dtype = DType::f32,
                         Device device = Device::cpu());
// Rows [first_row, first_row + rows) of the n points sample_swiss_roll(n, ...) draws, and gen left where it
// leaves it: one rank's part of a data-parallel batch, without drawing the rest on the CPU (ops.h: uniform_rows_).
Tensor sample_swiss_roll_rows(int64_t n, int64_t first_row, int64_t rows, Generator& gen, double noise = 0.0,
                              DType dtype = DType::f32, Device device = Device::cpu());

// The standard deviation of the noiseless swiss roll above, one constant for both dimensions (the square root of
// the mean per-dimension variance), in closed form: about 0.678. Multiplying the data by its inverse gives the
// paper's unit-variance data.
double swiss_roll_std();

// The data scale a model trains on, by name: "seed" (1: the seed's data as it is) or "unit" (1 / swiss_roll_std(),
// the paper's unit-variance data); throws otherwise.
double parse_data_scale(const std::string& name);

}  // namespace swirl::diffusion
