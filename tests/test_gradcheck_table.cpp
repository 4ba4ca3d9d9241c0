// Every differentiable function, gradient-checked in float64 on fresh random inputs of several shapes.
// The table below must name every function that autograd/functions.h declares: a test reads the header and
// fails if one is missing, so a new function cannot land without its gradient check.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "gradcheck_table.h"
#include "helpers.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
namespace ag = swirl::autograd;

namespace {

// The names of the functions that autograd/functions.h declares (returning Variable or a vector of them).
std::set<std::string> declared_functions() {
    std::ifstream header(std::string(SWIRL_SOURCE_DIR) + "/autograd/functions.h");
    REQUIRE(header.good());
    // A declaration is a line that starts with the return type, then the name, then '('. (No std::regex: GCC 12
    // warns inside it under the sanitizers.)
    std::set<std::string> names;
    std::string line;
    while (std::getline(header, line)) {
        for (const std::string type : {"Variable ", "std::vector<Variable> "}) {
            if (line.rfind(type, 0) != 0) continue;
            const std::size_t open = line.find('(', type.size());
            if (open != std::string::npos) names.insert(line.substr(type.size(), open - type.size()));
        }
    }
    return names;
}

}  // namespace

TEST_CASE("every differentiable function passes gradcheck on random float64 inputs of several shapes") {
    Generator gen(2015);
    for (const test::GradcheckCase& c : test::gradcheck_table()) {
        CAPTURE(c.function);
        CAPTURE(c.description);
        const ag::GradcheckReport report = ag::gradcheck(c.f, test::draw_inputs(c, gen));
        CHECK_MESSAGE(report.ok, c.function << " (" << c.description << "): " << report.summary());
        CHECK(report.entries_checked > 0);
    }
}

TEST_CASE("every differentiable function runs in float32 and agrees with float64, forward and backward") {
    // The same inputs in both dtypes (the float64 draw rounded): outputs and input gradients to float32 precision.
    Generator gen(2016);
    for (const test::GradcheckCase& c : test::gradcheck_table()) {
        CAPTURE(c.function);
        CAPTURE(c.description);
        const std::vector<Tensor> inputs = test::draw_inputs(c, gen);
        std::vector<Tensor> outputs, gradients;
        for (DType dtype : {DType::f32, DType::f64}) {
            std::vector<Variable> leaves;
            for (const Tensor& t : inputs) leaves.emplace_back(t.to(DType::f32).to(dtype), true);
            Variable out = c.f(leaves);
            REQUIRE(out.data().dtype() == dtype);
            out.backward(Tensor::full(out.shape(), 1.0, dtype));
            outputs.push_back(out.data().to(DType::f64));
            for (const Variable& leaf : leaves) gradients.push_back(leaf.grad().to(DType::f64));
        }
        SWIRL_CHECK_CLOSE(outputs[0], outputs[1], 1e-4, 1e-5);
        const std::size_t n = inputs.size();
        for (std::size_t i = 0; i < n; ++i) SWIRL_CHECK_CLOSE(gradients[i], gradients[n + i], 1e-4, 1e-5);
    }
}

TEST_CASE("the gradcheck table covers every function declared in autograd/functions.h") {
    const std::set<std::string> declared = declared_functions();
    REQUIRE(declared.size() >= 20);  // the header parse found the declarations
    std::set<std::string> covered;
    for (const test::GradcheckCase& c : test::gradcheck_table()) covered.insert(c.function);
    for (const std::string& name : declared) CHECK_MESSAGE(covered.count(name) == 1, name << " has no gradcheck entry");
    for (const std::string& name : covered) CHECK_MESSAGE(declared.count(name) == 1, name << " is not declared");
}

TEST_CASE("gradcheck fails, naming the worst element, when a backward rule is wrong") {
    // square with a deliberately wrong rule: d(x^2)/dx = x instead of 2x.
    auto wrong_square = [](const std::vector<Variable>& in) {
        const Tensor x = in[0].data();
        return ag::make_result("wrong_square", swirl::square(x), {in[0]},
                           [x](const Tensor& grad, ag::InputGradients& inputs) { inputs.add(0, swirl::mul(grad, x)); });
    };
    Generator gen(4);
    const ag::GradcheckReport report = ag::gradcheck(wrong_square, {Tensor::randn({3, 2}, gen, DType::f64)});
    CHECK_FALSE(report.ok);
    CHECK(report.summary().find("FAILED") != std::string::npos);
    // The worst entry is diagonal (elementwise op) and its analytic value is half the numeric one.
    CHECK(report.input_element == report.output_element);
    CHECK(report.analytic == doctest::Approx(report.numeric / 2).epsilon(1e-4));
}

TEST_CASE("gradcheck refuses float32 inputs") {
    Generator gen(1);
    CHECK_THROWS_WITH_AS(ag::gradcheck([](const std::vector<Variable>& in) { return autograd::exp(in[0]); },
                                       {Tensor::randn({2}, gen, DType::f32)}),
                         doctest::Contains("must be f64"), Error);
}
