// Phase timers: a table of named phases, filled by Scopes while profiling is on.
#include "tensor/instruments/profile.h"

#include <atomic>
#include <mutex>

#include "tensor/error.h"

namespace swirl::profile {

namespace {

struct State {
    std::mutex mutex;
    std::vector<PhaseTime> phases;
    Device device = Device::cpu();
};
State& state() {
    static State s;
    return s;
}
std::atomic<bool> on{false};
thread_local const char* open_phase = nullptr;  // the Scope now open on this thread

}  // namespace

void enable(Device device) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.phases.clear();
    s.device = device;
    on.store(true);
}

void disable() { on.store(false); }

bool enabled() { return on.load(std::memory_order_relaxed); }

std::vector<PhaseTime> phases() {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.phases;
}

Scope::Scope(const char* name) {
    if (!enabled()) return;
    SWIRL_CHECK(open_phase == nullptr, "profile: phase '{}' started inside phase '{}'", name, open_phase);
    synchronize(state().device);
    name_ = name;
    open_phase = name;
    start_ = std::chrono::steady_clock::now();
}

Scope::~Scope() {
    if (name_ == nullptr) return;
    open_phase = nullptr;
    State& s = state();
    // Waiting may throw (a CUDA fault); a destructor must not, and the fault resurfaces at the next call.
    try {
        synchronize(s.device);
    } catch (const Error&) {
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::lock_guard<std::mutex> lock(s.mutex);
    for (PhaseTime& phase : s.phases)
        if (phase.name == name_) {
            phase.seconds += seconds;
            ++phase.calls;
            return;
        }
    s.phases.push_back({name_, seconds, 1});
}

}  // namespace swirl::profile
