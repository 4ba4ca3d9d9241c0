// Every differentiable function, gradient-checked in float64 on fresh random inputs of several shapes.
// The table below must name every function that autograd/functions.h declares: a test reads the header and
// fails if one is missing, so a new function cannot land without its gradient check.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
namespace ag = swirl::autograd;

namespace {

struct Case {
    std::string function;    // the name declared in autograd/functions.h
    std::string description;
    std::vector<Shape> shapes;
    GradcheckFunction f;
    bool positive = false;   // draw inputs in [0.5, 2] (log, sqrt, div's denominator)
};

std::vector<Case> gradcheck_table() {
    using V = std::vector<Variable>;
    const std::vector<std::pair<Shape, Shape>> broadcasts = {
        {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 4}, {1, 4}}, {{3, 4}, {3, 1}}, {{3, 4}, {}}, {{1, 4}, {3, 1}}, {{2}, {3, 2}}};
    std::vector<Case> table;
    for (const auto& [a, b] : broadcasts) {
        const std::string shapes = shape_str(a) + " and " + shape_str(b);
        table.push_back({"add", shapes, {a, b}, [](const V& in) { return ag::add(in[0], in[1]); }});
        table.push_back({"sub", shapes, {a, b}, [](const V& in) { return ag::sub(in[0], in[1]); }});
        table.push_back({"mul", shapes, {a, b}, [](const V& in) { return ag::mul(in[0], in[1]); }});
        table.push_back({"div", shapes, {a, b}, [](const V& in) { return ag::div(in[0], in[1]); }, true});
    }
    table.push_back({"scale", "[3, 4]", {{3, 4}}, [](const V& in) { return ag::scale(in[0], -1.7); }});
    table.push_back({"add_scalar", "[3, 4]", {{3, 4}}, [](const V& in) { return ag::add_scalar(in[0], 0.3); }});
    for (const Shape& shape : {Shape{5}, Shape{3, 4}}) {
        const std::string s = shape_str(shape);
        table.push_back({"neg", s, {shape}, [](const V& in) { return ag::neg(in[0]); }});
        table.push_back({"exp", s, {shape}, [](const V& in) { return ag::exp(in[0]); }});
        table.push_back({"log", s, {shape}, [](const V& in) { return ag::log(in[0]); }, true});
        table.push_back({"sqrt", s, {shape}, [](const V& in) { return ag::sqrt(in[0]); }, true});
        table.push_back({"square", s, {shape}, [](const V& in) { return ag::square(in[0]); }});
        table.push_back({"relu", s, {shape}, [](const V& in) { return ag::relu(in[0]); }});
    }
    table.push_back({"matmul", "[3, 4] @ [4, 2]", {{3, 4}, {4, 2}}, [](const V& in) { return ag::matmul(in[0], in[1]); }});
    table.push_back({"matmul", "[1, 3] @ [3, 1]", {{1, 3}, {3, 1}}, [](const V& in) { return ag::matmul(in[0], in[1]); }});
    for (const char* name : {"linear", "linear_relu"}) {
        const bool fused = std::string(name) == "linear_relu";
        auto f = [fused](const V& in) { return fused ? ag::linear_relu(in[0], in[1], in[2]) : ag::linear(in[0], in[1], in[2]); };
        table.push_back({name, "x [5, 3], weight [4, 3]", {{5, 3}, {4, 3}, {4}}, f});
        table.push_back({name, "x [2, 2], weight [6, 2]", {{2, 2}, {6, 2}, {6}}, f});
    }
    table.push_back({"sum", "all of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0]); }});
    table.push_back({"sum", "axis 0 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0], 0); }});
    table.push_back({"sum", "axis 1 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::sum(in[0], 1); }});
    table.push_back({"mean", "all of [3, 4]", {{3, 4}}, [](const V& in) { return ag::mean(in[0]); }});
    table.push_back({"mean", "axis 1 of [3, 4]", {{3, 4}}, [](const V& in) { return ag::mean(in[0], 1); }});
    table.push_back({"slice_cols", "cols [1, 3) of [3, 4]", {{3, 4}}, [](const V& in) { return ag::slice_cols(in[0], 1, 3); }});
    table.push_back({"chunk", "[3, 4] in 2, parts recombined", {{3, 4}}, [](const V& in) {
                         auto parts = ag::chunk(in[0], 2);
                         return ag::add(parts[0], ag::square(parts[1]));
                     }});
    table.push_back({"concat", "[3, 1], [3, 2], [3, 3]", {{3, 1}, {3, 2}, {3, 3}}, [](const V& in) { return ag::concat(in); }});
    table.push_back({"slice_rows", "rows [1, 3) of [4, 2]", {{4, 2}}, [](const V& in) { return ag::slice_rows(in[0], 1, 3); }});
    table.push_back({"concat_rows", "[1, 2], [3, 2]", {{1, 2}, {3, 2}}, [](const V& in) { return ag::concat_rows(in); }});
    table.push_back({"index_select", "rows 2, 0, 2 of [3, 2]", {{3, 2}}, [](const V& in) {
                         return ag::index_select(in[0], Tensor::from_indices({2, 0, 2}));
                     }});
    // Fan-out: one input used by several ops; its gradients must add up.
    table.push_back({"mul", "fan-out x*x + x", {{3, 4}}, [](const V& in) { return ag::add(ag::mul(in[0], in[0]), in[0]); }});
    table.push_back({"exp", "fan-out through a shared intermediate", {{4, 2}}, [](const V& in) {
                         Variable e = ag::exp(in[0]);
                         return ag::sum(ag::mul(e, ag::add(e, in[0])), 0);
                     }});
    return table;
}

std::vector<Tensor> draw_inputs(const Case& c, Generator& gen) {
    std::vector<Tensor> inputs;
    for (const Shape& shape : c.shapes) {
        Tensor x = c.positive ? Tensor::empty(shape, DType::f64) : Tensor::randn(shape, gen, DType::f64);
        if (c.positive) uniform_(x, gen, 0.5, 2.0);
        inputs.push_back(x);
    }
    return inputs;
}

// The names of the functions that autograd/functions.h declares (returning Variable or a vector of them).
std::set<std::string> declared_functions() {
    std::ifstream header(std::string(SWIRL_SOURCE_DIR) + "/autograd/functions.h");
    REQUIRE(header.good());
    const std::regex declaration(R"(^(?:Variable|std::vector<Variable>)\s+(\w+)\()");
    std::set<std::string> names;
    std::string line;
    std::smatch match;
    while (std::getline(header, line))
        if (std::regex_search(line, match, declaration)) names.insert(match[1]);
    return names;
}

}  // namespace

TEST_CASE("every differentiable function passes gradcheck on random float64 inputs of several shapes") {
    Generator gen(2015);
    for (const Case& c : gradcheck_table()) {
        CAPTURE(c.function);
        CAPTURE(c.description);
        const GradcheckReport report = gradcheck(c.f, draw_inputs(c, gen));
        CHECK_MESSAGE(report.ok, c.function << " (" << c.description << "): " << report.summary());
        CHECK(report.entries_checked > 0);
    }
}

TEST_CASE("the gradcheck table covers every function declared in autograd/functions.h") {
    const std::set<std::string> declared = declared_functions();
    REQUIRE(declared.size() >= 20);  // the header parse found the declarations
    std::set<std::string> covered;
    for (const Case& c : gradcheck_table()) covered.insert(c.function);
    for (const std::string& name : declared) CHECK_MESSAGE(covered.count(name) == 1, name << " has no gradcheck entry");
    for (const std::string& name : covered) CHECK_MESSAGE(declared.count(name) == 1, name << " is not declared");
}

TEST_CASE("gradcheck fails, naming the worst element, when a backward rule is wrong") {
    // square with a deliberately wrong rule: d(x^2)/dx = x instead of 2x.
    auto wrong_square = [](const std::vector<Variable>& in) {
        const Tensor x = in[0].data();
        return make_result("wrong_square", swirl::square(x), {in[0]},
                           [x](const Tensor& grad, InputGradients& inputs) { inputs.add(0, swirl::mul(grad, x)); });
    };
    Generator gen(4);
    const GradcheckReport report = gradcheck(wrong_square, {Tensor::randn({3, 2}, gen, DType::f64)});
    CHECK_FALSE(report.ok);
    CHECK(report.summary().find("FAILED") != std::string::npos);
    // The worst entry is diagonal (elementwise op) and its analytic value is half the numeric one.
    CHECK(report.input_element == report.output_element);
    CHECK(report.analytic == doctest::Approx(report.numeric / 2).epsilon(1e-4));
}

TEST_CASE("gradcheck refuses float32 inputs") {
    Generator gen(1);
    CHECK_THROWS_WITH_AS(gradcheck([](const std::vector<Variable>& in) { return autograd::exp(in[0]); },
                                   {Tensor::randn({2}, gen, DType::f32)}),
                         doctest::Contains("must be f64"), Error);
}
