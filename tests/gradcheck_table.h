// The table of every differentiable function with the input shapes it is gradient-checked on; shared by the
// CPU gradcheck test and the CUDA parity tests.
#pragma once

#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/generator.h"

namespace swirl::test {

struct GradcheckCase {
    std::string function;    // the name declared in autograd/functions.h
    std::string description;
    std::vector<Shape> shapes;
    autograd::GradcheckFunction f;
    bool positive = false;   // draw inputs in [0.5, 2] (log, sqrt, div's denominator)
};

std::vector<GradcheckCase> gradcheck_table();
// Fresh float64 inputs for a case, on `device`.
std::vector<Tensor> draw_inputs(const GradcheckCase& c, Generator& gen, Device device = Device::cpu());

}  // namespace swirl::test
