// How the swirl process sets up its run-time libraries and threads: the settings libgomp and glibc read as they
// load (swirl runs itself again with them), the OpenMP thread count and its note under mpirun, the CPU kernels.
#include "apps/runtime.h"

#include <sched.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstdlib>
#include <string>
#include <vector>
#include <fmt/format.h>

#include "tensor/cpu/kernels.h"
#include "tensor/device.h"
#include "tensor/distributed/distributed.h"
#include "tensor/error.h"

namespace swirl::app {

namespace {

#ifdef _OPENMP
// The CPUs of all of libgomp's places into `cpus`; false when there are none (no OMP_PROC_BIND, OMP_PLACES or
// GOMP_CPU_AFFINITY: then libgomp binds nothing). libgomp found them in the affinity the process started with.
bool places_cpus(cpu_set_t& cpus) {
    CPU_ZERO(&cpus);
    bool any = false;
    for (int place = 0; place < omp_get_num_places(); ++place) {
        std::vector<int> ids(static_cast<std::size_t>(omp_get_place_num_procs(place)));
        omp_get_place_proc_ids(place, ids.data());
        for (int id : ids) {
            if (id < 0 || id >= CPU_SETSIZE) continue;
            CPU_SET(id, &cpus);
            any = true;
        }
    }
    return any;
}

// Under a binding libgomp binds the initial thread to its first place as it loads, before main(); execv would hand
// that one place's CPUs to the run it starts, which would then see one CPU and start one thread (2x slower on two
// cores). So the thread gets back the CPUs of all places first. Best effort: if the kernel refuses, the run goes
// on as libgomp left it.
void restore_places_affinity() {
    cpu_set_t cpus;
    if (places_cpus(cpus)) ::sched_setaffinity(0, sizeof(cpus), &cpus);
}
#endif

}  // namespace

void tune_runtime_libraries(char** argv) {
    // Once: the run started here marks itself, so that a variable the loader drops cannot make it loop.
    if (std::getenv("SWIRL_REEXECUTED") != nullptr) return;
    bool changed = false;
#ifdef _OPENMP
    if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
        ::setenv("GOMP_SPINCOUNT", "3000", 1);
        changed = true;
    }
#endif
#ifdef __GLIBC__
    if (std::getenv("GLIBC_TUNABLES") == nullptr) {
        ::setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=1024", 1);
        changed = true;
    }
#endif
    if (!changed || ::setenv("SWIRL_REEXECUTED", "1", 1) != 0) return;
    char path[4096];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (length <= 0) return;
    path[length] = '\0';
#ifdef _OPENMP
    restore_places_affinity();
#endif
    ::execv(path, argv);  // returns only on failure: then carry on with the defaults
}

void use_kernels(const std::string& kernels, const std::string& device) {
    const swirl::cpu::KernelSet set = swirl::cpu::parse_kernel_set(kernels);
    SWIRL_CHECK(set == swirl::cpu::KernelSet::fast || swirl::parse_device(device).is_cpu(),
                "--kernels reference runs on the CPU only: drop --device {} or --kernels reference", device);
    swirl::cpu::use_kernels(set);
}

void set_threads(int threads) {
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#endif
    const int ranks_here = distributed::local_size();
    if (threads > 0 || ranks_here < 1 || distributed::rank() != 0) return;
    // The CPUs this rank's threads may use: the places' under a binding (libgomp has bound this thread to the
    // first place by now), else the process's affinity, which mpirun set.
    cpu_set_t cpus;
#ifdef _OPENMP
    const bool bound = places_cpus(cpus);
#else
    const bool bound = false;
#endif
    if (!bound && ::sched_getaffinity(0, sizeof(cpus), &cpus) != 0) return;
    const int usable = CPU_COUNT(&cpus);
    // The CPUs the job has here: the launcher's own (mpirun, orted or slurmstepd is the parent, unbound, with the
    // container's or the allocation's CPUs), else every CPU online.
    cpu_set_t launcher;
    const long here = ::sched_getaffinity(::getppid(), sizeof(launcher), &launcher) == 0
                          ? CPU_COUNT(&launcher)
                          : ::sysconf(_SC_NPROCESSORS_ONLN);
    if (here <= 0 || static_cast<long>(usable) * ranks_here >= here) return;
    fmt::print(stderr,
               "swirl: note: mpirun left each rank {} of the {} CPUs here for its threads ({} rank{} here; Open MPI "
               "binds a rank to one core by default): mpirun --map-by slot:PE=N gives each rank N cores, --bind-to "
               "none lifts the binding\n",
               usable, here, ranks_here, ranks_here == 1 ? "" : "s");
}

}  // namespace swirl::app
