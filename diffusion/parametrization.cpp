// The reverse step's mean and variance from a tail's output.
#include "diffusion/parametrization.h"

#include "autograd/functions.h"
#include "diffusion/schedule.h"
#include "tensor/error.h"

namespace swirl::diffusion {

namespace ag = swirl::autograd;

MeanParam parse_mean_param(const std::string& name) {
    if (name == "mean") return MeanParam::mean;
    if (name == "eps") return MeanParam::eps;
    SWIRL_FAIL("unknown param '{}': expected mean or eps", name);
}

VarianceParam parse_variance_param(const std::string& name) {
    if (name == "free") return VarianceParam::free;
    if (name == "bounded") return VarianceParam::bounded;
    if (name == "full") return VarianceParam::full;
    SWIRL_FAIL("unknown variance '{}': expected free, bounded or full", name);
}

const char* mean_param_name(MeanParam param) { return param == MeanParam::mean ? "mean" : "eps"; }
const char* variance_param_name(VarianceParam param) {
    switch (param) {
        case VarianceParam::free: return "free";
        case VarianceParam::bounded: return "bounded";
        case VarianceParam::full: return "full";
    }
    return "?";
}

int64_t output_width(int64_t d, VarianceParam variance_param) {
    if (variance_param != VarianceParam::full) return 2 * d;
    SWIRL_CHECK(d == 2, "the full covariance (--variance full) is for 2-D data, got {} dimensions", d);
    return 2 * d + 1;
}

Variable ReverseStep::std() const { return ag::sqrt(ag::exp(log_var)); }

Variable ReverseStep::kl_from(const Variable& mean_q, const Variable& std_q) const {
    if (!angle.defined()) return ag::gaussian_kl(mean_q, std_q, mean, log_var);
    // An isotropic q looks the same along any axes: in the frame of p's axes both are diagonal Gaussians, and the
    // KL sees their means only through mean_q - mean, turned back once.
    const Variable delta = ag::rotate(mean_q - mean, angle, true);
    return ag::gaussian_kl(delta, std_q, Variable(Tensor::zeros(delta.shape(), delta.data().dtype(), delta.data().device())), log_var);
}

Tensor ReverseStep::draw(const Tensor& eps) const {
    NoGradGuard no_grad;
    const Variable along_axes = std() * Variable(eps);
    return (mean + (angle.defined() ? ag::rotate(along_axes, angle) : along_axes)).data();
}

ReverseStep reverse_step(const Variable& out, const Variable& xt, const StepConstants& constants, MeanParam mean_param,
                         VarianceParam variance_param) {
    const int64_t d = xt.data().rank() == 2 ? xt.shape()[1] : 0;
    const int64_t width = output_width(d, variance_param);
    SWIRL_CHECK(out.data().rank() == 2 && d > 0 && out.shape()[0] == xt.shape()[0] && out.shape()[1] == width &&
                    constants.rows() == xt.shape()[0],
                "reverse_step: expected out [B, {}], xt [B, d] and constants for B rows ({} variance), got {}, {}, {} rows",
                width == 2 * d ? "2d" : "2d + 1", variance_param_name(variance_param), shape_str(out.shape()),
                shape_str(xt.shape()), constants.rows());
    auto column = [&](int64_t c) { return constants.column(c); };  // [B, 1]
    const Variable a = ag::slice_cols(out, 0, d), b = ag::slice_cols(out, d, 2 * d);  // and the angle after them
    ReverseStep step;
    step.mean = mean_param == MeanParam::mean
                    ? a
                    : ag::sub(ag::mul(column(Schedule::kEpsXt), xt), ag::mul(column(Schedule::kEpsCoef), a));
    if (variance_param == VarianceParam::free) {
        step.log_var = b;
    } else {
        const Variable low = column(Schedule::kLogPosteriorVar);
        step.log_var = ag::add(low, ag::mul(ag::sigmoid(b), ag::sub(column(Schedule::kLogBeta), low)));
    }
    if (variance_param == VarianceParam::full) step.angle = ag::slice_cols(out, 2 * d, 2 * d + 1);
    return step;
}

ag::GaussianHead gaussian_head(const Variable& xt, const StepConstants& constants, MeanParam mean_param,
                               VarianceParam variance_param) {
    auto column = [&](int64_t c) { return constants.column(c); };  // [B, 1]
    ag::GaussianHead head;
    if (mean_param == MeanParam::eps) head = {xt, column(Schedule::kEpsXt), column(Schedule::kEpsCoef), {}, {}, false};
    if (variance_param != VarianceParam::free) {
        head.low = column(Schedule::kLogPosteriorVar);
        head.high = column(Schedule::kLogBeta);
    }
    head.rotated = variance_param == VarianceParam::full;
    return head;
}

}  // namespace swirl::diffusion
