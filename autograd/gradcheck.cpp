// gradcheck: full analytic Jacobian (one backward per output element) against central differences.
#include "autograd/gradcheck.h"

#include <cmath>

#include "tensor/error.h"

namespace swirl::autograd {

std::string GradcheckReport::summary() const {
    return fmt::format("gradcheck {}: {} Jacobian entries, worst d out[{}] / d input{}[{}]: analytic {:.10g}, "
                       "numeric {:.10g} (excess over tolerance {:.3g})",
                       ok ? "passed" : "FAILED", entries_checked, output_element, input, input_element, analytic,
                       numeric, excess);
}

namespace {

std::vector<Variable> make_leaves(const std::vector<std::vector<double>>& values, const std::vector<Tensor>& like) {
    std::vector<Variable> leaves;
    for (std::size_t i = 0; i < like.size(); ++i)
        leaves.emplace_back(Tensor::from_vector(values[i], like[i].shape(), DType::f64, like[i].device()), true);
    return leaves;
}

std::vector<double> evaluate(const GradcheckFunction& f, const std::vector<std::vector<double>>& values,
                             const std::vector<Tensor>& like) {
    NoGradGuard no_grad;
    return f(make_leaves(values, like)).data().to_vector();
}

}  // namespace

GradcheckReport gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
    std::vector<std::vector<double>> values;
    for (const Tensor& input : inputs) {
        SWIRL_CHECK(input.dtype() == DType::f64, "gradcheck: inputs must be f64, got {} {}", dtype_name(input.dtype()),
                    shape_str(input.shape()));
        values.push_back(input.to_vector());
    }
    const Variable probe = f(make_leaves(values, inputs));
    SWIRL_CHECK(probe.data().dtype() == DType::f64, "gradcheck: the function must return f64, got {}",
                dtype_name(probe.data().dtype()));
    const int64_t outputs = probe.data().numel();

    // analytic[i][e * outputs + o] = d out[o] / d input_i[e], one backward pass per output element.
    std::vector<std::vector<double>> analytic(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) analytic[i].assign(values[i].size() * outputs, 0.0);
    for (int64_t o = 0; o < outputs; ++o) {
        std::vector<Variable> leaves = make_leaves(values, inputs);
        Variable out = f(leaves);
        if (!out.requires_grad()) continue;  // the output does not depend on any input: all zeros
        std::vector<double> seed(static_cast<std::size_t>(outputs), 0.0);
        seed[static_cast<std::size_t>(o)] = 1.0;
        out.backward(Tensor::from_vector(seed, out.shape(), DType::f64, out.data().device()));
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (!leaves[i].grad().defined()) continue;
            const std::vector<double> grad = leaves[i].grad().to_vector();
            for (std::size_t e = 0; e < grad.size(); ++e) analytic[i][e * outputs + o] = grad[e];
        }
    }

    GradcheckReport report;
    report.excess = -INFINITY;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        for (std::size_t e = 0; e < values[i].size(); ++e) {
            const double original = values[i][e];
            values[i][e] = original + options.eps;
            const std::vector<double> plus = evaluate(f, values, inputs);
            values[i][e] = original - options.eps;
            const std::vector<double> minus = evaluate(f, values, inputs);
            values[i][e] = original;
            for (int64_t o = 0; o < outputs; ++o) {
                const double numeric = (plus[o] - minus[o]) / (2.0 * options.eps);
                const double exact = analytic[i][e * outputs + o];
                const double excess = std::abs(exact - numeric) - (options.atol + options.rtol * std::abs(numeric));
                ++report.entries_checked;
                // NaN never compares greater, so test it explicitly: a NaN anywhere is a failure.
                if (excess > report.excess || std::isnan(excess)) {
                    report.excess = std::isnan(excess) ? INFINITY : excess;
                    report.input = i;
                    report.input_element = static_cast<int64_t>(e);
                    report.output_element = o;
                    report.analytic = exact;
                    report.numeric = numeric;
                }
            }
        }
    }
    report.ok = report.entries_checked == 0 || report.excess <= 0.0;
    return report;
}

}  // namespace swirl::autograd
