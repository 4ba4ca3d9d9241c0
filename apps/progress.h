// A training progress bar: step / total, smoothed loss, steps/s and ETA. Redrawn in place on a terminal;
// one plain line every few seconds otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace swirl::app {

class Progress {
public:
    Progress(int64_t first_step, int64_t total_steps, std::FILE* out = stdout);  // out nullptr: draws nothing
    void update(int64_t step, double loss);  // after `step` finished with `loss`
    void finish();                           // the final line, with the total time

    double smoothed_loss() const { return smoothed_; }
    double steps_per_second() const;

private:
    void draw(int64_t step, bool final_line);

    using Clock = std::chrono::steady_clock;
    int64_t first_step_, total_steps_, last_step_;
    std::FILE* out_;
    bool terminal_;
    double smoothed_ = 0.0;
    bool has_loss_ = false;
    Clock::time_point start_, last_draw_;
};

}  // namespace swirl::app
