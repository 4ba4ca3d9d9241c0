// A user's own gradient test, built against an installed swirl: gradcheck a custom composite function.
#include <cstdio>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/generator.h"

int main() {
    namespace ag = swirl::autograd;
    swirl::Generator gen(7);
    // softplus(x) = log(1 + exp(x)), written from swirl's primitives.
    auto softplus = [](const std::vector<swirl::Variable>& in) { return ag::log(ag::add_scalar(ag::exp(in[0]), 1.0)); };
    const auto report = swirl::autograd::gradcheck(softplus, {swirl::Tensor::randn({4, 3}, gen, swirl::DType::f64)});
    std::printf("%s\n", report.summary().c_str());
    return report.ok ? 0 : 1;
}
