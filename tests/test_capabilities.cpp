// The copies of the CPU kernels, one per capability (tensor/cpu/capability.h): each this CPU can run trains the
// seed's model to the same results as the others within rounding, and to the same bits on one thread and on two;
// a capability that is unknown, not built or beyond this CPU is a one-line error. A build with one copy (the
// native build) has nothing to compare, and reports the comparison as skipped.
#include <doctest/doctest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <string>
#include <vector>

#include "diffusion/training.h"
#include "helpers.h"
#include "tensor/cpu/kernels.h"
#include "tensor/error.h"

using namespace swirl;
using namespace swirl::diffusion;

namespace {

// Ten steps of the seed's recipe at batch 4096 (large enough that the fused MLP runs on the thread team), from one
// seed: the losses, then every parameter, as one float64 vector.
struct Trained {
    Tensor losses, parameters;
};

Trained train(TSampling mode) {
    Generator gen(11);
    ReverseModel model({}, gen, DType::f32, Device::cpu());
    nn::Adam adam(model.parameters(), {.lr = 1e-3});
    const Schedule schedule;
    std::vector<double> losses, parameters;
    for (int step = 0; step < 10; ++step)
        losses.push_back(training_step(model, adam, schedule, nullptr, 4096, mode, gen).item());
    for (const Variable& p : model.parameters())
        for (double v : p.data().to_vector()) parameters.push_back(v);
    return {Tensor::from_vector(losses, {static_cast<int64_t>(losses.size())}, DType::f64),
            Tensor::from_vector(parameters, {static_cast<int64_t>(parameters.size())}, DType::f64)};
}

}  // namespace

TEST_CASE("every CPU capability this machine runs trains to the same losses and weights within rounding") {
    const std::vector<std::string> names = cpu::runnable_capabilities();
    if (names.size() < 2) {
        MESSAGE("[skip] one copy of the CPU kernels to run here (" << cpu::kernels().capability
                                                                    << "): build with -DSWIRL_NATIVE=OFF for several");
        return;
    }
    test::KeepCpuKernels keep;
    for (TSampling mode : {TSampling::batch, TSampling::sample}) {
        CAPTURE(t_sampling_name(mode));
        cpu::use_capability(names.front());
        const Trained first = train(mode);
        for (std::size_t i = 1; i < names.size(); ++i) {
            CAPTURE(names.front());
            CAPTURE(names[i]);
            cpu::use_capability(names[i]);
            REQUIRE(std::string(cpu::kernels().capability) == names[i]);
            const Trained other = train(mode);
            // Sums in other orders and fused multiply-adds round differently; ten Adam steps keep that at rounding.
            SWIRL_CHECK_CLOSE(other.losses, first.losses, 1e-5, 1e-6);
            SWIRL_CHECK_CLOSE(other.parameters, first.parameters, 1e-4, 1e-6);
        }
    }
}

TEST_CASE("every CPU capability this machine runs gives the same bits on one thread and on two") {
#ifndef _OPENMP
    MESSAGE("[skip] built without OpenMP");
#else
    test::KeepCpuKernels keep;
    const int saved_threads = omp_get_max_threads();
    for (const std::string& name : cpu::runnable_capabilities()) {
        CAPTURE(name);
        cpu::use_capability(name);
        for (TSampling mode : {TSampling::batch, TSampling::sample}) {
            CAPTURE(t_sampling_name(mode));
            omp_set_num_threads(1);
            const Trained one = train(mode);
            omp_set_num_threads(2);
            const Trained two = train(mode);
            CHECK(one.losses.to_vector() == two.losses.to_vector());
            CHECK(one.parameters.to_vector() == two.parameters.to_vector());
        }
    }
    omp_set_num_threads(saved_threads);
#endif
}

TEST_CASE("a CPU capability that is unknown, not built or beyond this CPU is a one-line error naming the choices") {
    test::KeepCpuKernels keep;
    CHECK_THROWS_WITH_AS(cpu::use_capability("sse9"), doctest::Contains("expected baseline, avx2, avx512 or neon"),
                         Error);
    const std::vector<std::string> built = cpu::built_capabilities();
    for (const std::string name : {"baseline", "avx2", "avx512", "neon"}) {
        CAPTURE(name);
        const bool in_build = std::find(built.begin(), built.end(), name) != built.end();
        if (in_build && cpu::cpu_supports(name)) {
            cpu::use_capability(name);
            CHECK(std::string(cpu::kernels().capability) == name);
        } else if (in_build) {
            CHECK_THROWS_WITH_AS(cpu::use_capability(name), doctest::Contains("this CPU lacks"), Error);
        } else {
            CHECK_THROWS_WITH_AS(cpu::use_capability(name), doctest::Contains("this build has kernels for"), Error);
        }
    }
}
