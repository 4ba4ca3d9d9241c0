// Random fills through cuRAND's Philox generator, seeded from swirl's Generator. The stream differs from the
// CPU's (cuRAND's own Box-Muller and uniform ranges), but it is reproducible for a given (seed, offset).
#include "tensor/cuda/handles.h"
#include "tensor/cuda/kernels.h"
#include "tensor/cuda/libraries.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::cuda {

namespace {

// swirl reserves one Philox counter (a 128-bit block, four 32-bit words) per element; cuRAND counts its offset
// in 32-bit words and uses at most four per element, so draws never overlap.
curandGenerator_t seeded(const Tensor& x, uint64_t seed, uint64_t first_counter) {
    curandGenerator_t generator = curand_generator(x.device().index);
    SWIRL_CURAND_CHECK(curand().set_seed(generator, seed));
    SWIRL_CURAND_CHECK(curand().set_offset(generator, first_counter * 4));
    return generator;
}

}  // namespace

void uniform(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double low, double high) {
    SWIRL_CHECK(first_element == 0, "uniform on CUDA: cuRAND cannot start a draw at element {}", first_element);
    if (x.numel() == 0) return;
    curandGenerator_t generator = seeded(x, seed, first_counter);
    const auto n = static_cast<std::size_t>(x.numel());
    if (x.dtype() == DType::f32)
        SWIRL_CURAND_CHECK(curand().uniform(generator, static_cast<float*>(x.raw_data()), n));
    else
        SWIRL_CURAND_CHECK(curand().uniform_double(generator, static_cast<double*>(x.raw_data()), n));
    // cuRAND draws from (0, 1]; map it onto [low, high] in place.
    if (low != 0.0 || high != 1.0) affine(x, x, high - low, low);
}

void normal(Tensor& x, uint64_t seed, uint64_t first_counter, uint64_t first_element, double mean, double stddev) {
    SWIRL_CHECK(first_element == 0, "normal on CUDA: cuRAND cannot start a draw at element {}", first_element);
    if (x.numel() == 0) return;
    curandGenerator_t generator = seeded(x, seed, first_counter);
    // cuRAND generates normals in pairs: an odd count goes through a buffer one longer.
    const bool odd = x.numel() % 2 == 1;
    Tensor target = odd ? Tensor::empty({x.numel() + 1}, x.dtype(), x.device()) : x;
    const auto n = static_cast<std::size_t>(target.numel());
    if (x.dtype() == DType::f32)
        SWIRL_CURAND_CHECK(curand().normal(generator, static_cast<float*>(target.raw_data()), n,
                                                static_cast<float>(mean), static_cast<float>(stddev)));
    else
        SWIRL_CURAND_CHECK(curand().normal_double(generator, static_cast<double*>(target.raw_data()), n, mean, stddev));
    if (odd) SWIRL_CUDA_CHECK(cudaMemcpy(x.raw_data(), target.raw_data(), x.nbytes(), cudaMemcpyDeviceToDevice));
}

}  // namespace swirl::cuda
