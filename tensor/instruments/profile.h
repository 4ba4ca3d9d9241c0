// Phase timers for `swirl bench --profile`: where a training step's time goes. Off (the default) a Scope costs
// one branch. On, a Scope waits for the device's queued work where it starts and where it ends, so that a GPU's
// time is counted in the phase that queued it (and the waits slow the step: profile in a pass of its own, not in
// the timed one), and adds the wall time between to its phase. Scopes of one thread must not overlap: a phase
// started inside another is an error, so no time is counted twice.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tensor/device.h"

namespace swirl::profile {

// Starts (or stops) timing phases, waiting on `device` at each phase boundary; clears what was counted.
void enable(Device device);
void disable();
bool enabled();

struct PhaseTime {
    std::string name;
    double seconds = 0.0;
    long calls = 0;
};
// The phases counted since enable(), in the order each was first entered.
std::vector<PhaseTime> phases();

// Times the enclosing block as phase `name` (a string that outlives the program, as a literal).
class Scope {
public:
    explicit Scope(const char* name);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    const char* name_ = nullptr;  // null when profiling is off
    std::chrono::steady_clock::time_point start_;
};

}  // namespace swirl::profile
