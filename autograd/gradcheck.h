// gradcheck: compares the analytic Jacobian that backward() computes with central finite differences, in float64,
// element by element, as torch.autograd.gradcheck does. Public API: write your own gradient tests with it.
//
//   auto report = autograd::gradcheck([](const std::vector<Variable>& in) { return exp(in[0]); },
//                                     {Tensor::randn({3, 2}, gen, DType::f64)});
//   CHECK_MESSAGE(report.ok, report.summary());
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace swirl::autograd {

struct GradcheckOptions {
    double eps = 1e-6;   // central-difference step
    double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|, for every element
    double rtol = 1e-3;
};

struct GradcheckReport {
    bool ok = true;
    // The worst Jacobian entry: d output[output_element] / d inputs[input][input_element].
    std::size_t input = 0;
    int64_t input_element = 0, output_element = 0;
    double analytic = 0.0, numeric = 0.0;
    double excess = 0.0;  // |analytic - numeric| - (atol + rtol |numeric|); > 0 fails
    int64_t entries_checked = 0;
    std::string summary() const;  // one line: pass/fail, the worst entry, both values
};

using GradcheckFunction = std::function<Variable(const std::vector<Variable>&)>;

// `inputs` must be f64 (any device); every input gets requires_grad. f is called once per output element for
// the analytic Jacobian and twice per input element for the numeric one, so keep the inputs small.
GradcheckReport gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace swirl::autograd
