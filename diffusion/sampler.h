// The seed's ancestral sampler: x_T ~ N(0, I), then x_{t-1} = mean + std * eps through the heads for
// t = T..2; step t = 1 is left as the identity. Runs under NoGradGuard.
#pragma once

#include <functional>
#include <vector>

#include "diffusion/model.h"
#include "diffusion/schedule.h"

namespace swirl::diffusion {

// Rows a chunk of sample_chunks holds by default: its states and the layers' activations stay a few megabytes.
// A multiple of the CPU's 256-row block (below).
constexpr int64_t kSampleChunkRows = 16384;

// Draws n samples in chunks of at most chunk_rows rows, each chunk through the whole chain t = T..2, and calls
// visit(first_row, states) once a chunk, in row order; states[i] is the chunk's x_{times[i]} ([rows, d], on the
// data's own scale: divided by the model's data_scale; x_0 is x_1). Memory is a chunk's, whatever n. Row r's noise
// is the same for every chunk size (each draw reserves the counters of all n rows and fills the chunk's), and gen
// ends n * d * T counters on. On the CPU the samples are bit for bit those of one chunk of n rows when chunk_rows
// is a multiple of 256 (the fused layers round a row by its place in a 256-row block); otherwise, and on CUDA,
// equal to rounding.
using SampleVisitor = std::function<void(int64_t first_row, const std::vector<Tensor>& states)>;
void sample_chunks(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen,
                   const std::vector<int64_t>& times, int64_t chunk_rows, const SampleVisitor& visit);

// The states at `times` of n samples drawn in one chunk: states[i] is x_{times[i]}, [n, d].
std::vector<Tensor> sample_states(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen,
                                  const std::vector<int64_t>& times);

// The whole trajectory, indexed by t: trajectory[T] = x_T, ..., trajectory[1] = the final samples, and
// trajectory[0] = trajectory[1] (the identity step), as the seed's reversed list. Each is [n, d], on the data's
// own scale.
std::vector<Tensor> sample_trajectory(ReverseModel& model, const Schedule& schedule, int64_t n, Generator& gen);

}  // namespace swirl::diffusion
