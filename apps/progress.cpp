// Progress bar rendering with fmt.
#include "apps/progress.h"

#include <unistd.h>

#include <cmath>
#include <fmt/format.h>
#include <string>

namespace swirl::app {

namespace {
std::string duration_text(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    const auto total = static_cast<int64_t>(seconds + 0.5);
    if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
    return fmt::format("{:02}:{:02}", total / 60, total % 60);
}
}  // namespace

Progress::Progress(int64_t first_step, int64_t total_steps, std::FILE* out)
    : first_step_(first_step), total_steps_(total_steps), last_step_(first_step), out_(out),
      terminal_(out != nullptr && ::isatty(::fileno(out)) != 0), start_(Clock::now()), last_draw_(start_) {}

double Progress::steps_per_second() const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    return elapsed > 0 ? static_cast<double>(last_step_ - first_step_) / elapsed : 0.0;
}

void Progress::update(int64_t step, double loss) {
    // An exponential moving average over ~100 steps, started at the first loss rather than at zero.
    smoothed_ = has_loss_ ? 0.99 * smoothed_ + 0.01 * loss : loss;
    has_loss_ = true;
    last_step_ = step;
    const auto now = Clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (since_draw >= (terminal_ ? 0.1 : 5.0)) {
        last_draw_ = now;
        draw(step, false);
    }
}

void Progress::finish() {
    draw(last_step_, true);
}

void Progress::draw(int64_t step, bool final_line) {
    if (out_ == nullptr) return;
    const double rate = steps_per_second();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double eta = rate > 0 ? static_cast<double>(total_steps_ - step) / rate : NAN;
    const std::string timing =
        final_line ? fmt::format("done in {}", duration_text(elapsed)) : fmt::format("ETA {}", duration_text(eta));
    const std::string status = fmt::format("step {}/{}  loss {:.5f}  {:.1f} steps/s  {}", step, total_steps_,
                                           smoothed_, rate, timing);
    if (terminal_) {
        constexpr int kWidth = 30;
        const double fraction = total_steps_ > 0 ? static_cast<double>(step) / static_cast<double>(total_steps_) : 1.0;
        const int filled = static_cast<int>(fraction * kWidth);
        fmt::print(out_, "\r[{}{}] {}\x1b[K{}", std::string(static_cast<std::size_t>(filled), '#'),
                   std::string(static_cast<std::size_t>(kWidth - filled), ' '), status, final_line ? "\n" : "");
    } else {
        fmt::print(out_, "{}\n", status);
    }
    std::fflush(out_);
}

}  // namespace swirl::app
