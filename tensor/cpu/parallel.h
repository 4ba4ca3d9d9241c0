// When the CPU kernels go parallel: below these sizes an op runs on one thread, because waking the other
// threads (tens of microseconds when they sleep) costs more than the work; lower thresholds make a step at
// batch 4096 slower on two threads than on one.
#pragma once

#include <atomic>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace swirl::cpu {

constexpr int64_t kParallelElements = int64_t{1} << 20;      // elementwise ops and reductions: elements
constexpr int64_t kParallelMultiplyAdds = int64_t{1} << 25;  // matrix products: M * K * N
// The fused MLP's one region a pass (tensor/cpu/mlp.cpp), its multiply-adds: two threads from some 1,950 rows of
// the seed's model (8,576 a row), where they nearly double an idle machine's speed and lose a bounded 20-30% while
// another process holds one of two cores. Smaller batches gain as much when idle, but a region of a few tens of
// microseconds that waits for a preempted thread runs at a fraction of one thread's speed: they stay on one.
constexpr int64_t kParallelMlpMultiplyAdds = int64_t{1} << 24;
// Ops that cost tens of ns an element (random fills: a normal is a Philox block, a log and a cosine in double,
// ~60 ns; exp, log, sin, cos): a batch of a few thousand points is worth the second thread. From this many
// elements (n >= it; the two above count from above them): batch 4096's swiss roll and steps (4096 draws each) go
// on the team, which the fused MLP keeps awake from batch 2048 on.
constexpr int64_t kParallelCostlyElements = int64_t{1} << 12;
// Adam's parameters, all tensors together: the best recipe's 690,000 (hidden 128, a tail per step) update faster
// on two threads; the seed's model's 181,000 stay on one, where waking a sleeping thread costs more than it saves.
constexpr int64_t kParallelAdamElements = int64_t{1} << 19;
// ... or from this many when the step's matrix products have run on the thread team (note_parallel_products):
// then the second thread is still spinning after the products' region (the few tens of microseconds to Adam), and
// if Adam left it to fall asleep, the next step's first parallel region (the data's random fills, at batch 4096 a
// region of some 7 us) would wait for its wake-up instead. At batch 128 nothing runs on the team, and Adam stays
// on one thread: waking a sleeping thread for the seed's 177,000 parameters costs more than the update.
constexpr int64_t kParallelAdamWarmElements = int64_t{1} << 16;

// Set by the matrix products that run on the team (the fused MLP, matmul); read and cleared by Adam. Each step's
// products run before its optimizer, so Adam sees whether this step's did.
inline std::atomic<bool> parallel_products{false};
inline void note_parallel_products() { parallel_products.store(true, std::memory_order_relaxed); }
inline bool take_parallel_products() { return parallel_products.exchange(false, std::memory_order_relaxed); }

// The threads a parallel region may use, and the calling thread's index in it (for per-thread scratch).
inline int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

}  // namespace swirl::cpu
