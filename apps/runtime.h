// The process's run-time setup, kept out of the commands: what libgomp and glibc read as they load, the OpenMP
// threads, the CPU kernels.
#pragma once

#include <string>

namespace swirl::app {

// Two run-time libraries read their settings from the environment when they load, before main(), so swirl sets
// them and runs itself again (once: SWIRL_REEXECUTED marks the second run), unless the user chose them already:
// - GOMP_SPINCOUNT=3000: an OpenMP thread that waits spins a short while (some tens of microseconds), then
//   sleeps. libgomp's default spin (300,000) collapses on a shared machine: with another process on one of two
//   cores a step at batch 4096 runs at about 1 step/s instead of 130. Sleeping at once (OMP_WAIT_POLICY=passive)
//   pays a wake-up at every parallel region, which costs more than the short spin on an idle machine, and the
//   short spin's cost under a busy core stays bounded. Left alone when OMP_WAIT_POLICY or GOMP_SPINCOUNT is set.
// - GLIBC_TUNABLES=glibc.malloc.tcache_count=1024. A training step makes and frees hundreds of small objects (graph
//   nodes, their closures, tensor handles); glibc's per-thread cache keeps 7 of each size, and the rest go through
//   the arena's bins and their consolidation, a fifth of a step's time at batch 128 without the deeper cache.
//   Left alone when GLIBC_TUNABLES is set.
// The run started here keeps the CPU affinity of all libgomp's places (libgomp narrows the initial thread's to the
// first place as it loads). Called first thing in main().
void tune_runtime_libraries(char** argv);

// Sets the OpenMP threads (--threads; 0 keeps libgomp's count: the CPUs this process may run on). Under mpirun
// with 0, rank 0 says in one line on stderr when the launcher left the ranks fewer CPUs than it may use itself (Open
// MPI binds each rank to one core by default, so `mpirun -np 1` would train on one thread) and which flags give
// them more.
void set_threads(int threads);

// Selects the CPU kernels (--kernels fast|reference: cpu::use_kernels). The reference kernels run on the CPU only:
// with a CUDA device that is a one-line error.
void use_kernels(const std::string& kernels, const std::string& device);

}  // namespace swirl::app
