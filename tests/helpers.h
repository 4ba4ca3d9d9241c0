// Small helpers shared by the tests: golden-file paths and tensor comparisons with a useful failure message.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "tensor/cpu/kernels.h"
#include "tensor/io/safetensors.h"
#include "tensor/tensor.h"

namespace swirl::test {

inline std::string golden_path(const std::string& name) { return std::string(SWIRL_GOLDEN_DIR) + "/" + name; }

// Passes when |actual - expected| <= atol + rtol |expected| for every element; remembers the element that
// exceeds its tolerance the most (or comes closest to it).
struct Comparison {
    bool ok = true;
    double worst_excess = -INFINITY;
    int64_t worst_index = -1;
    double worst_actual = 0.0, worst_expected = 0.0;
};

inline Comparison compare(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
    Comparison c;
    REQUIRE_MESSAGE(actual.shape() == expected.shape(),
                    "shape " << shape_str(actual.shape()) << " vs expected " << shape_str(expected.shape()));
    const auto a = actual.to_vector(), b = expected.to_vector();
    for (std::size_t i = 0; i < a.size(); ++i) {
        double excess = std::abs(a[i] - b[i]) - (atol + rtol * std::abs(b[i]));
        if (std::isnan(excess)) excess = INFINITY;
        if (excess > 0) c.ok = false;
        if (excess > c.worst_excess) {
            c.worst_excess = excess;
            c.worst_index = static_cast<int64_t>(i);
            c.worst_actual = a[i];
            c.worst_expected = b[i];
        }
    }
    return c;
}

// CHECK that two tensors agree elementwise; prints OK / NOT OK with the max difference, as llm.c's tests do.
#define SWIRL_CHECK_CLOSE(actual, expected, rtol, atol)                                                         \
    do {                                                                                                        \
        auto swirl_cmp_ = ::swirl::test::compare((actual), (expected), (rtol), (atol));                         \
        CHECK_MESSAGE(swirl_cmp_.ok, #actual " vs " #expected ": NOT OK at element " << swirl_cmp_.worst_index \
                                     << ": " << swirl_cmp_.worst_actual << " vs " << swirl_cmp_.worst_expected); \
    } while (0)

// Restores, when a test ends, the CPU kernels it found: fast or reference, and the copy of the fast ones.
struct KeepCpuKernels {
    cpu::KernelSet set;
    std::string copy;
    KeepCpuKernels() : set(cpu::kernel_set()) {
        cpu::use_kernels(cpu::KernelSet::fast);  // the fast copy's name, whichever set is on
        copy = cpu::kernels().capability;
        cpu::use_kernels(set);
    }
    ~KeepCpuKernels() {
        cpu::use_capability(copy);
        cpu::use_kernels(set);
    }
    KeepCpuKernels(const KeepCpuKernels&) = delete;
    KeepCpuKernels& operator=(const KeepCpuKernels&) = delete;
};

}  // namespace swirl::test
