// Which copy of the CPU kernels runs (tensor/cpu/kernels.h's kernels()): SWIRL_CPU_CAPABILITY when set, else the
// best one this CPU can run. Compiled for the baseline, like everything outside the copies, so that it runs first
// on any CPU. The build says which copies exist: SWIRL_CPU_COPIES_PORTABLE (baseline, avx2 and avx512 on x86-64),
// otherwise the one copy of capability.h's choice for the compiler's -march.
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/reference/kernels.h"
#include "tensor/error.h"

#ifdef SWIRL_CPU_COPIES_PORTABLE
namespace swirl::cpu::baseline { extern const Kernels kKernels; }
namespace swirl::cpu::avx2 { extern const Kernels kKernels; }
namespace swirl::cpu::avx512 { extern const Kernels kKernels; }
#else
#include "tensor/cpu/capability.h"
#endif

namespace swirl::cpu {

namespace {

// The copies, lowest first.
std::vector<const Kernels*> copies() {
#ifdef SWIRL_CPU_COPIES_PORTABLE
    return {&baseline::kKernels, &avx2::kKernels, &avx512::kKernels};
#else
    return {&SWIRL_CPU_NAMESPACE::kKernels};
#endif
}

// The copy named `name`, checked against this build and this CPU.
const Kernels& named(const std::string& name, const char* source) {
    SWIRL_CHECK(name == "baseline" || name == "avx2" || name == "avx512" || name == "neon",
                "{}{}: expected baseline, avx2, avx512 or neon", source, name);
    for (const Kernels* copy : copies()) {
        if (name != copy->capability) continue;
        SWIRL_CHECK(cpu_supports(name), "{}{}: this CPU lacks {}; it can run {}", source, name, name,
                    fmt::join(runnable_capabilities(), ", "));
        return *copy;
    }
    SWIRL_FAIL("{}{}: this build has kernels for {} only (a portable build, -DSWIRL_NATIVE=OFF, has baseline, avx2 "
               "and avx512 on x86-64)",
               source, name, fmt::join(built_capabilities(), ", "));
}

const Kernels& choose() {
    const char* forced = std::getenv("SWIRL_CPU_CAPABILITY");
    if (forced != nullptr && *forced != '\0') return named(forced, "SWIRL_CPU_CAPABILITY=");
    const std::vector<const Kernels*> built = copies();
    for (auto copy = built.rbegin(); copy != built.rend(); ++copy)
        if (cpu_supports((*copy)->capability)) return **copy;
    SWIRL_FAIL("this CPU cannot run any of swirl's CPU kernels ({}): rebuild with -DSWIRL_NATIVE=ON",
               fmt::join(built_capabilities(), ", "));
}

std::atomic<const Kernels*> chosen{nullptr};
std::atomic<bool> reference_on{false};

}  // namespace

bool cpu_supports(const std::string& capability) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (capability == "baseline") return true;
#if defined(__clang__) && __clang_major__ < 15  // no x86-64-vN names yet: the features the copies use most
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512cd");
#else
    const bool v3 = __builtin_cpu_supports("x86-64-v3"), v4 = __builtin_cpu_supports("x86-64-v4");
#endif
    if (capability == "avx2") return v3;
    if (capability == "avx512") return v4;
    return false;
#elif defined(__aarch64__)
    return capability == "neon";  // Advanced SIMD is part of every AArch64 CPU
#else
    return capability == "baseline";
#endif
}

std::vector<std::string> built_capabilities() {
    std::vector<std::string> names;
    for (const Kernels* copy : copies()) names.emplace_back(copy->capability);
    return names;
}

std::vector<std::string> runnable_capabilities() {
    std::vector<std::string> names;
    for (const std::string& name : built_capabilities())
        if (cpu_supports(name)) names.push_back(name);
    return names;
}

const Kernels& kernels() {
    if (reference_on.load(std::memory_order_relaxed)) return reference::kernels();
    const Kernels* current = chosen.load(std::memory_order_acquire);
    if (current == nullptr) {
        current = &choose();
        chosen.store(current, std::memory_order_release);
    }
    return *current;
}

void use_capability(const std::string& name) { chosen.store(&named(name, "CPU capability "), std::memory_order_release); }

void use_kernels(KernelSet set) { reference_on.store(set == KernelSet::reference, std::memory_order_relaxed); }

KernelSet kernel_set() { return reference_on.load(std::memory_order_relaxed) ? KernelSet::reference : KernelSet::fast; }

KernelSet parse_kernel_set(const std::string& name) {
    if (name == "fast") return KernelSet::fast;
    if (name == "reference") return KernelSet::reference;
    SWIRL_FAIL("unknown kernels '{}': expected fast or reference", name);
}

}  // namespace swirl::cpu
