// The noise schedule of the 2015 model and the constants of the forward process and its posterior derived from
// it. The seed's schedule is betas = sigmoid(linspace(-18, 10, T)) * (3e-1 - 1e-5) + 1e-5; a learned schedule
// (the paper's section 2.4.1) keeps beta_1 and learns beta_2..T. Computed in float64; t is 1-based throughout, as
// in the paper and the seed (t = 1..T).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "diffusion/betas.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace swirl::diffusion {

struct ScheduleConfig {
    int64_t steps = 40;                             // T
    double sigmoid_start = -18.0, sigmoid_end = 10.0;  // the linspace fed to the sigmoid
    double beta_min = 1e-5, beta_max = 3e-1;
};

// The seed's betas for a config: sigmoid(linspace(start, end, T)) * (beta_max - beta_min) + beta_min.
std::vector<double> sigmoid_betas(const ScheduleConfig& config);

// How the forward schedule is chosen: seed - the seed's sigmoid, fixed; learned - beta_1 the seed's, beta_2..T
// trained with the model by gradient ascent on K (LearnedSchedule).
enum class ScheduleKind { seed, learned };
ScheduleKind parse_schedule_kind(const std::string& name);  // "seed" or "learned"; throws otherwise
const char* schedule_kind_name(ScheduleKind kind);

class Schedule : public ForwardBetas {
public:
    explicit Schedule(const ScheduleConfig& config = {});
    // Any betas in (0, 1), beta_1 .. beta_T (T >= 2): a learned schedule's.
    static Schedule from_betas(std::vector<double> betas);

    // steps(), betas(), beta(t) (1-based) and alpha_bar(t) = prod_{s=1..t} alpha(s) come from ForwardBetas.
    double alpha(int64_t t) const { return 1.0 - beta(t); }

    // x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
    double signal_scale(int64_t t) const;  // sqrt(alpha_bar_t)
    double noise_scale(int64_t t) const;   // sqrt(1 - alpha_bar_t)
    // q(x_{t-1} | x_t, x_0) = N(x0_coef x_0 + xt_coef x_t, posterior_std^2 I), for t = 2..T.
    double posterior_x0_coef(int64_t t) const;  // sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)
    double posterior_xt_coef(int64_t t) const;  // sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
    double posterior_std(int64_t t) const;      // sqrt((1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t)

    // The per-step constants as a table [T + 1, kColumns] (row t; rows 0 and 1 unused but finite), in the working
    // dtype and device, for picking one row per sample. Made once per dtype and device and kept (a GPU receives it
    // once, not every training step): read it, never write into it. Not thread-safe, like the rest of a model's
    // state. The columns are those above, then the ones the reverse step's parametrizations need
    // (diffusion/parametrization.h): 1 / sqrt(alpha_t), beta_t / (sqrt(alpha_t) sqrt(1 - alpha_bar_t)), and the
    // bounds of the reverse variance, log posterior_std^2 and log beta_t.
    Tensor coefficient_table(DType dtype, Device device) const;
    // The same table by columns, [kColumns, T + 1] (row c is column c), made and kept alike: a column of it is a
    // view, so a step's constants (StepConstants) need no copy of the column before they repeat it per row.
    Tensor coefficient_columns(DType dtype, Device device) const;
    enum Column : int64_t {
        kSignal = 0, kNoise, kPosteriorX0, kPosteriorXt, kPosteriorStd, kEpsXt, kEpsCoef, kLogPosteriorVar, kLogBeta,
        kColumns
    };

private:
    struct FromBetas {};
    Schedule(FromBetas, std::vector<double> betas);

    std::vector<double> host_table() const;   // coefficient_table's values, row-major, float64
    mutable std::vector<Tensor> tables_;      // coefficient_table's, one per dtype and device asked for
    mutable std::vector<Tensor> columns_;     // coefficient_columns', likewise
};

// A block of rows that share one diffusion step t: rows [begin, end) of the batch.
struct StepGroup {
    int64_t t, begin, end;
};

// Each row's schedule constants, one column at a time: column(c) [B, 1] holds, row by row, column c of the table
// [T + 1, kColumns] at the row's step. The groups must cover the batch in order, as draw_steps makes them, so a
// column is the table's column repeated in runs (repeat_rows: nothing per row crosses to a GPU); a table that
// carries gradients (a learned schedule's) is read with autograd::index_select instead, whose backward sums each
// step's rows into its table row. No [B, kColumns] matrix is made: at batch 64000 the matrix and the copies of
// its columns would be most of the forward process's time.
class StepConstants {
public:
    // A fixed schedule's, in dtype on device.
    StepConstants(const Schedule& schedule, const std::vector<StepGroup>& groups, int64_t batch, DType dtype,
                  Device device);
    // From a table [T + 1, kColumns] that may carry gradients (a learned schedule's).
    StepConstants(Variable table, const std::vector<StepGroup>& groups, int64_t batch);
    Variable column(int64_t c) const;  // c: a Schedule::Column
    int64_t rows() const { return rows_; }

private:
    void set_runs(const std::vector<StepGroup>& groups, int64_t steps);

    Tensor by_column_;  // a fixed schedule's coefficient_columns
    Variable table_;    // or the table
    Tensor index_;      // the rows' table rows, when the table carries gradients
    std::vector<RowRun> runs_;
    int64_t rows_, steps_ = 0;
};

// The table of Schedule::coefficient_table as autograd ops on betas [T, 1] (float64): differentiable, so that a
// learned schedule gets the gradient of every constant it feeds. Rows 0 and 1 are constants.
Variable coefficient_table(const Variable& betas);

// beta_1 fixed, beta_t = sigmoid(logit_t) for t = 2..T: the schedule as parameters, kept in (0, 1) by
// construction (the paper, section 2.4.1). The logits [T - 1, 1] are float64 on the CPU; the table is tiny.
class LearnedSchedule {
public:
    // Starts from `initial`'s betas.
    explicit LearnedSchedule(const Schedule& initial);
    // Resumes: beta_1 and the logits of beta_2..T [T - 1] as a checkpoint holds them.
    LearnedSchedule(double beta_1, const Tensor& logits);

    int64_t steps() const { return logits_.shape()[0] + 1; }
    Variable& logits() { return logits_; }
    const Variable& logits() const { return logits_; }
    Variable betas() const;              // [T, 1]: beta_1, then sigmoid(logits)
    Variable coefficient_table() const;  // [T + 1, Schedule::kColumns], float64 CPU
    Schedule current() const;            // the schedule the betas describe now (sampling, evaluation, figures)

private:
    double beta_1_;
    Variable logits_;
};

}  // namespace swirl::diffusion
