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
    SWIRL_FAIL("unknown variance '{}': expected free or bounded", name);
}

const char* mean_param_name(MeanParam param) { return param == MeanParam::mean ? "mean" : "eps"; }
const char* variance_param_name(VarianceParam param) { return param == VarianceParam::free ? "free" : "bounded"; }

Variable ReverseStep::std() const { return ag::sqrt(ag::exp(log_var)); }

ReverseStep reverse_step(const Variable& out, const Variable& xt, const Variable& coefficients, MeanParam mean_param,
                         VarianceParam variance_param) {
    SWIRL_CHECK(out.data().rank() == 2 && xt.data().rank() == 2 && out.shape()[0] == xt.shape()[0] &&
                    out.shape()[1] == 2 * xt.shape()[1] && coefficients.data().rank() == 2 &&
                    coefficients.shape()[0] == xt.shape()[0] && coefficients.shape()[1] == Schedule::kColumns,
                "reverse_step: expected out [B, 2d], xt [B, d], coefficients [B, {}], got {}, {}, {}", Schedule::kColumns,
                shape_str(out.shape()), shape_str(xt.shape()), shape_str(coefficients.shape()));
    auto column = [&](int64_t c) { return ag::slice_cols(coefficients, c, c + 1); };  // [B, 1]
    const std::vector<Variable> halves = ag::chunk(out, 2);
    ReverseStep step;
    step.mean = mean_param == MeanParam::mean
                    ? halves[0]
                    : ag::sub(ag::mul(column(Schedule::kEpsXt), xt), ag::mul(column(Schedule::kEpsCoef), halves[0]));
    if (variance_param == VarianceParam::free) {
        step.log_var = halves[1];
    } else {
        const Variable low = column(Schedule::kLogPosteriorVar);
        step.log_var = ag::add(low, ag::mul(ag::sigmoid(halves[1]), ag::sub(column(Schedule::kLogBeta), low)));
    }
    return step;
}

}  // namespace swirl::diffusion
