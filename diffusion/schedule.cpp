// The sigmoid beta schedule, its derived constants in float64, and the learned schedule.
#include "diffusion/schedule.h"

#include <cmath>
#include <utility>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace swirl::diffusion {

namespace ag = swirl::autograd;

std::vector<double> sigmoid_betas(const ScheduleConfig& config) {
    SWIRL_CHECK(config.steps >= 2, "Schedule: needs at least 2 steps, got {}", config.steps);
    SWIRL_CHECK(0 < config.beta_min && config.beta_min <= config.beta_max && config.beta_max < 1,
                "Schedule: betas must satisfy 0 < beta_min <= beta_max < 1, got {} and {}", config.beta_min,
                config.beta_max);
    std::vector<double> betas;
    for (int64_t i = 0; i < config.steps; ++i) {
        // torch.linspace(start, end, T)[i] = start + i * (end - start) / (T - 1)
        const double x = config.sigmoid_start +
                         static_cast<double>(i) * (config.sigmoid_end - config.sigmoid_start) /
                             static_cast<double>(config.steps - 1);
        betas.push_back(1.0 / (1.0 + std::exp(-x)) * (config.beta_max - config.beta_min) + config.beta_min);
    }
    return betas;
}

ScheduleKind parse_schedule_kind(const std::string& name) {
    if (name == "seed") return ScheduleKind::seed;
    if (name == "learned") return ScheduleKind::learned;
    SWIRL_FAIL("unknown schedule '{}': expected seed or learned", name);
}

const char* schedule_kind_name(ScheduleKind kind) { return kind == ScheduleKind::seed ? "seed" : "learned"; }

Schedule::Schedule(const ScheduleConfig& config) : Schedule(FromBetas{}, sigmoid_betas(config)) {}

Schedule Schedule::from_betas(std::vector<double> betas) { return Schedule(FromBetas{}, std::move(betas)); }

namespace {
// The Gaussian kernel's betas: at least 2, each in (0, 1).
std::vector<double> checked_betas(std::vector<double> betas) {
    SWIRL_CHECK(betas.size() >= 2, "Schedule: needs at least 2 steps, got {}", betas.size());
    for (std::size_t i = 0; i < betas.size(); ++i)
        SWIRL_CHECK(0 < betas[i] && betas[i] < 1, "Schedule: beta_{} = {} is outside (0, 1)", i + 1, betas[i]);
    return betas;
}
}  // namespace

Schedule::Schedule(FromBetas, std::vector<double> betas) : ForwardBetas(checked_betas(std::move(betas))) {}

double Schedule::signal_scale(int64_t t) const { return std::sqrt(alpha_bar(t)); }
double Schedule::noise_scale(int64_t t) const { return std::sqrt(1.0 - alpha_bar(t)); }

double Schedule::posterior_x0_coef(int64_t t) const {
    check_step(t, 2);
    return std::sqrt(alpha_bar(t - 1)) * beta(t) / (1.0 - alpha_bar(t));
}

double Schedule::posterior_xt_coef(int64_t t) const {
    check_step(t, 2);
    return std::sqrt(alpha(t)) * (1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t));
}

double Schedule::posterior_std(int64_t t) const {
    check_step(t, 2);
    return std::sqrt((1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t)) * beta(t));
}

namespace {
// Rows 0 and 1 of the table: no step uses them, but they stay finite (a standard deviation of 1, a log of 0).
void fill_unused_rows(double* table) {
    for (int64_t t = 0; t < 2; ++t) {
        double* row = table + t * Schedule::kColumns;
        row[Schedule::kPosteriorStd] = 1.0;
        row[Schedule::kEpsXt] = 1.0;
    }
}
}  // namespace

std::vector<double> Schedule::host_table() const {
    std::vector<double> table(static_cast<std::size_t>((steps() + 1) * kColumns), 0.0);
    for (int64_t t = 2; t <= steps(); ++t) {
        double* row = table.data() + t * kColumns;
        row[kSignal] = signal_scale(t);
        row[kNoise] = noise_scale(t);
        row[kPosteriorX0] = posterior_x0_coef(t);
        row[kPosteriorXt] = posterior_xt_coef(t);
        row[kPosteriorStd] = posterior_std(t);
        row[kEpsXt] = 1.0 / std::sqrt(alpha(t));
        row[kEpsCoef] = beta(t) / (std::sqrt(alpha(t)) * noise_scale(t));
        row[kLogPosteriorVar] = 2.0 * std::log(posterior_std(t));
        row[kLogBeta] = std::log(beta(t));
    }
    fill_unused_rows(table.data());
    return table;
}

namespace {
// The tensor in `cache` of this dtype and device, made by make() and kept there the first time it is asked for.
template <class Make>
Tensor cached(std::vector<Tensor>& cache, DType dtype, Device device, const Make& make) {
    for (const Tensor& tensor : cache)
        if (tensor.dtype() == dtype && tensor.device() == device) return tensor;
    cache.push_back(make());
    return cache.back();
}
}  // namespace

Tensor Schedule::coefficient_table(DType dtype, Device device) const {
    return cached(tables_, dtype, device, [&] {
        return Tensor::from_vector(host_table(), {steps() + 1, kColumns}, dtype, device);
    });
}

Tensor Schedule::coefficient_columns(DType dtype, Device device) const {
    return cached(columns_, dtype, device, [&] {
        const std::vector<double> table = host_table();
        const auto rows = static_cast<std::size_t>(steps() + 1);
        std::vector<double> by_column(table.size());
        for (std::size_t t = 0; t < rows; ++t)
            for (std::size_t c = 0; c < static_cast<std::size_t>(kColumns); ++c)
                by_column[c * rows + t] = table[t * static_cast<std::size_t>(kColumns) + c];
        return Tensor::from_vector(by_column, {kColumns, steps() + 1}, dtype, device);
    });
}

Variable coefficient_table(const Variable& betas) {
    SWIRL_CHECK(betas.data().rank() == 2 && betas.shape()[1] == 1 && betas.shape()[0] >= 2 &&
                    betas.data().dtype() == DType::f64,
                "coefficient_table: expected float64 betas [T >= 2, 1], got {}", shape_str(betas.shape()));
    const int64_t T = betas.shape()[0];
    const Device device = betas.data().device();
    // log alpha_bar_t = sum_{s <= t} log(1 - beta_s): a product with the lower-triangular matrix of ones.
    std::vector<double> lower(static_cast<std::size_t>(T * T), 0.0);
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j <= i; ++j) lower[static_cast<std::size_t>(i * T + j)] = 1.0;
    auto one_minus = [](const Variable& v) { return ag::add_scalar(ag::neg(v), 1.0); };
    const Variable alpha_bar = ag::exp(ag::matmul(Variable(Tensor::from_vector(lower, {T, T}, DType::f64, device)),
                                                  ag::log(one_minus(betas))));
    // Steps t = 2..T: beta_t and alpha_bar_t are rows 1..T-1, alpha_bar_{t-1} rows 0..T-2.
    const Variable beta = ag::slice_rows(betas, 1, T), alpha = one_minus(beta);
    const Variable alpha_bar_t = ag::slice_rows(alpha_bar, 1, T), alpha_bar_prev = ag::slice_rows(alpha_bar, 0, T - 1);
    const Variable signal = ag::sqrt(alpha_bar_t), noise = ag::sqrt(one_minus(alpha_bar_t));
    const Variable sqrt_alpha = ag::sqrt(alpha);
    const Variable posterior_var = ag::mul(ag::div(one_minus(alpha_bar_prev), one_minus(alpha_bar_t)), beta);
    const Variable one(Tensor::full({}, 1.0, DType::f64, device));
    std::vector<Variable> columns(Schedule::kColumns);
    columns[Schedule::kSignal] = signal;
    columns[Schedule::kNoise] = noise;
    columns[Schedule::kPosteriorX0] = ag::div(ag::mul(ag::sqrt(alpha_bar_prev), beta), one_minus(alpha_bar_t));
    columns[Schedule::kPosteriorXt] = ag::div(ag::mul(sqrt_alpha, one_minus(alpha_bar_prev)), one_minus(alpha_bar_t));
    columns[Schedule::kPosteriorStd] = ag::sqrt(posterior_var);
    columns[Schedule::kEpsXt] = ag::div(one, sqrt_alpha);
    columns[Schedule::kEpsCoef] = ag::div(beta, ag::mul(sqrt_alpha, noise));
    columns[Schedule::kLogPosteriorVar] = ag::log(posterior_var);
    columns[Schedule::kLogBeta] = ag::log(beta);
    std::vector<double> unused(2 * Schedule::kColumns, 0.0);
    fill_unused_rows(unused.data());
    return ag::concat_rows(
        {Variable(Tensor::from_vector(unused, {2, Schedule::kColumns}, DType::f64, device)), ag::concat(columns)});
}

StepConstants::StepConstants(const Schedule& schedule, const std::vector<StepGroup>& groups, int64_t batch,
                             DType dtype, Device device)
    : by_column_(schedule.coefficient_columns(dtype, device)), rows_(batch) {
    set_runs(groups, schedule.steps());
}

StepConstants::StepConstants(Variable table, const std::vector<StepGroup>& groups, int64_t batch)
    : table_(std::move(table)), rows_(batch) {
    SWIRL_CHECK(table_.data().rank() == 2 && table_.shape()[1] == Schedule::kColumns && table_.shape()[0] >= 3,
                "step constants: expected a table [T + 1, {}] (T >= 2), got {}", Schedule::kColumns,
                shape_str(table_.shape()));
    set_runs(groups, table_.shape()[0] - 1);
    if (table_.requires_grad()) {
        std::vector<int64_t> index;
        for (const RowRun& run : runs_) index.insert(index.end(), static_cast<std::size_t>(run.count), run.row);
        index_ = Tensor::from_indices(index, table_.data().device());
    }
}

void StepConstants::set_runs(const std::vector<StepGroup>& groups, int64_t steps) {
    steps_ = steps;
    int64_t covered = 0;
    for (const StepGroup& g : groups) {
        SWIRL_CHECK(g.begin == covered && g.begin <= g.end && g.end <= rows_ && 2 <= g.t && g.t <= steps,
                    "step group t = {} rows [{}, {}) does not continue a batch of {} at row {} with steps 2..{}", g.t,
                    g.begin, g.end, rows_, covered, steps);
        runs_.push_back({g.t, g.end - g.begin});
        covered = g.end;
    }
    SWIRL_CHECK(covered == rows_, "step groups leave rows [{}, {}) of the batch without a step", covered, rows_);
}

Variable StepConstants::column(int64_t c) const {
    SWIRL_CHECK(0 <= c && c < Schedule::kColumns, "step constants: column {} is not one of the table's {}", c,
                Schedule::kColumns);
    if (by_column_.defined()) return Variable(repeat_rows(by_column_.rows(c, c + 1).reshape({steps_ + 1, 1}), runs_));
    if (index_.defined()) return ag::index_select(ag::slice_cols(table_, c, c + 1), index_);
    return Variable(repeat_rows(slice_cols(table_.data(), c, c + 1), runs_));
}

LearnedSchedule::LearnedSchedule(const Schedule& initial) : beta_1_(initial.beta(1)) {
    std::vector<double> logits;
    for (int64_t t = 2; t <= initial.steps(); ++t) logits.push_back(std::log(initial.beta(t) / (1.0 - initial.beta(t))));
    logits_ = Variable(Tensor::from_vector(logits, {initial.steps() - 1, 1}, DType::f64), true);
}

LearnedSchedule::LearnedSchedule(double beta_1, const Tensor& logits) : beta_1_(beta_1) {
    SWIRL_CHECK(0 < beta_1 && beta_1 < 1, "learned schedule: beta_1 = {} is outside (0, 1)", beta_1);
    SWIRL_CHECK(logits.rank() == 1 && logits.dim(0) >= 1, "learned schedule: expected logits [T - 1], got {}",
                shape_str(logits.shape()));
    logits_ = Variable(logits.to(DType::f64).to(Device::cpu()).reshape({logits.dim(0), 1}), true);
}

Variable LearnedSchedule::betas() const {
    return ag::concat_rows({Variable(Tensor::full({1, 1}, beta_1_, DType::f64)), ag::sigmoid(logits_)});
}

Variable LearnedSchedule::coefficient_table() const { return diffusion::coefficient_table(betas()); }

Schedule LearnedSchedule::current() const {
    NoGradGuard no_grad;
    return Schedule::from_betas(betas().data().to_vector());
}

}  // namespace swirl::diffusion
